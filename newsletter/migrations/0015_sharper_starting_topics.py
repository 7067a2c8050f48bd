"""Starting topics that demand strong matches where passing mentions hurt, with exclusions for
the other meanings of their words (measured by bench/relevance.py), and more starting synonyms.

A topic is revised only while it is exactly as 0002 or 0011 left it: an editor's change wins.
"""

import importlib

from django.db import migrations, models

FIRST = importlib.import_module("newsletter.migrations.0002_starting_topics").STARTING_TOPICS
SECOND = importlib.import_module("newsletter.migrations.0011_revised_starting_topics")

# (name, slug, description, query, categories, demand a strong match); the slugs never change.
STARTING_TOPICS = [
    ("Diffusion models", "diffusion-models", "Denoising diffusion, score models, flow matching.",
     'diffusion OR "score-based"~1 OR "score matching"~ OR "flow matching"~1 OR "rectified flow"~1 '
     'OR "consistency model"~1 OR ddpm OR ddim OR dit',
     [], True),
    ("Image generation", "image-generation", "Text-to-image, editing, personalisation.",
     '"image generation"~1 OR "image synthesis"~1 OR text-to-image OR "image editing"~1 '
     'OR image-to-image OR inpainting OR "style transfer"~1 OR virtual-try-on '
     'OR layout-to-image OR subject-driven OR "personalized generation"~ '
     'OR "visual generation"~1 OR "image generator"~1 OR "diffusion transformer"~1',
     [], True),
    ("Video generation", "video-generation", "Text-to-video and image-to-video models.",
     '"video generation"~ OR "video synthesis"~ OR text-to-video OR image-to-video '
     'OR "video diffusion"~ OR "video editing"~ OR "talking head"~ OR "portrait animation"~ '
     'OR "image animation"~ OR "human animation"~',
     [], True),
    ("3D and scenes", "3d", "3D generation, Gaussian splatting, NeRF, reconstruction.",
     '"3d generation"~1 OR "3d reconstruction"~1 OR "3d scene"~1 OR "3d shape"~1 '
     'OR "3d asset"~1 OR "3d content"~1 OR "3d object"~1 OR "3d human"~1 OR "3d pose"~1 '
     'OR "3d occupancy"~1 OR text-to-3d OR image-to-3d OR "gaussian splatting"~1 OR nerf '
     'OR "radiance field"~1 OR "novel view"~1 OR "point cloud"~1 OR mesh '
     'OR "scene reconstruction"~',
     [], True),
    ("Large language models", "llms", "Training, alignment and evaluation of LLMs.",
     'llm OR "language model"~1 OR "instruction tuning"~ OR rlhf OR "chain of thought"~1 '
     '-"image generation"~1 -text-to-image -"image synthesis"~1',
     [], True),
    ("Agents", "agents", "LLM agents, tool use and planning.",
     '"agentic" OR "llm agent"~2 OR "language agent"~1 OR "ai agent"~1 OR "autonomous agent"~1 '
     'OR "agent framework"~1 OR "multi-agent system"~1 OR "tool use"~1 OR "tool calling"~1',
     ["cs.AI", "cs.CL", "cs.LG", "cs.MA"], False),
    ("Robotics", "robotics", "Manipulation, embodied AI, robot learning.",
     'robot OR embodied OR humanoid OR "diffusion policy"~1 OR "imitation learning"~1 '
     'OR grasping OR visuomotor',
     [], True),
    ("Multimodal models", "multimodal", "Vision-language models and multimodal LLMs.",
     'vision-language OR vlm OR mllm OR lvlm OR "multimodal llm"~1 '
     'OR "multimodal understanding"~1 OR "visual question answering"~ OR vqa '
     'OR "unified multimodal"~1',
     [], True),
    ("Efficient inference", "efficient-inference", "Distillation, quantisation, fast sampling.",
     'distillation OR distilled OR quantization OR pruning OR acceleration OR speedup '
     'OR "speed up"~1 OR efficient OR "inference cost"~1 OR "inference speed"~1 '
     'OR "fast sampling"~1 OR one-step OR few-step OR single-step OR "linear attention"~1 '
     'OR linear-time OR "linear complexity"~1 OR "token merging"~1 OR caching '
     'OR "speculative decoding"~ OR "low-bit" -sds -score-distillation -vq '
     '-sample-efficient -query-efficient -parameter-efficient -data-efficient',
     [], True),
    ("Computer vision (all)", "cs-cv", "Every paper listed in cs.CV.", "", ["cs.CV"], False),
]  # fmt: skip

