"""The MIME parts' quoted-printable: made from pieces whose encoding is cached, valid by
RFC 2045 and decoding to exactly the text and HTML the reader was meant to get."""

from __future__ import annotations

import binascii
import random
import re

import pytest

from newsletter.mail import mime
from tests.newsletter.test_digest_skeleton import digest


def quoted_printable_is_valid(encoded: bytes) -> bool:
    """RFC 2045: CRLF lines of at most 76 characters, printable ASCII or "=XX", no space
    or tab last, an "=" last only as a soft line break."""
    line = re.compile(rb"(?:[\x21-\x3c\x3e-\x7e \t]|=[0-9A-F]{2})*=?")
    lines = encoded.split(b"\r\n")
    return lines[-1] == b"" and all(
        len(text) <= 76 and not text.endswith((b" ", b"\t")) and line.fullmatch(text)
        for text in lines
    )


def test_a_digests_mime_from_cached_parts_decodes_to_its_text_and_html(frozen_clock):
    email = digest(count=10, more_count=2)

    html, text = mime._qp_parts(email.html_parts), mime._qp_parts(email.text_parts)

    assert binascii.a2b_qp(html) == binascii.a2b_qp(mime._qp(email.html))
    assert binascii.a2b_qp(text) == email.text.replace("\n", "\r\n").encode()
    assert quoted_printable_is_valid(html) and quoted_printable_is_valid(text)
    assert mime._qp_parts(email.html_parts) == html  # again, from the cache


def test_quoted_printable_in_parts_decodes_to_the_whole_for_any_cut():
    rng = random.Random(18)
    alphabet = ["a", " ", "=", "\n", "é", "中", "\t", "x" * 90, "  \n", ".", "y" * 74, "b" * 64]
    for _ in range(2000):
        parts = [
            ("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))), rng.random() < 0.5)
            for _ in range(rng.randint(0, 8))
        ]
        joined = "".join(text for text, _shared in parts)

        encoded = mime._qp_parts(parts)

        assert binascii.a2b_qp(encoded) == binascii.a2b_qp(mime._qp(joined)), parts
        assert quoted_printable_is_valid(encoded), parts
    assert binascii.a2b_qp(mime._qp_parts([("x" * 200 + "\n", True)])) == b"x" * 200 + b"\r\n"


@pytest.mark.parametrize("length", range(70, 80))
def test_a_line_ending_in_a_space_stays_within_76_characters(length):
    # binascii.b2a_qp alone makes a 77-character line of 74 characters and "=20"
    encoded = mime._qp("q" * length + "  \n")

    assert quoted_printable_is_valid(encoded)
    assert binascii.a2b_qp(encoded) == b"q" * length + b"  \r\n"


def test_a_shared_part_is_encoded_once_and_its_bytes_reused():
    mime._qp_shared_piece.cache_clear()
    layout = "<table>" + "<td>x</td>" * 40

    first = mime._qp_parts([(layout, True), ("reader one", False), (layout, True)])
    second = mime._qp_parts([(layout, True), ("reader two", False), (layout, True)])

    assert mime._qp_shared_piece.cache_info().misses == 1
    assert binascii.a2b_qp(first) == (layout + "reader one" + layout + "\r\n").encode()
    assert binascii.a2b_qp(second) == (layout + "reader two" + layout + "\r\n").encode()
