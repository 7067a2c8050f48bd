"""Which papers a digest holds: coverage windows, any-of matching, reader preferences, the
ranking, the reasons on each card, "never twice", and one evaluation per distinct filter."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from newsletter import paper_index
from newsletter.digests import ranking
from newsletter.digests.building import (
    BuildResult,
    digests_build,
    id_ranges,
    plan_digests,
    unsaved_plans,
)
from newsletter.digests.editions import due_subscriber_ids, local_edition
from newsletter.models import Digest, DigestItem, Subscriber
from newsletter.paper_index import PaperWindow
from newsletter.selectors import subscription_paper_ids
from papers.models import Paper
from tests.factories import (
    DigestFactory,
    DigestItemFactory,
    PaperFactory,
    SubscriberFactory,
    TopicFactory,
)

pytestmark = pytest.mark.django_db

TUESDAY = dt.date(2025, 3, 25)
MONDAY = dt.date(2025, 3, 24)


def build(*subscribers: Subscriber, on: dt.date = TUESDAY) -> BuildResult:
    return digests_build(subscriber_ids=[s.pk for s in subscribers], edition_on=on)


def digest_papers(subscriber: Subscriber, *, on: dt.date = TUESDAY, in_email: bool | None = None):
    """The digest's papers in rank order: the email's, then the "more" page's."""
    items = DigestItem.objects.filter(digest__subscriber=subscriber, digest__edition_on=on)
    email = [item.paper for item in items.order_by("rank").select_related("paper")]
    digest = Digest.objects.filter(subscriber=subscriber, edition_on=on).first()
    more_ids = digest.more_paper_ids if digest else []
    more_papers = Paper.objects.in_bulk(more_ids)
    more = [more_papers[pk] for pk in more_ids]
    return {True: email, False: more, None: email + more}[in_email]


def diffusion_reader(**fields) -> Subscriber:
    return SubscriberFactory(topics=[TopicFactory(query="diffusion")], **fields)


# --- Coverage windows ---------------------------------------------------------------------


def test_first_daily_digest_covers_only_the_latest_announcement_day():
    older = PaperFactory(title="Diffusion older", announced_on=TUESDAY - dt.timedelta(days=3))
    latest = PaperFactory(title="Diffusion latest", announced_on=TUESDAY - dt.timedelta(days=1))
    reader = diffusion_reader()

    build(reader)

    digest = Digest.objects.get(subscriber=reader)
    assert (digest.covers_from, digest.covers_to) == (latest.announced_on, latest.announced_on)
    assert digest_papers(reader) == [latest]
    assert older not in digest_papers(reader)


def test_next_daily_digest_covers_every_day_since_the_previous_one():
    reader = diffusion_reader()
    DigestFactory(
        subscriber=reader,
        edition_on=TUESDAY - dt.timedelta(days=3),
        covers_from=TUESDAY - dt.timedelta(days=3),
        covers_to=TUESDAY - dt.timedelta(days=3),
        status=Digest.Status.SENT,
    )
    covered = PaperFactory(title="Diffusion covered", announced_on=TUESDAY - dt.timedelta(days=3))
    missed = [
        PaperFactory(title="Diffusion missed", announced_on=TUESDAY - dt.timedelta(days=n))
        for n in (2, 1, 0)
    ]

    build(reader)

    assert set(digest_papers(reader)) == set(missed)
    assert covered not in digest_papers(reader)


def test_a_digest_never_reaches_back_more_than_seven_days():
    reader = diffusion_reader()
    DigestFactory(
        subscriber=reader,
        edition_on=TUESDAY - dt.timedelta(days=30),
        covers_from=TUESDAY - dt.timedelta(days=30),
        covers_to=TUESDAY - dt.timedelta(days=30),
    )
    too_old = PaperFactory(title="Diffusion", announced_on=TUESDAY - dt.timedelta(days=7))
    oldest_kept = PaperFactory(title="Diffusion", announced_on=TUESDAY - dt.timedelta(days=6))

    build(reader)

    assert digest_papers(reader) == [oldest_kept]
    assert too_old not in digest_papers(reader)


