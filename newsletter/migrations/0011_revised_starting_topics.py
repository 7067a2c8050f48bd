"""Starting topics rewritten for word forms, task names and abbreviations (measured by
bench/relevance.py), the starting synonyms they lean on, and editors' rights to synonyms.

A topic is rewritten only while it is exactly as 0002 created it: an editor's change wins.
"""

import importlib

from django.db import migrations

FIRST = importlib.import_module("newsletter.migrations.0002_starting_topics").STARTING_TOPICS

# (name, slug, description, query, categories, demand a strong match); the slugs never change.
STARTING_TOPICS = [
    ("Diffusion models", "diffusion-models", "Denoising diffusion, score models, flow matching.",
     'diffusion OR "score-based"~1 OR "score matching"~ OR "flow matching"~1 OR "rectified flow"~1 '
     'OR "consistency model"~1 OR ddpm OR ddim OR dit',
     [], True),
    ("Image generation", "image-generation", "Text-to-image, editing, personalisation.",
     '"image generation"~ OR "image synthesis"~ OR text-to-image OR "image editing"~ '
     'OR image-to-image OR inpainting OR "style transfer"~1 OR virtual-try-on '
     'OR "layout-to-image" OR "subject-driven" OR "personalized generation"~ '
     'OR "visual generation"~1',
     [], False),
    ("Video generation", "video-generation", "Text-to-video and image-to-video models.",
     '"video generation"~ OR "video synthesis"~ OR text-to-video OR image-to-video '
     'OR "video diffusion"~ OR "video editing"~ OR "talking head"~ OR "portrait animation"~ '
     'OR "image animation"~ OR "human animation"~',
     [], False),
    ("3D and scenes", "3d", "3D generation, Gaussian splatting, NeRF, reconstruction.",
     '"3d generation"~1 OR "3d reconstruction"~1 OR "3d scene"~1 OR "3d shape"~1 '
     'OR "3d asset"~1 OR "3d content"~1 OR "3d object"~1 OR "3d human"~1 OR "3d pose"~1 '
     'OR "3d occupancy"~1 OR text-to-3d OR image-to-3d OR "gaussian splatting"~1 OR nerf '
     'OR "radiance field"~1 OR "novel view"~1 OR "point cloud"~1 OR mesh '
     'OR "scene reconstruction"~',
     [], False),
    ("Large language models", "llms", "Training, alignment and evaluation of LLMs.",
     'llm OR "language model"~1 OR "instruction tuning"~ OR rlhf OR "chain of thought"~1',
     ["cs.CL", "cs.LG", "cs.AI"], True),
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
     'distillation OR quantization OR pruning OR acceleration OR speedup OR "speed up"~1 '
     'OR "efficient inference"~1 OR "inference cost"~1 OR "inference speed"~1 '
     'OR "fast sampling"~1 OR one-step OR few-step OR single-step OR "linear attention"~1 '
     'OR "token merging"~1 OR caching OR "speculative decoding"~ OR "low-bit" '
     '-"score distillation"',
     [], False),
    ("Computer vision (all)", "cs-cv", "Every paper listed in cs.CV.", "", ["cs.CV"], False),
]  # fmt: skip

# (phrase, also finds, both ways): abbreviations, spellings and the other names of a thing.
STARTING_SYNONYMS = [
    ("T2I", "text-to-image", True),
    ("T2V", "text-to-video", True),
    ("I2V", "image-to-video", True),
    ("I2I", "image-to-image", True),
    ("3DGS", "gaussian splatting", True),
    ("NeRF", "neural radiance field", True),
    ("LLM", "large language model", True),
    ("VLM", "vision-language model", True),
    ("MLLM", "multimodal large language model", True),
    ("multimodal", "multi-modal", True),
    ("DiT", "diffusion transformer", True),
    ("PTQ", "post-training quantization", True),
    ("VTON", "virtual try-on", True),
    ("colour", "color", True),
    ("behaviour", "behavior", True),
    ("centre", "center", True),
]

EDITOR_SYNONYM_ACTIONS = ["view", "add", "change", "delete"]


def _as_first(topic):
    return (topic.name, topic.slug, topic.description, topic.query, list(topic.categories))


def revise_topics(apps, schema_editor):
    Topic = apps.get_model("newsletter", "Topic")
    first = {row[1]: row for row in FIRST}
    for name, slug, description, query, categories, strong in STARTING_TOPICS:
        topic = Topic.objects.filter(slug=slug).first()
        if topic is None or _as_first(topic) != tuple(first[slug]):
            continue  # an editor changed (or removed) it: theirs stands
        topic.name, topic.description, topic.query = name, description, query
        topic.categories, topic.require_strong_match = categories, strong
        topic.save(update_fields=["name", "description", "query", "categories",
                                  "require_strong_match", "updated_at"])  # fmt: skip


def restore_topics(apps, schema_editor):
    Topic = apps.get_model("newsletter", "Topic")
    revised = {row[1]: row for row in STARTING_TOPICS}
    for name, slug, description, query, categories in FIRST:
        topic = Topic.objects.filter(slug=slug).first()
        if topic is None or _as_first(topic) != tuple(revised[slug][:5]):
            continue
        topic.name, topic.description, topic.query = name, description, query
        topic.categories, topic.require_strong_match = categories, False
        topic.save()


def add_synonyms(apps, schema_editor):
    Synonym = apps.get_model("newsletter", "Synonym")
    for phrase, also_finds, both_ways in STARTING_SYNONYMS:
        Synonym.objects.get_or_create(
            phrase=phrase, also_finds=also_finds, defaults={"both_ways": both_ways}
        )
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    editors = Group.objects.filter(name="Editors").first()
    if editors is None:
        return
    content_type, _ = ContentType.objects.get_or_create(app_label="newsletter", model="synonym")
    for action in EDITOR_SYNONYM_ACTIONS:
        permission, _ = Permission.objects.get_or_create(
            content_type=content_type,
            codename=f"{action}_synonym",
            defaults={"name": f"Can {action} synonym"},
        )
        editors.permissions.add(permission)


def remove_synonyms(apps, schema_editor):
    Synonym = apps.get_model("newsletter", "Synonym")
    for phrase, also_finds, both_ways in STARTING_SYNONYMS:
        Synonym.objects.filter(phrase=phrase, also_finds=also_finds, both_ways=both_ways).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("newsletter", "0010_synonyms_and_strong_matches"),
    ]

    operations = [
        migrations.RunPython(revise_topics, restore_topics),
        migrations.RunPython(add_synonyms, remove_synonyms),
    ]
