"""The sign-up form refuses bad input field by field, and nothing is stored for it."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from newsletter.forms import SignupForm, normalise_email
from newsletter.models import Subscriber
from tests.factories import TopicFactory
from tests.newsletter.subscription_helpers import signup_data

pytestmark = pytest.mark.django_db


def test_a_valid_form_gives_validated_preferences():
    topic = TopicFactory()
    form = SignupForm(
        signup_data(
            email="  Ada.Lovelace@EXAMPLE.Org ",
            topics=[topic.pk],
            own_query='"text-to-image" diffusion -survey',
            categories="cs.CV, cs.LG cs.CV",
            authors="Ada Lovelace, Alan Turing",
        )
    )

    assert form.is_valid(), form.errors
    preferences = form.preferences()
    assert form.cleaned_data["email"] == "Ada.Lovelace@example.org"
    assert preferences.filters.topics == (topic,)
    assert preferences.filters.own_query == '"text-to-image" diffusion -survey'
    assert preferences.filters.categories == ("cs.CV", "cs.LG")
    assert preferences.filters.authors == ("Ada Lovelace", "Alan Turing")
    assert preferences.time_zone == "Europe/Berlin"
    assert preferences.send_hour_local == 7


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("not-an-address", "not a valid email address"),
        ("reader@example.com\r\nBcc: victim@example.org", "on one line"),
        ("reader@example.com\nBcc:x@y.z", "on one line"),
        ("a" * 65 + "@example.com", "too long"),
        ("reader@" + "d" * 63 + "." + "e" * 63 + "." + "f" * 63 + "." + "g" * 60 + ".com", ""),
        ("rëader@example.com", "not a valid email address"),
        ("reader@localhost", "not a valid email address"),
    ],
)
def test_bad_addresses_are_refused_next_to_the_field(address, message):
    form = SignupForm(signup_data(email=address))

    assert not form.is_valid()
    assert list(form.errors) == ["email"]
    assert message in " ".join(form.errors["email"])


def test_an_idn_domain_is_stored_in_its_ascii_form_lower_cased():
    assert normalise_email("Reader@Bücher.Example") == "Reader@xn--bcher-kva.example"


def test_control_characters_never_pass():
    for character in ("\r", "\n", "\x00", "\t"):
        with pytest.raises(ValidationError):
            normalise_email(f"reader@example.com{character}")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('"unclosed', "quote is not closed"),
        ("diffusion -", "lone '-'"),
        (" ".join(f"word{n}" for n in range(60)), "at most 40"),
        ("-survey", "at least one word"),
        ("video OR", "ends with OR"),
    ],
)
def test_a_malformed_query_gets_a_clear_message_on_its_field(query, message):
    form = SignupForm(signup_data(own_query=query))

    assert not form.is_valid()
    assert list(form.errors) == ["own_query"]
    assert message in form.errors["own_query"][0]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("own_query", "x" * 501),
        ("categories", "cs.CV " * 60),
        ("categories", "cs.CV, <script>"),
        ("categories", ", ".join(f"cs.A{chr(65 + n % 26)}{chr(65 + n // 26)}" for n in range(21))),
        ("authors", ", ".join(f"Author {chr(65 + n)}" for n in range(21))),
        ("authors", "A" * 101),
        ("authors", "12345"),
        ("authors", "x" * 1001),
        ("send_hour_local", "24"),
        ("send_hour_local", "-1"),
        ("max_papers", "0"),
        ("max_papers", "51"),
        ("max_papers", "ten"),
        ("frequency", "hourly"),
        ("language", "fr"),
        ("time_zone", "Mars/Olympus_Mons"),
        ("time_zone", "localtime"),
        ("time_zone", "Europe/Berlin\r\nX: y"),
        ("topics", ["999999"]),
        ("own_query", "diffusion\x00"),
    ],
)
def test_every_field_is_bounded(field, value):
    form = SignupForm(signup_data(**{field: value}))

    assert not form.is_valid()
    assert field in form.errors


def test_an_inactive_topic_cannot_be_chosen():
    topic = TopicFactory(is_active=False)

    form = SignupForm(signup_data(topics=[topic.pk]))

    assert not form.is_valid()
    assert "topics" in form.errors


def test_a_form_without_any_filter_asks_for_one():
    form = SignupForm(signup_data(own_query=""))

    assert not form.is_valid()
    assert "Tick at least one topic" in form.non_field_errors()[0]


def test_the_honeypot_never_makes_the_form_invalid():
    form = SignupForm(signup_data(website="http://spam.example"))

    assert form.is_valid()
    assert form.cleaned_data["website"] == "http://spam.example"


def test_a_rejected_form_stores_nothing(client):
    response = client.post("/", signup_data(own_query='"unclosed'))

    assert response.status_code == 400
    assert "A quote is not closed" in response.content.decode()
    assert Subscriber.objects.count() == 0
