"""The one place that compiles MJML: each email's layout + body is converted once per process
into a Django template, so sending an email costs one template render, not one MJML run; and
skeletons, templates rendered once with named slots, for emails sent by the thousand."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.template import engines
from django.template.backends.django import Template
from django.utils.safestring import SafeString, mark_safe
from mjml import mjml2html

LAYOUT = "emails/layout.mjml"
CONTENT_SLOT = "<mj-raw><!-- content --></mj-raw>"
_WHITESPACE = re.compile(r"\s+")
# Private-use characters: no template, translation or setting holds them.
_SLOT_MARK = re.compile("\ue000([a-z_]+(?:\\.[01])?)\ue001")


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    text_parts: Sequence[tuple[str, bool]] = ()  # see Skeleton.parts
    html_parts: Sequence[tuple[str, bool]] = ()


def render_email(name: str, context: dict[str, object]) -> RenderedEmail:
    """Render `emails/<name>-subject.txt`, `-body.txt` and `<name>.mjml` with one context."""
    subject = one_line(_text_template(f"emails/{name}-subject.txt").render(context))
    context = {**context, "subject": subject}
    return RenderedEmail(
        subject=subject,
        text=_text_template(f"emails/{name}-body.txt").render(context).strip() + "\n",
        html=html_template(name).render(context),
    )


def one_line(subject: str) -> str:
    """A rendered subject as one line: its template's line breaks and indents are not sent."""
    return _WHITESPACE.sub(" ", subject).strip()


def html_template(name: str) -> Template:
    if settings.DEBUG:
        return _compile_html(name)
    return _compiled_html(name)


@functools.cache
def _compiled_html(name: str) -> Template:
    return _compile_html(name)


def _compile_html(name: str) -> Template:
    layout = _source(LAYOUT)
    if CONTENT_SLOT not in layout:
        raise ValueError(f"{LAYOUT} lacks the content slot {CONTENT_SLOT}")
    mjml_source = layout.replace(CONTENT_SLOT, _source(f"emails/{name}.mjml"))
    # fonts={}: MJML otherwise links Google Fonts for a family it knows (Roboto), and every
    # open would tell Google the reader's address; the layout's system fonts need nothing.
    return engines["django"].from_string(mjml2html(mjml_source, fonts={}))


@functools.cache
def _text_template(template_name: str) -> Template:
    # Text parts and subjects are not HTML: escaping would show "&amp;" to the reader.
    source = "{% autoescape off %}" + _source(template_name) + "{% endautoescape %}"
    return engines["django"].from_string(source)


def _source(template_name: str) -> str:
    template, _origin = engines["django"].engine.find_template(template_name)
    return template.source


def text_template(name: str) -> Template:
    """`emails/<name>`, not autoescaped (a subject or a text part)."""
    return _text_template(f"emails/{name}")


def slot(name: str) -> SafeString:
    """A context value that marks where `name` goes in a skeleton (`<name>.0` and `<name>.1`
    for the first two items of a list rendered one after the other)."""
    return mark_safe(f"\ue000{name}\ue001")  # noqa: S308 - a marker, never sent


@dataclass(frozen=True)
class Skeleton:
    """A template rendered once with slots in place of the values that vary, split at them:
    filling it joins strings, it runs no template code."""

    pieces: tuple[str, ...]  # text, slot name, text, slot name, ..., text
    separators: Mapping[str, str] = field(default_factory=dict)  # between a list's items

    def fill(self, values: Mapping[str, str | Sequence[str]]) -> str:
        pieces = list(self.pieces)
        for position in range(1, len(pieces), 2):
            name = pieces[position]
            value = values[name]
            pieces[position] = (
                self.separators[name].join(value) if name in self.separators else str(value)
            )
        return "".join(pieces)

    def parts(self, values: Mapping[str, object]) -> list[tuple[str, bool]]:
        """The filled text as the parts it joins, each flagged whether it is shared (the
        skeleton's own text, or a list item's (text, True) part), so that what is done to
        those (their quoted-printable form) can be done once. A list item is a string or a
        sequence of (text, shared) parts."""
        parts: list[tuple[str, bool]] = []
        for position, piece in enumerate(self.pieces):
            if not position % 2:
                parts.append((piece, True))
                continue
            value = values[piece]
            if piece not in self.separators:
                parts.append((str(value), False))
                continue
            for number, item in enumerate(value):  # type: ignore[attr-defined]
                if number:
                    parts.append((self.separators[piece], True))
                if isinstance(item, str):
                    parts.append((item, False))
                else:
                    parts.extend(item)
        return parts


def skeleton(template: Template, context: dict[str, object]) -> Skeleton:
    """`template` rendered with slot() values in `context`. A list given as two slotted items
    (`<name>.0`, `<name>.1`) becomes one slot `<name>` filled by joining its items, with the
    text the template puts between two items."""
    pieces = _SLOT_MARK.split(template.render(context))
    merged: list[str] = [pieces[0]]
    separators: dict[str, str] = {}
    position = 1
    while position < len(pieces):
        name = pieces[position]
        if name.endswith(".1"):
            raise ValueError(f"slot {name} without its first item")
        if name.endswith(".0"):
            second = name[:-2] + ".1"
            if position + 2 >= len(pieces) or pieces[position + 2] != second:
                raise ValueError(f"slot {name} is not followed by {second}")
            name = name[:-2]
            separators[name] = pieces[position + 1]
            position += 2
        merged += [name, pieces[position + 1]]
        position += 2
    return Skeleton(tuple(merged), separators)
