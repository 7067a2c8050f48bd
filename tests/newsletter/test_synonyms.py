"""Editors' synonyms: refused when they would match nothing or everything or loop, applied to
every query once saved, and the starting topics rewritten only where editors left them."""

from __future__ import annotations

import importlib

import pytest
from django.core.exceptions import ValidationError

from newsletter import synonyms
from newsletter.matching import IndexedPaper, PaperIndex, parse_query
from newsletter.models import Synonym, Topic
from newsletter.synonyms import Rule, check_synonym

pytestmark = pytest.mark.django_db


def refusal(rule: Rule, others=(), index=None) -> str:
    with pytest.raises(ValidationError) as caught:
        check_synonym(rule=rule, others=list(others), index=index)
    return " ".join(caught.value.messages)


def test_a_plain_abbreviation_is_accepted():
    check_synonym(rule=Rule("SDXL", "stable diffusion xl", True), others=[])


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (Rule("(…)", "text-to-image", True), "would match nothing"),
        (Rule("images", "image", True), "would add nothing"),
        (Rule("T2I", "the", True), "nearly every abstract"),
        (Rule('"T2I"', "text-to-image", True), "plain words"),
        (Rule("T2I", "a OR b", True), "plain words"),
    ],
)
def test_synonyms_that_match_nothing_or_everything_are_refused(rule, message):
    assert message in refusal(rule)


def test_a_synonym_in_most_recent_papers_is_refused_with_the_count():
    index = PaperIndex.build(
        IndexedPaper(n, f"Paper {n}", "We benchmark things." if n % 2 else "") for n in range(60)
    )

    assert "in 30 of the 60 recent papers" in refusal(Rule("T2I", "benchmark", True), index=index)


def test_a_one_way_synonym_that_loops_back_is_refused():
    others = [Rule("beta", "gamma", False), Rule("gamma", "alpha", False)]

    assert "would loop back" in refusal(Rule("alpha", "beta", False), others)
    assert "add nothing" in refusal(Rule("alpha", "beta", False), [Rule("alpha", "beta", True)])


def test_the_admin_refuses_a_looping_synonym_and_saves_nothing(admin_client):
    Synonym.objects.create(phrase="inpainting", also_finds="image editing", both_ways=False)
    before = Synonym.objects.count()

    response = admin_client.post(
        "/admin/newsletter/synonym/add/",
        {"phrase": "image editing", "also_finds": "inpainting", "note": ""},
    )

    assert response.status_code == 200
    assert "would loop back" in response.content.decode()
    assert Synonym.objects.count() == before


def test_a_saved_synonym_applies_to_queries_parsed_afterwards(admin_client):
    index = PaperIndex.build([IndexedPaper(1, "SDXL rocks", "")])
    assert not index.search(parse_query("stable-diffusion-xl"))

    response = admin_client.post(
        "/admin/newsletter/synonym/add/",
        {"phrase": "SDXL", "also_finds": "stable diffusion xl", "both_ways": "on", "note": ""},
    )

    assert response.status_code == 302
    synonyms.synonyms_changed()  # the admin does this on commit; tests run inside a transaction
    assert index.search(parse_query("stable-diffusion-xl")) == {1}


def test_the_starting_synonyms_are_shipped():
    assert Synonym.objects.filter(phrase="T2I", also_finds="text-to-image").exists()
    assert parse_query("t2i").positive_terms[0].synonyms == (("text", "to", "image"),)


def test_only_topics_editors_left_alone_are_rewritten(django_db_blocker):
    revision = importlib.import_module("newsletter.migrations.0011_revised_starting_topics")
    from django.apps import apps

    Topic.objects.filter(slug="3d").update(query="3d OR nerf")  # an editor's own
    Topic.objects.filter(slug="diffusion-models").update(
        query='diffusion OR "score-based" OR "flow matching"'
    )

    revision.revise_topics(apps, None)

    assert Topic.objects.get(slug="3d").query == "3d OR nerf"
    diffusion = Topic.objects.get(slug="diffusion-models")
    assert diffusion.query == revision.STARTING_TOPICS[0][3]
    assert diffusion.require_strong_match is True
    assert set(Topic.objects.values_list("slug", flat=True)) >= {row[1] for row in revision.FIRST}


