"""The one place that compiles MJML: each email's layout + body is converted once per process
into a Django template, so sending an email costs one template render, not one MJML run."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from django.conf import settings
from django.template import engines
from django.template.backends.django import Template
from mjml import mjml2html

LAYOUT = "emails/layout.mjml"
CONTENT_SLOT = "<mj-raw><!-- content --></mj-raw>"
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def render_email(name: str, context: dict[str, object]) -> RenderedEmail:
    """Render `emails/<name>-subject.txt`, `-body.txt` and `<name>.mjml` with one context."""
    subject = _WHITESPACE.sub(" ", _text_template(f"emails/{name}-subject.txt").render(context))
    context = {**context, "subject": subject.strip()}
    return RenderedEmail(
        subject=subject.strip(),
        text=_text_template(f"emails/{name}-body.txt").render(context).strip() + "\n",
        html=html_template(name).render(context),
    )


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