# (phrase, also finds, both ways): more abbreviations and spellings, editable in admin.
STARTING_SYNONYMS = [
    *SECOND.STARTING_SYNONYMS,
    ("SDS", "score distillation sampling", True),
    ("VQ", "vector quantization", True),
    ("NVS", "novel view synthesis", True),
    ("KD", "knowledge distillation", True),
    ("LoRA", "low-rank adaptation", True),
    ("MoE", "mixture of experts", True),
    ("CoT", "chain of thought", True),
    ("RAG", "retrieval-augmented generation", True),
    ("TTS", "text-to-speech", True),
    ("V2V", "video-to-video", True),
    ("ViT", "vision transformer", True),
    ("modelling", "modeling", True),
    ("grey", "gray", True),
]
NEW_SYNONYMS = STARTING_SYNONYMS[len(SECOND.STARTING_SYNONYMS) :]


def _state(topic):
    return (topic.name, topic.slug, topic.description, topic.query, list(topic.categories),
            topic.require_strong_match)  # fmt: skip


def _untouched(topic, *versions):
    return any(_state(topic) == tuple(version) for version in versions)


def revise_topics(apps, schema_editor):
    Topic = apps.get_model("newsletter", "Topic")
    first = {row[1]: (*row, False) for row in FIRST}
    second = {row[1]: tuple(row) for row in SECOND.STARTING_TOPICS}
    for name, slug, description, query, categories, strong in STARTING_TOPICS:
        topic = Topic.objects.filter(slug=slug).first()
        if topic is None or not _untouched(topic, first[slug], second[slug]):
            continue  # an editor changed (or removed) it: theirs stands
        topic.name, topic.description, topic.query = name, description, query
        topic.categories, topic.require_strong_match = categories, strong
        topic.save(update_fields=["name", "description", "query", "categories",
                                  "require_strong_match", "updated_at"])  # fmt: skip


def restore_topics(apps, schema_editor):
    Topic = apps.get_model("newsletter", "Topic")
    second = {row[1]: row for row in SECOND.STARTING_TOPICS}
    for row in STARTING_TOPICS:
        topic = Topic.objects.filter(slug=row[1]).first()
        if topic is None or not _untouched(topic, row):
            continue
        name, _slug, description, query, categories, strong = second[row[1]]
        topic.name, topic.description, topic.query = name, description, query
        topic.categories, topic.require_strong_match = categories, strong
        topic.save()


def add_synonyms(apps, schema_editor):
    Synonym = apps.get_model("newsletter", "Synonym")
    for phrase, also_finds, both_ways in NEW_SYNONYMS:
        Synonym.objects.get_or_create(
            phrase=phrase, also_finds=also_finds, defaults={"both_ways": both_ways}
        )


def remove_synonyms(apps, schema_editor):
    Synonym = apps.get_model("newsletter", "Synonym")
    for phrase, also_finds, both_ways in NEW_SYNONYMS:
        Synonym.objects.filter(phrase=phrase, also_finds=also_finds, both_ways=both_ways).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("newsletter", "0014_reader_ratings_and_imported_papers"),
    ]

    operations = [
        migrations.AlterField(
            model_name="topic",
            name="require_strong_match",
            field=models.BooleanField(
                default=False,
                help_text="Only papers that name the topic in their title or their abstract's "
                "opening words, or mention it three times or more; a passing mention stays out "
                "of the preview, the topic page and feed, and the email.",
                verbose_name="demand a strong match",
            ),
        ),
        migrations.RunPython(revise_topics, restore_topics),
        migrations.RunPython(add_synonyms, remove_synonyms),
    ]