def test_the_sharper_topics_replace_only_the_shipped_versions_editors_left_alone():
    sharper = importlib.import_module("newsletter.migrations.0015_sharper_starting_topics")
    from django.apps import apps

    second = {row[1]: row for row in sharper.SECOND.STARTING_TOPICS}
    first = {row[1]: row for row in sharper.FIRST}
    Topic.objects.filter(slug="video-generation").update(
        query=second["video-generation"][3], require_strong_match=second["video-generation"][5]
    )
    Topic.objects.filter(slug="efficient-inference").update(
        query=first["efficient-inference"][3],
        categories=first["efficient-inference"][4],
        require_strong_match=False,
    )
    Topic.objects.filter(slug="llms").update(  # 0011's query, and an editor's choice of strength
        query=second["llms"][3], categories=second["llms"][4], require_strong_match=False
    )

    sharper.revise_topics(apps, None)

    revised = {row[1]: row for row in sharper.STARTING_TOPICS}
    video = Topic.objects.get(slug="video-generation")
    assert (video.query, video.require_strong_match) == (revised["video-generation"][3], True)
    efficient = Topic.objects.get(slug="efficient-inference")
    assert efficient.query == revised["efficient-inference"][3]
    llms = Topic.objects.get(slug="llms")
    assert (llms.query, llms.require_strong_match) == (second["llms"][3], False)


def test_the_sharper_synonyms_are_shipped_and_exclusions_use_them():
    assert Synonym.objects.filter(phrase="SDS", also_finds="score distillation sampling").exists()
    index = PaperIndex.build(
        [
            IndexedPaper(1, "Fast 3D", "We distill with score distillation sampling."),
            IndexedPaper(2, "Fast images", "We distill a sampler into one step."),
        ]
    )

    assert index.search(parse_query("distill -sds")) == {2}


def test_the_task_names_replace_only_the_shipped_versions_editors_left_alone():
    task_names = importlib.import_module(
        "newsletter.migrations.0021_task_names_and_title_exclusions"
    )
    from django.apps import apps

    second = {row[1]: row for row in task_names.SECOND.STARTING_TOPICS}
    third = {row[1]: row for row in task_names.THIRD.STARTING_TOPICS}
    Topic.objects.filter(slug="efficient-inference").update(  # as 0011 left it
        query=second["efficient-inference"][3], require_strong_match=False
    )
    Topic.objects.filter(slug="3d").update(query="3d OR nerf")  # an editor's own

    task_names.revise_topics(apps, None)

    efficient = Topic.objects.get(slug="efficient-inference")
    assert (efficient.query, efficient.require_strong_match) == (
        task_names.REVISED["efficient-inference"][3],
        True,
    )
    assert Topic.objects.get(slug="3d").query == "3d OR nerf"
    assert Topic.objects.get(slug="video-generation").query == third["video-generation"][3]


def test_undoing_the_task_names_restores_0015s_queries_where_editors_left_them():
    task_names = importlib.import_module(
        "newsletter.migrations.0021_task_names_and_title_exclusions"
    )
    from django.apps import apps

    third = {row[1]: row for row in task_names.THIRD.STARTING_TOPICS}
    Topic.objects.filter(slug="3d").update(query="3d OR nerf")

    task_names.restore_topics(apps, None)

    assert Topic.objects.get(slug="efficient-inference").query == third["efficient-inference"][3]
    assert Topic.objects.get(slug="3d").query == "3d OR nerf"


def test_the_shipped_topics_find_task_names_and_keep_false_friends_out():
    assert Synonym.objects.filter(phrase="KV cache", also_finds="key-value cache").exists()
    index = PaperIndex.build(
        [
            IndexedPaper(1, "Occupancy world models for driving", "We forecast the scene."),
            IndexedPaper(2, "3D U-Net segmentation of CT volumes", "A 3D U-Net for organs."),
            IndexedPaper(3, "Triplane decoders", "Tri-plane features for 4D generation."),
            IndexedPaper(4, "Serving LLMs", "Compressing the key-value cache halves latency."),
            IndexedPaper(5, "Early-exit transformers", "Layers stop when confident."),
            IndexedPaper(6, "Sample-efficient RL", "Fewer environment steps."),
            IndexedPaper(7, "Long video generation", "A text-to-image model makes keyframes."),
            IndexedPaper(8, "Text-to-image in 8 steps", "Images from prompts."),
        ]
    )
    three_d = Topic.objects.get(slug="3d")
    efficient = Topic.objects.get(slug="efficient-inference")
    images = Topic.objects.get(slug="image-generation")

    assert index.search(parse_query(three_d.query), strong_only=True) == {1, 3}
    assert index.search(parse_query(efficient.query), strong_only=True) == {4, 5}
    assert index.search(parse_query(images.query), strong_only=True) == {8}
