"""Efficient inference and 3D and scenes name more of their tasks (KV cache, early exit, sparse
attention, model compression; occupancy, view synthesis, 4D generation, surface reconstruction,
triplanes), with the spellings they lean on as synonyms, and Image generation leaves out papers
whose title names video, speech, audio or music (measured by bench/relevance.py).

A topic is revised only while it is exactly as 0002, 0011 or 0015 left it: an editor's change
wins. The other starting topics are as 0015 left them.
"""

import importlib

from django.db import migrations

FIRST = importlib.import_module("newsletter.migrations.0002_starting_topics").STARTING_TOPICS
SECOND = importlib.import_module("newsletter.migrations.0011_revised_starting_topics")
THIRD = importlib.import_module("newsletter.migrations.0015_sharper_starting_topics")

REVISED = {
    "image-generation": (
        "Image generation", "image-generation", "Text-to-image, editing, personalisation.",
        THIRD.STARTING_TOPICS[1][3] + " -title:video -title:speech -title:audio -title:music",
        [], True),
    "efficient-inference": (
        "Efficient inference", "efficient-inference", "Distillation, quantisation, fast sampling.",
        'distillation OR quantization OR pruning OR acceleration OR speedup OR "speed up"~1 '
        'OR efficient OR "inference cost"~1 OR "inference speed"~1 OR "fast sampling"~1 '
        'OR one-step OR few-step OR "linear attention"~1 OR linear-time OR token-merging '
        'OR caching OR speculative-decoding OR low-bit OR kv-cache OR early-exit '
        'OR sparse-attention OR sparsity OR model-compression -sds -score-distillation -vq '
        '-sample-efficient -query-efficient -parameter-efficient -data-efficient',
        [], True),
    "3d": (
        "3D and scenes", "3d", "3D generation, Gaussian splatting, NeRF, reconstruction.",
        '"3d generation"~1 OR "3d reconstruction"~1 OR "3d scene"~1 OR "3d shape"~1 '
        'OR "3d asset"~1 OR "3d content"~1 OR "3d object"~1 OR "3d human"~1 OR "3d pose"~1 '
        'OR "3d avatar"~1 OR "3d gaussian"~1 OR occupancy OR text-to-3d OR image-to-3d '
        'OR "gaussian splatting"~1 OR nerf OR "radiance field"~1 OR "novel view"~1 '
        'OR view-synthesis OR point-cloud OR mesh OR scene-reconstruction OR "4d generation"~1 '
        'OR multi-view-diffusion OR surface-reconstruction OR triplane',
        [], True),
}  # fmt: skip

# (name, slug, description, query, categories, demand a strong match); the slugs never change.
STARTING_TOPICS = [REVISED.get(row[1], tuple(row)) for row in THIRD.STARTING_TOPICS]

# (phrase, also finds, both ways): the spellings the revised queries leave to synonyms.
NEW_SYNONYMS = [
    ("KV cache", "key-value cache", True),
    ("speedup", "speed-up", True),
    ("one-step", "single-step", True),
    ("linear-time", "linear complexity", True),
    ("triplane", "tri-plane", True),
    ("4DGS", "4d gaussian splatting", True),
]
STARTING_SYNONYMS = [*THIRD.STARTING_SYNONYMS, *NEW_SYNONYMS]


def _state(topic):
    return (topic.name, topic.slug, topic.description, topic.query, list(topic.categories),
            topic.require_strong_match)  # fmt: skip


def _shipped_versions(slug):
    first = {row[1]: (*row, False) for row in FIRST}
    second = {row[1]: tuple(row) for row in SECOND.STARTING_TOPICS}
    third = {row[1]: tuple(row) for row in THIRD.STARTING_TOPICS}
    return [first[slug], second[slug], third[slug]]


def _save(topic, row):
    topic.name, _slug, topic.description, topic.query, topic.categories, strong = row
    topic.require_strong_match = strong
    topic.save(update_fields=["name", "description", "query", "categories",
                              "require_strong_match", "updated_at"])  # fmt: skip


def revise_topics(apps, schema_editor):
    Topic = apps.get_model("newsletter", "Topic")
    for slug, row in REVISED.items():
        topic = Topic.objects.filter(slug=slug).first()
        if topic is None or _state(topic) not in [tuple(v) for v in _shipped_versions(slug)]:
            continue  # an editor changed (or removed) it: theirs stands
        _save(topic, row)


def restore_topics(apps, schema_editor):
    Topic = apps.get_model("newsletter", "Topic")
    third = {row[1]: tuple(row) for row in THIRD.STARTING_TOPICS}
    for slug, row in REVISED.items():
        topic = Topic.objects.filter(slug=slug).first()
        if topic is None or _state(topic) != tuple(row):
            continue
        _save(topic, third[slug])


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
        ("newsletter", "0020_followups_and_their_preferences"),
    ]

    operations = [
        migrations.RunPython(revise_topics, restore_topics),
        migrations.RunPython(add_synonyms, remove_synonyms),
    ]