def test_a_weekly_digest_covers_the_last_seven_days():
    week = [
        PaperFactory(title="Diffusion", announced_on=MONDAY - dt.timedelta(days=n))
        for n in range(7)
    ]
    PaperFactory(title="Diffusion", announced_on=MONDAY - dt.timedelta(days=7))
    reader = diffusion_reader(frequency=Subscriber.Frequency.WEEKLY)

    build(reader, on=MONDAY)

    assert set(digest_papers(reader, on=MONDAY)) == set(week)


def test_papers_announced_after_a_digest_was_built_go_into_the_next_one():
    reader = diffusion_reader()
    monday_paper = PaperFactory(title="Diffusion", announced_on=MONDAY)
    build(reader, on=TUESDAY)  # Tuesday's listing is not out yet when this reader wakes up
    tuesday_paper = PaperFactory(title="Diffusion late", announced_on=TUESDAY)

    build(reader, on=TUESDAY + dt.timedelta(days=1))

    assert digest_papers(reader, on=TUESDAY) == [monday_paper]
    assert digest_papers(reader, on=TUESDAY + dt.timedelta(days=1)) == [tuesday_paper]


# --- What matches ---------------------------------------------------------------------------


def test_a_paper_is_in_when_any_topic_or_the_own_filter_or_an_author_matches():
    by_topic = PaperFactory(title="Video generation at scale", categories=["cs.CV"])
    by_query = PaperFactory(title="Protein folding", abstract="A protein model.")
    by_author = PaperFactory(title="Unrelated", authors=["Kaiming He"])
    nothing = PaperFactory(title="Graph theory", abstract="Graphs.", categories=["math.CO"])
    day = by_topic.announced_on
    reader = SubscriberFactory(
        topics=[TopicFactory(query='"video generation"')],
        own_query="protein",
        authors=["kaiming he"],
    )

    build(reader, on=day)

    assert set(digest_papers(reader, on=day)) == {by_topic, by_query, by_author}
    assert nothing not in digest_papers(reader, on=day)


def test_own_query_and_categories_both_have_to_match():
    in_category = PaperFactory(title="Diffusion for images", categories=["cs.CV"])
    elsewhere = PaperFactory(title="Diffusion of heat", categories=["physics.flu-dyn"])
    category_only = PaperFactory(title="Segmentation", categories=["cs.CV"])
    reader = SubscriberFactory(own_query="diffusion", categories=["cs.CV"])

    build(reader, on=in_category.announced_on)

    assert digest_papers(reader, on=in_category.announced_on) == [in_category]
    assert {elsewhere, category_only}.isdisjoint(digest_papers(reader, on=in_category.announced_on))


def test_categories_alone_take_every_paper_in_them():
    vision = PaperFactory(title="Anything", categories=["cs.CV"])
    PaperFactory(title="Other", categories=["math.CO"])
    reader = SubscriberFactory(categories=["cs.CV"])

    build(reader, on=vision.announced_on)

    assert digest_papers(reader, on=vision.announced_on) == [vision]


def test_a_topic_with_query_and_categories_needs_both():
    both = PaperFactory(title="Language model agents", categories=["cs.CL"])
    PaperFactory(title="Language model for proteins", categories=["q-bio.BM"])
    reader = SubscriberFactory(
        topics=[TopicFactory(query='"language model"', categories=["cs.CL"])]
    )

    build(reader, on=both.announced_on)

    assert digest_papers(reader, on=both.announced_on) == [both]


def test_hidden_papers_never_reach_a_digest():
    shown = PaperFactory(title="Diffusion shown")
    hidden = PaperFactory(title="Diffusion hidden", is_hidden=True)
    reader = diffusion_reader()

    build(reader, on=shown.announced_on)

    assert digest_papers(reader, on=shown.announced_on) == [shown]
    assert hidden not in digest_papers(reader, on=shown.announced_on)


