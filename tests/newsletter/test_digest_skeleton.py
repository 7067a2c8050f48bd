"""A digest is filled into skeletons rendered once per shape, its MIME made from parts whose
quoted-printable form is cached, its links signed with one HMAC each: each gives what the
slow way it replaces gives (the same text and HTML, MIME that decodes to them, links that
open the same pages, old links included)."""

from __future__ import annotations

import base64
import datetime as dt
import re
import time

import pytest
from django.core import signing as django_signing
from django.template import engines

from newsletter.digests import render
from newsletter.digests.cards import CardMaker, paper_card, why_text
from newsletter.models import Subscriber
from newsletter.ratings import ReaderRatingLinks, rating_links
from newsletter.rendering import Skeleton, render_email, skeleton, slot
from newsletter.signing import (
    MAX_AGE,
    BadToken,
    Purpose,
    address_tag,
    make_token,
    read_token,
)
from papers.models import Paper

TUESDAY = dt.date(2025, 3, 25)


def cards(count: int, *, language: str = "en") -> list:
    maker = CardMaker()
    made = []
    for n in range(count):
        paper = Paper(
            pk=n + 1,
            arxiv_id=f"2503.{n:05d}",
            title=f"Paper {n} on <diffusion> & “video”",
            abstract="Long abstract words " * (10 + n),
            authors=["Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra"][: n % 4 + 1],
            categories=["cs.CV", "cs.LG"],
            announced_on=TUESDAY,
            code_url="https://github.com/a/b?x=1&y=2" if n % 2 else "",
            hf_upvotes=n * 7,
            is_featured=n == 0,
            editor_note="Worth a read." if n == 1 else "",
            ai_summary="A summary <b>in</b> short." if n % 3 == 0 else "",
        )
        reasons = [
            {"kind": "topic", "label": "Diffusion", "words": ["diffusion"], "strength": "strong"}
        ]
        feedback = rating_links(
            subscriber_id=7, email="r@example.com", paper_id=n + 1, absolute=True
        )
        made.append(
            maker.card(
                paper_card(paper),
                why_text(reasons, language=language),
                feedback,
                language=language,
            )
        )
    return made


def digest(*, language="en", frequency="daily", count=3, more_count=0, digest_id=11, **extra):
    reader = Subscriber(pk=7, email="r@example.com", language=language, frequency=frequency)
    shown = cards(count, language=language)
    return render.render_digest(
        subscriber=reader,
        edition_on=TUESDAY,
        cards=shown,
        items=[(n + 1, [{"kind": "topic", "label": "Diffusion"}]) for n in range(count)],
        matched_count=count + more_count,
        more_count=more_count,
        message_id="<d.11@example.org>",
        digest_id=digest_id,
        covers=(TUESDAY - dt.timedelta(days=6), TUESDAY),
        **extra,
    )


SHAPES = {
    "a daily digest": {},
    "more papers on the web": {"more_count": 4},
    "one more paper": {"more_count": 1},
    "a weekly digest": {"frequency": "weekly", "more_count": 2},
    "in Chinese": {"language": "zh-hans", "more_count": 3},
    "one card": {"count": 1},
    "no web view (a dry run's sample)": {"digest_id": None},
    "fifty long cards, cut to 98 KB": {"count": 50},
}


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_a_digest_filled_from_its_skeletons_is_what_its_templates_render(
    shape, monkeypatch, frozen_clock
):
    filled = digest(**shape)
    monkeypatch.setattr(render, "_filled", lambda context: render_email("digest", context))

    rendered = digest(**shape)

    assert filled.subject == rendered.subject
    assert filled.text == rendered.text
    assert filled.html == rendered.html
    assert filled.cards_in_email == rendered.cards_in_email
    assert "".join(part for part, _shared in filled.html_parts) == filled.html
    assert "".join(part for part, _shared in filled.text_parts) == filled.text


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_a_digests_size_as_sent_is_measured_the_same_from_its_parts(shape, frozen_clock):
    filled = digest(**shape)

    from_parts = render.html_size_as_sent(filled.html, parts=filled.html_parts)
    again = render.html_size_as_sent(filled.html, parts=filled.html_parts)  # shared: cached

    wire = filled.html.replace("\r\n", "\n").replace("\n", "\r\n").encode()
    assert from_parts == again == render.html_size_as_sent(filled.html) == len(wire)


def test_a_line_break_split_across_two_parts_is_counted_once():
    parts = [("<p>a\r", True), ("\nb</p>\n", False)]

    size = render.html_size_as_sent("<p>a\r\nb</p>\n", parts=parts)

    assert size == len(b"<p>a\r\nb</p>\r\n")


