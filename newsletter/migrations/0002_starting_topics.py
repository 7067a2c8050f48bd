"""The curated topics Paperboy starts with; editors change them in admin afterwards."""

from django.db import migrations

STARTING_TOPICS = [
    ("Diffusion models", "diffusion-models", "Denoising diffusion, score models, flow matching.",
     'diffusion OR "score-based" OR "flow matching"', []),
    ("Image generation", "image-generation", "Text-to-image, editing, personalisation.",
     '"image generation" OR "text-to-image" OR "image editing" OR "image synthesis"', []),
    ("Video generation", "video-generation", "Text-to-video and image-to-video models.",
     '"video generation" OR "text-to-video" OR "image-to-video" OR "video diffusion"', []),
    ("3D and scenes", "3d", "3D generation, Gaussian splatting, NeRF, reconstruction.",
     '3d OR nerf OR "gaussian splatting" OR "novel view"', []),
    ("Large language models", "llms", "Training, alignment and evaluation of LLMs.",
     'llm OR llms OR "language model" OR "language models"', ["cs.CL", "cs.LG", "cs.AI"]),
    ("Agents", "agents", "LLM agents, tool use and planning.",
     'agent OR agents OR agentic', ["cs.AI", "cs.CL", "cs.LG"]),
    ("Robotics", "robotics", "Manipulation, embodied AI, robot learning.",
     'robot OR robotic OR manipulation OR embodied', []),
    ("Multimodal models", "multimodal", "Vision-language models and multimodal LLMs.",
     'multimodal OR "vision-language" OR vlm OR mllm', []),
    ("Efficient inference", "efficient-inference", "Distillation, quantisation, fast sampling.",
     'distillation OR quantization OR acceleration OR "efficient inference"', []),
    ("Computer vision (all)", "cs-cv", "Every paper listed in cs.CV.", "", ["cs.CV"]),
]


def create_topics(apps, schema_editor):
    Topic = apps.get_model("newsletter", "Topic")
    for position, (name, slug, description, query, categories) in enumerate(STARTING_TOPICS):
        Topic.objects.get_or_create(
            slug=slug,
            defaults={
                "name": name,
                "description": description,
                "query": query,
                "categories": categories,
                "position": position * 10,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("newsletter", "0001_initial")]

    operations = [migrations.RunPython(create_topics, migrations.RunPython.noop)]