def test_cross_lists_stay_out_for_readers_who_decline_them():
    new = PaperFactory(title="Diffusion new")
    cross = PaperFactory(title="Diffusion cross", announce_type=Paper.AnnounceType.CROSS)
    declines = diffusion_reader(include_cross_lists=False)
    accepts = diffusion_reader(include_cross_lists=True)

    build(declines, accepts, on=new.announced_on)

    assert digest_papers(declines, on=new.announced_on) == [new]
    assert set(digest_papers(accepts, on=new.announced_on)) == {new, cross}


def test_revised_versions_are_ignored_by_default_and_sent_to_readers_who_ask():
    new = PaperFactory(title="Diffusion new")
    revised = PaperFactory(title="Diffusion v2", announce_type=Paper.AnnounceType.REPLACE)
    default_reader = diffusion_reader()
    wants_revisions = diffusion_reader(include_revisions=True)

    build(default_reader, wants_revisions, on=new.announced_on)

    assert digest_papers(default_reader, on=new.announced_on) == [new]
    assert set(digest_papers(wants_revisions, on=new.announced_on)) == {new, revised}


def test_a_paper_already_sent_is_never_sent_again_even_when_announced_again():
    paper = PaperFactory(title="Diffusion", announced_on=MONDAY)
    reader = diffusion_reader(include_revisions=True)
    build(reader, on=MONDAY)
    Paper.objects.filter(pk=paper.pk).update(
        announced_on=TUESDAY, announce_type=Paper.AnnounceType.REPLACE, latest_version=2
    )
    other = PaperFactory(title="Diffusion other", announced_on=TUESDAY)

    build(reader, on=TUESDAY)

    assert digest_papers(reader, on=MONDAY) == [paper]
    assert digest_papers(reader, on=TUESDAY) == [other]
    assert DigestItem.objects.filter(subscriber=reader, paper=paper).count() == 1


def test_papers_sent_weeks_ago_are_never_sent_again_when_announced_again_among_newer_ones():
    reader = diffusion_reader(include_revisions=True)
    long_ago = TUESDAY - dt.timedelta(days=40)
    earlier = DigestFactory(subscriber=reader, edition_on=long_ago, status=Digest.Status.SENT)
    sent_then = []
    for _ in range(10):  # ids far apart: more ranges of ids than one lookup reads
        sent_then.append(PaperFactory(title="Diffusion", announced_on=long_ago))
        DigestItemFactory(digest=earlier, paper=sent_then[-1])
        PaperFactory.create_batch(3, title="Unrelated", announced_on=long_ago)
    Paper.objects.filter(pk__in=[paper.pk for paper in sent_then]).update(
        announced_on=TUESDAY, announce_type=Paper.AnnounceType.REPLACE, latest_version=2
    )
    new = PaperFactory(title="Diffusion new", announced_on=TUESDAY)

    build(reader, on=TUESDAY)

    assert digest_papers(reader, on=TUESDAY) == [new]


@given(st.sets(st.integers(min_value=1, max_value=10_000), max_size=60), st.integers(1, 10))
def test_id_ranges_cover_every_id_in_at_most_so_many_ranges(ids, most):
    ranges = id_ranges(ids, most=most)

    assert len(ranges) <= most
    assert all(any(low <= n <= high for low, high in ranges) for n in ids)
    assert all(low in ids and high in ids for low, high in ranges)
    assert all(a[1] < b[0] for a, b in itertools.pairwise(ranges))  # sorted, apart


# --- Ranking, top N, reasons --------------------------------------------------------------


# Words enough that a mention after them is past the abstract's opening.
OPENING = "We study a problem that many readers of this field will know well and care about. "