def test_each_shape_of_digest_is_rendered_once_and_then_only_filled(frozen_clock):
    render._body_skeletons_cached.cache_clear()

    for _ in range(3):
        digest(more_count=4)

    assert render._body_skeletons_cached.cache_info().misses == 1
    assert render._body_skeletons_cached.cache_info().hits == 2


def test_a_skeleton_joins_a_lists_items_with_what_the_template_puts_between_them():
    template = engines["django"].from_string(
        "<{{ title }}>{% for card in cards %}{% if not forloop.first %}, {% endif %}"
        "[{{ card }}]{% endfor %}."
    )
    made = skeleton(template, {"title": slot("title"), "cards": [slot("cards.0"), slot("cards.1")]})

    assert made == Skeleton(("<", "title", ">[", "cards", "]."), {"cards": "], ["})
    assert made.fill({"title": "T", "cards": ["a", "b", "c"]}) == "<T>[a], [b], [c]."
    assert made.parts({"title": "T", "cards": ["a", [("b", True), ("!", False)]]}) == [
        ("<", True),
        ("T", False),
        (">[", True),
        ("a", False),
        ("], [", True),
        ("b", True),
        ("!", False),
        ("].", True),
    ]


def old_style_token(purpose: Purpose, payload: dict[str, object]) -> str:
    """A link as this site signed it before tokens were compact."""
    return django_signing.TimestampSigner(salt=f"paperboy.{purpose}").sign_object(
        payload, compress=True
    )


@pytest.mark.parametrize("purpose", list(Purpose))
def test_a_link_signed_the_old_way_still_opens_for_its_own_address(purpose, frozen_clock):
    tag = address_tag("r@example.com")
    token = old_style_token(purpose, {"id": 123456, "a": tag, "p": 4567})

    claims = read_token(token, purpose=purpose)

    assert (claims.subject_id, claims.paper_id) == (123456, 4567)
    assert claims.names("R@example.com") and not claims.names("x@example.com")
    assert claims.issued_at == int(time.time())
    other = next(p for p in Purpose if p != purpose)
    with pytest.raises(BadToken):
        read_token(token, purpose=other)


@pytest.mark.parametrize("purpose", [p for p, age in MAX_AGE.items() if age is not None])
def test_a_link_signed_the_old_way_dies_when_its_purpose_says(purpose, frozen_clock):
    token = old_style_token(purpose, {"id": 5, "a": address_tag("r@example.com")})

    frozen_clock.shift(MAX_AGE[purpose] + dt.timedelta(seconds=1))

    with pytest.raises(BadToken):
        read_token(token, purpose=purpose)


@pytest.mark.parametrize("purpose", [p for p, age in MAX_AGE.items() if age is not None])
def test_a_compact_link_opens_until_its_purposes_age_and_dies_after(purpose, frozen_clock):
    token = make_token(purpose=purpose, subject_id=5, email="r@example.com")

    frozen_clock.shift(MAX_AGE[purpose])
    assert read_token(token, purpose=purpose).subject_id == 5
    frozen_clock.shift(dt.timedelta(seconds=1))

    with pytest.raises(BadToken):
        read_token(token, purpose=purpose)


def test_a_compact_token_is_short_url_safe_and_shows_no_address():
    token = make_token(
        purpose=Purpose.RATE, subject_id=123456, email="alice@example.org", paper_id=4567
    )

    assert re.fullmatch(r"[A-Za-z0-9_-]{40,48}", token)
    assert b"alice" not in base64.urlsafe_b64decode(token + "==")


def test_the_cards_of_one_email_share_a_second_but_each_paper_has_its_own_token():
    links = ReaderRatingLinks(subscriber_id=7, email="r@example.com")

    first, second = links.links(1), links.links(2)

    assert first.up_url != second.up_url
    assert read_token(token_of(first.up_url), purpose=Purpose.RATE).paper_id == 1
    assert read_token(token_of(second.down_url), purpose=Purpose.RATE).paper_id == 2


def token_of(url: str) -> str:
    return url.split("?")[0].rstrip("/").rsplit("/", 1)[1]


def test_a_token_made_under_a_rotated_secret_key_still_opens(settings):
    old = make_token(purpose=Purpose.MANAGE, subject_id=3, email="r@example.com")
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-new-secret-key", [settings.SECRET_KEY]

    new = make_token(purpose=Purpose.MANAGE, subject_id=3, email="r@example.com")

    assert new != old
    assert read_token(old, purpose=Purpose.MANAGE).subject_id == 3
    assert read_token(new, purpose=Purpose.MANAGE).subject_id == 3
    assert read_token(old, purpose=Purpose.MANAGE).names("r@example.com")
    assert read_token(new, purpose=Purpose.MANAGE).names("r@example.com")
