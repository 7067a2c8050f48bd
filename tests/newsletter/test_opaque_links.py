"""Signed links are opaque: no address inside, yet bound to it, so a reused id inherits none."""

from __future__ import annotations

import base64

import pytest
from django.core import signing

from newsletter.models import Subscriber
from newsletter.signing import Purpose, make_token, read_token, signed_url
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db


def payload_of(token: str) -> bytes:
    """What anyone holding the link can read without the key: the token's bytes, decoded."""
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


@pytest.mark.parametrize("purpose", list(Purpose))
def test_decoding_a_links_payload_reveals_no_address(purpose):
    reader = SubscriberFactory(email="Alice.Liddell@Example.org")

    url = signed_url(purpose=purpose, subject_id=reader.pk, email=reader.email)
    payload = payload_of(url.rstrip("/").rsplit("/", 1)[1])

    assert read_token(url.rstrip("/").rsplit("/", 1)[1], purpose=purpose).subject_id == reader.pk
    for part in (b"alice", b"liddell", b"example"):
        assert part not in payload.lower()


def test_the_address_is_bound_in_whatever_its_letter_case():
    token = make_token(purpose=Purpose.MANAGE, subject_id=7, email="Bob@Example.com")

    claims = read_token(token, purpose=Purpose.MANAGE)

    assert claims.names("bob@example.com")
    assert claims.names("BOB@EXAMPLE.COM")
    assert not claims.names("bob@example.org")


def test_a_link_for_a_deleted_and_reused_id_is_refused(client):
    bob = SubscriberFactory(email="bob@example.com", status=Subscriber.Status.ACTIVE)
    manage = make_token(purpose=Purpose.MANAGE, subject_id=bob.pk, email=bob.email)
    unsubscribe = make_token(purpose=Purpose.UNSUBSCRIBE, subject_id=bob.pk, email=bob.email)
    reused_id = bob.pk
    bob.delete()
    carol = SubscriberFactory(pk=reused_id, email="carol@example.com")

    assert client.get(f"/manage/{manage}/").status_code == 400
    assert client.post(f"/unsubscribe/{unsubscribe}/").status_code == 400

    carol.refresh_from_db()
    assert carol.status == Subscriber.Status.ACTIVE


def test_a_link_made_before_links_were_opaque_still_opens_for_its_own_address_only(client):
    bob = SubscriberFactory(email="bob@example.com", status=Subscriber.Status.ACTIVE)
    signer = signing.TimestampSigner(salt=f"paperboy.{Purpose.MANAGE}")
    old = signer.sign_object({"id": bob.pk, "e": "bob@example.com"}, compress=True)
    forged = signer.sign_object({"id": bob.pk, "e": "mallory@example.com"}, compress=True)

    assert client.get(f"/manage/{old}/").status_code == 200
    assert client.get(f"/manage/{forged}/").status_code == 400