def test_featured_first_then_strong_matches_before_passing_mentions_then_upvotes():
    passing = PaperFactory(title="A method", abstract=OPENING + "We use diffusion.", hf_upvotes=50)
    title_hit = PaperFactory(title="Diffusion for all", abstract="Words.", hf_upvotes=0)
    title_hit_trending = PaperFactory(title="Diffusion again", abstract="Words.", hf_upvotes=80)
    repeated = PaperFactory(
        title="A sampler",
        abstract=OPENING + "Diffusion, diffused and diffusing samplers.",
        hf_upvotes=10,
    )
    featured = PaperFactory(title="Plain", abstract="diffusion inside", is_featured=True)
    reader = diffusion_reader()

    build(reader, on=featured.announced_on)

    assert digest_papers(reader, on=featured.announced_on) == [
        featured,
        title_hit_trending,
        repeated,
        title_hit,
        passing,
    ]


def test_a_paper_on_an_earlier_more_page_never_comes_back_even_when_announced_again():
    shown = PaperFactory(title="Diffusion A", hf_upvotes=9, announced_on=MONDAY)
    on_more_page = PaperFactory(title="Diffusion B", announced_on=MONDAY)
    reader = diffusion_reader(max_papers=1, include_revisions=True)
    build(reader, on=MONDAY)
    assert digest_papers(reader, on=MONDAY, in_email=False) == [on_more_page]
    # A new version puts it in Tuesday's window, where the reader takes revisions.
    Paper.objects.filter(pk=on_more_page.pk).update(
        announced_on=TUESDAY, announce_type=Paper.AnnounceType.REPLACE, latest_version=2
    )
    later = PaperFactory(title="Diffusion C", announced_on=TUESDAY)

    build(reader, on=TUESDAY)

    assert digest_papers(reader, on=MONDAY) == [shown, on_more_page]
    assert digest_papers(reader, on=TUESDAY) == [later]


def test_papers_matching_more_of_a_readers_topics_rank_higher():
    one = PaperFactory(title="Diffusion alone")
    two = PaperFactory(title="Diffusion video")
    reader = SubscriberFactory(
        topics=[TopicFactory(query="diffusion"), TopicFactory(query="video")]
    )

    build(reader, on=one.announced_on)

    assert digest_papers(reader, on=one.announced_on) == [two, one]


def test_the_email_keeps_the_top_n_and_the_rest_goes_to_the_more_page():
    papers = [PaperFactory(title=f"Diffusion {n}", hf_upvotes=n) for n in range(7)]
    reader = diffusion_reader(max_papers=3)

    build(reader, on=papers[0].announced_on)

    digest = Digest.objects.get(subscriber=reader)
    day = papers[0].announced_on
    assert digest_papers(reader, on=day, in_email=True) == papers[6:3:-1]
    assert digest_papers(reader, on=day, in_email=False) == papers[3::-1]
    assert (digest.paper_count, digest.more_count, digest.matched_count) == (3, 4, 7)


def test_the_more_page_is_capped_but_the_count_says_how_many_matched(monkeypatch):
    monkeypatch.setattr(ranking, "MORE_PAGE_LIMIT", 2)
    papers = [PaperFactory(title=f"Diffusion {n}") for n in range(6)]
    reader = diffusion_reader(max_papers=1)

    build(reader, on=papers[0].announced_on)

    digest = Digest.objects.get(subscriber=reader)
    assert (digest.paper_count, digest.more_count, digest.matched_count) == (1, 2, 6)
    assert DigestItem.objects.filter(digest=digest).count() == 1
    assert len(digest.more_paper_ids) == 2


