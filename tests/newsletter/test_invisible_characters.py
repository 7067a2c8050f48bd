"""Control characters (NUL included) and the Unicode controls that reorder text (bidi
embeddings, overrides and isolates) are refused in the own-query, categories and authors
fields, as in the email field: said next to the field, and nothing is stored."""

from __future__ import annotations

import pytest
from django.utils import translation

from newsletter.emails import subscriber_links
from newsletter.forms import SignupForm
from newsletter.models import Subscriber
from tests.factories import SubscriberFactory
from tests.newsletter.subscription_helpers import path_of, signup_data

pytestmark = pytest.mark.django_db

INVISIBLE = {
    "NUL": "\x00",
    "start of heading": "\x01",
    "escape": "\x1b",
    "delete": "\x7f",
    "next line (C1)": "\x85",
    "C1 control": "\x9b",
    "right-to-left override": "\u202e",
    "left-to-right embedding": "\u202a",
    "pop directional formatting": "\u202c",
    "right-to-left isolate": "\u2067",
    "pop directional isolate": "\u2069",
    "tab": "\t",
    "line feed": "\n",
}
FIELDS = {
    "own_query": "diffusion{}models",
    "categories": "cs.CV{}, cs.LG",
    "authors": "Ada Lovelace, Alan{} Turing",
}


@pytest.mark.parametrize("character", INVISIBLE.values(), ids=INVISIBLE.keys())
@pytest.mark.parametrize("field", FIELDS)
def test_an_invisible_character_is_refused_next_to_its_field(field, character):
    form = SignupForm(signup_data(**{field: FIELDS[field].format(character)}))

    assert not form.is_valid()
    assert list(form.errors) == [field]
    assert "without control characters" in form.errors[field][0]


@pytest.mark.parametrize("field", FIELDS)
def test_one_at_either_end_is_refused_too_not_stripped(field):
    form = SignupForm(signup_data(**{field: FIELDS[field].format("") + "\u202e"}))

    assert not form.is_valid()
    assert list(form.errors) == [field]


def test_letters_of_every_script_and_joiners_still_pass():
    form = SignupForm(
        signup_data(
            own_query="扩散 模型",
            authors="محمد علي, Zoë Ångström, मनोज\u200d कुमार",
        )
    )

    assert form.is_valid(), form.errors
    assert form.cleaned_data["authors"] == ["محمد علي", "Zoë Ångström", "मनोज\u200d कुमार"]


def test_a_sign_up_with_a_bidi_override_stores_nothing(client):
    response = client.post(
        "/", signup_data(authors="Ada \u202eecalevoL"), REMOTE_ADDR="203.0.113.7"
    )

    assert response.status_code == 400
    assert not Subscriber.objects.exists()


def test_the_manage_page_refuses_them_and_keeps_the_old_values(client):
    reader = SubscriberFactory(own_query="robots", authors=["Ada Lovelace"])
    data = signup_data(action="save", own_query="robots\x1b[2J", authors="Ada\u2066 Lovelace")
    del data["email"], data["website"]

    response = client.post(path_of(subscriber_links(reader)["manage_url"]), data)

    assert response.status_code == 400
    reader.refresh_from_db()
    assert (reader.own_query, reader.authors) == ("robots", ["Ada Lovelace"])


def test_the_refusal_speaks_the_readers_language():
    with translation.override("zh-hans"):
        form = SignupForm(signup_data(authors="Ada\u202e"))

        assert form.errors["authors"] == ["请写在一行内，不要包含控制字符或文字方向标记。"]