def test_a_digest_takes_the_matches_with_the_best_paper_score_plus_reader_part(monkeypatch):
    monkeypatch.setattr(ranking, "MORE_PAGE_LIMIT", 3)
    words = ["diffusion", "video", "graph", "robot"]
    papers = [
        PaperFactory(
            title=f"{words[n % 4].title()} study {n}" if n % 3 else f"Study {n}",
            abstract=f"We use {words[n % 4]} and {words[(n * 7) % 4]}.",
            categories=["cs.CV"] if n % 2 else ["cs.LG"],
            authors=["Ada Lovelace"] if n % 5 == 0 else ["Alan Turing"],
            hf_upvotes=(n * 37) % 11,
            is_featured=n % 13 == 0,
        )
        for n in range(40)
    ]
    day = papers[0].announced_on
    topics = [TopicFactory(query=word) for word in words]
    readers = [
        SubscriberFactory(topics=topics[:2], max_papers=2),
        SubscriberFactory(topics=topics[1:], own_query="study", max_papers=4),
        SubscriberFactory(topics=[topics[0]], categories=["cs.CV"], authors=["Ada Lovelace"]),
        SubscriberFactory(categories=["cs.LG"], max_papers=1),
    ]

    seen = []
    real_rule_order = ranking.rule_order

    def rule_order(matches, columns):
        seen.append((matches, columns))
        return real_rule_order(matches, columns)

    monkeypatch.setattr(ranking, "rule_order", rule_order)
    plans = unsaved_plans(subscriber_ids=[r.pk for r in readers], edition_on=day)

    for plan, (matches, columns) in zip(plans, seen, strict=True):
        place = {int(pid): n for n, pid in enumerate(columns.paper_ids)}

        def key(pid, matches=matches, columns=columns, place=place):
            mine = ranking.reader_score(
                strong_hit=pid in matches.strong_hits,
                text_hit=pid in matches.text_hits,
                author_hit=pid in matches.author_hits,
                agreeing_filters=matches.agreeing.get(pid, 0),
            )
            n = place[pid]
            return bool(columns.not_featured[n]), -(columns.score[n] + mine), columns.tie_break[n]

        best = sorted(matches.paper_ids, key=key)
        assert [item.paper_id for item in plan.items] == best[: len(plan.items)]
        assert len(plan.items) == min(len(best), plan.subscriber.max_papers + 3)
    assert all(plan.matched_count > len(plan.items) > 1 for plan in plans)


def test_each_item_records_the_topics_and_words_that_matched():
    paper = PaperFactory(
        title="Text-to-image diffusion", abstract="Flow matching too.", authors=["Ada Lovelace"]
    )
    reader = SubscriberFactory(
        topics=[
            TopicFactory(name="Generative diffusion", query='diffusion OR "flow matching"'),
            TopicFactory(name="Vision", query="", categories=["cs.CV"]),
        ],
        own_query='"text-to-image"',
        authors=["Ada Lovelace"],
    )

    build(reader, on=paper.announced_on)

    item = DigestItem.objects.get(subscriber=reader, paper=paper)
    assert item.reasons == [
        {
            "kind": "topic",
            "label": "Generative diffusion",
            "words": ["diffusion", "flow matching"],
            "strength": "strong",
        },
        {"kind": "topic", "label": "Vision"},
        {"kind": "query", "label": "", "words": ["text to image"], "strength": "strong"},
        {"kind": "author", "label": "Ada Lovelace"},
    ]


def test_a_runs_window_remembers_matched_words_within_a_bound_and_still_answers_right(
    monkeypatch,
):
    monkeypatch.setattr(paper_index, "MATCHED_WORDS_KEPT", 2)
    papers = [PaperFactory(title=f"Diffusion number {n}", abstract="Text.") for n in range(5)]
    base = PaperWindow.load(since=papers[0].announced_on, until=papers[0].announced_on)
    window = PaperWindow(since=base.since, until=base.until, index=base.index, facts=base.facts)
    query, ids = window.filter_matches(query="diffusion", categories=[])

    for _round in range(2):
        for paper in papers:
            assert window.matched_words(query, paper.pk) == (("diffusion",), "strong")
            assert len(window._words) <= 2
    assert sorted(ids) == sorted(paper.pk for paper in papers)


# --- Rows, once ---------------------------------------------------------------------------


def test_an_empty_digest_is_recorded_as_skipped():
    PaperFactory(title="Graphs", abstract="Nothing relevant.")
    reader = diffusion_reader()

    result = build(reader, on=timezone.localdate())

    digest = Digest.objects.get(subscriber=reader)
    assert digest.status == Digest.Status.SKIPPED_EMPTY
    assert (result.built, result.skipped, result.digest_ids) == (0, 1, [])
    assert not DigestItem.objects.filter(digest=digest).exists()


def test_building_again_builds_nothing_more_and_returns_the_unsent_digest():
    paper = PaperFactory(title="Diffusion")
    reader = diffusion_reader()
    first = build(reader, on=paper.announced_on)

    second = build(reader, on=paper.announced_on)

    assert (first.built, second.built) == (1, 0)
    assert second.digest_ids == first.digest_ids
    assert Digest.objects.filter(subscriber=reader).count() == 1
    reader.refresh_from_db()
    assert reader.last_digest_on == paper.announced_on


def test_readers_who_are_not_active_get_no_digest():
    paper = PaperFactory(title="Diffusion")
    paused = diffusion_reader(status=Subscriber.Status.PAUSED)
    pending = diffusion_reader(status=Subscriber.Status.PENDING)

    result = build(paused, pending, on=paper.announced_on)

    assert (result.built, result.skipped) == (0, 0)
    assert not Digest.objects.exists()


def test_message_id_is_derived_from_the_digests_identity(settings):
    settings.SITE_HOST = "papers.example.org"
    paper = PaperFactory(title="Diffusion")
    reader = diffusion_reader()

    build(reader, on=paper.announced_on)

    digest = Digest.objects.get(subscriber=reader)
    expected = f"<digest.{paper.announced_on:%Y%m%d}.{reader.pk}@papers.example.org>"
    assert digest.message_id == expected


# --- Scale: distinct filters once, constant queries -------------------------------------------


def test_each_distinct_filter_is_evaluated_once_per_run():
    PaperFactory(title="Diffusion video", categories=["cs.CV"])
    diffusion, video = TopicFactory(query="diffusion"), TopicFactory(query="video")
    readers = [
        SubscriberFactory(topics=[diffusion, video], own_query=spelling, categories=["cs.CV"])
        for spelling in ["video  diffusion", "Video diffusion", "video diffusion"] * 10
    ]
    day = timezone.localdate()

    digests_build(subscriber_ids=[r.pk for r in readers[:15]], edition_on=day)
    digests_build(subscriber_ids=[r.pk for r in readers[15:]], edition_on=day)

    window = next(iter(paper_index._window_cache.values()))
    assert window.filter_evaluations == 3  # two topics and one own filter, for 30 readers
    assert Digest.objects.filter(status=Digest.Status.PENDING).count() == 30


def test_building_a_chunk_takes_the_same_queries_for_ten_or_fifty_readers(
    django_assert_max_num_queries,
):
    PaperFactory(title="Diffusion video")
    topic = TopicFactory(query="diffusion")
    few = [SubscriberFactory(topics=[topic], own_query="video") for _ in range(10)]
    many = [SubscriberFactory(topics=[topic], authors=["Ada"]) for _ in range(50)]
    day = timezone.localdate()
    digests_build(subscriber_ids=[few[0].pk], edition_on=day)  # warm the index

    # 14, one more for the chunk's reader models (newsletter.recommend), one for follow-ups
    with django_assert_max_num_queries(16) as few_queries:
        digests_build(subscriber_ids=[s.pk for s in few[1:]], edition_on=day)
    with django_assert_max_num_queries(16) as many_queries:
        digests_build(subscriber_ids=[s.pk for s in many], edition_on=day)

    assert len(few_queries.captured_queries) == len(many_queries.captured_queries)


def test_the_digest_matches_what_the_signup_preview_promises():
    papers = [
        PaperFactory(title="Diffusion video", categories=["cs.CV"]),
        PaperFactory(title="Language model agents", categories=["cs.CL"], authors=["Ada Lovelace"]),
        PaperFactory(title="Graph diffusion", categories=["math.CO"]),
        PaperFactory(title="Robots", categories=["cs.RO"]),
    ]
    topics = [TopicFactory(query="diffusion", categories=["cs.CV"]), TopicFactory(query="robots")]
    choices = [
        {"topics": topics[:1], "own_query": "", "categories": [], "authors": []},
        {"topics": [], "own_query": "diffusion", "categories": ["math.CO"], "authors": []},
        {"topics": topics[1:], "own_query": "", "categories": ["cs.CL"], "authors": []},
        {"topics": [], "own_query": "", "categories": [], "authors": ["Ada Lovelace"]},
    ]
    readers = [SubscriberFactory(**choice) for choice in choices]
    day = papers[0].announced_on
    index = PaperWindow.load(since=day - dt.timedelta(days=7), until=day).index

    plans = plan_digests(subscribers=readers, editions={r.pk: day for r in readers})

    for plan, choice in zip(plans, choices, strict=True):
        promised = subscription_paper_ids(
            topics=choice["topics"],
            query=choice["own_query"],
            categories=choice["categories"],
            authors=choice["authors"],
            index=index,
        )
        assert {item.paper_id for item in plan.items} == promised


# --- Who is due -----------------------------------------------------------------------------


def test_readers_are_due_once_their_local_send_hour_has_come():
    now = dt.datetime(2025, 3, 25, 6, 5, tzinfo=dt.UTC)  # 07:05 in Berlin, 02:05 in New York
    berlin = SubscriberFactory(time_zone="Europe/Berlin", send_hour_local=7)
    early_berlin = SubscriberFactory(time_zone="Europe/Berlin", send_hour_local=5)
    new_york = SubscriberFactory(time_zone="America/New_York", send_hour_local=7)
    late = SubscriberFactory(time_zone="Europe/Berlin", send_hour_local=8)

    due = set(due_subscriber_ids(now=now))

    assert due == {berlin.pk, early_berlin.pk}
    assert {new_york.pk, late.pk}.isdisjoint(due)


def test_a_reader_whose_edition_is_built_is_not_due_again_that_day():
    now = dt.datetime(2025, 3, 25, 9, 5, tzinfo=dt.UTC)
    done = SubscriberFactory(send_hour_local=7, last_digest_on=dt.date(2025, 3, 25))
    yesterday = SubscriberFactory(send_hour_local=7, last_digest_on=dt.date(2025, 3, 24))

    assert list(due_subscriber_ids(now=now)) == [yesterday.pk]
    assert done.pk not in list(due_subscriber_ids(now=now))


def test_weekly_readers_are_due_on_mondays_only():
    monday = dt.datetime(2025, 3, 24, 9, 5, tzinfo=dt.UTC)
    weekly = SubscriberFactory(send_hour_local=7, frequency=Subscriber.Frequency.WEEKLY)

    assert list(due_subscriber_ids(now=monday)) == [weekly.pk]
    assert list(due_subscriber_ids(now=monday + dt.timedelta(days=1))) == []


def test_a_run_builds_each_readers_edition_for_their_local_date():
    run_at = dt.datetime(2025, 3, 25, 23, 30, tzinfo=dt.UTC)
    PaperFactory(title="Diffusion", announced_on=dt.date(2025, 3, 25))
    tokyo = diffusion_reader(time_zone="Asia/Tokyo")
    utc = diffusion_reader(time_zone="UTC")

    digests_build(subscriber_ids=[tokyo.pk, utc.pk], run_at=run_at)

    assert Digest.objects.get(subscriber=tokyo).edition_on == dt.date(2025, 3, 26)
    assert Digest.objects.get(subscriber=utc).edition_on == dt.date(2025, 3, 25)


def test_an_unknown_time_zone_counts_as_utc():
    assert local_edition(
        at=dt.datetime(2025, 3, 25, 23, 30, tzinfo=dt.UTC), time_zone="Mars/Olympus"
    ) == dt.date(2025, 3, 25)


def test_a_digest_item_cannot_repeat_a_paper_for_a_reader():
    item = DigestItemFactory()
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        DigestItemFactory(
            digest=DigestFactory(subscriber=item.subscriber, edition_on=TUESDAY),
            subscriber=item.subscriber,
            paper=item.paper,
        )
