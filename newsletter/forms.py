"""The reader-facing forms: every field bounded and validated before anything is stored."""

from __future__ import annotations

import dataclasses
import functools
import re
import zoneinfo
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from email_validator import EmailNotValidError, validate_email

from newsletter.matching import (
    MAX_QUERY_LENGTH,
    Form,
    Query,
    QuerySyntaxError,
    QueryTooBroad,
    parse_query,
)
from newsletter.models import Subscriber, Topic
from newsletter.paper_index import recent_papers
from newsletter.query_bounds import query_bounds_problem
from papers.categories import CategoryError, parse_categories

# RFC 5321: a local part of at most 64 octets, a path of at most 256 (254 without brackets).
MAX_LOCAL_PART = 64
MAX_ADDRESS = 254
MAX_CATEGORIES = 20
MAX_CATEGORIES_TEXT = 300
MAX_AUTHORS = 20
MAX_AUTHOR_NAME = 100
MAX_AUTHORS_TEXT = 1000
NOT_ZONES = frozenset({"localtime", "Factory", "posixrules"})
# Queries whose verdict a process remembers: each holds at most 500 characters, so a flood of
# fresh queries costs a bounded few hundred KB.
QUERY_CHECKS_REMEMBERED = 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# What no reader means to type in a name or a query, and what would change how it reads:
# C0 and C1 controls (NUL included), bidi embeddings, overrides and isolates.
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def query_syntax_problem(query: str) -> str:
    """What is wrong with the query's syntax ("" when nothing is), in the page's language."""
    return syntax_problem_in(query, translation.get_language() or "en")


@functools.lru_cache(maxsize=QUERY_CHECKS_REMEMBERED)
def syntax_problem_in(query: str, language: str) -> str:
    try:
        parse_query(query)
    except QuerySyntaxError as error:
        return str(error)
    return ""


def validated_query(text: str) -> str:
    """A typed query, stripped; ValidationError with the parser's advice if it is malformed,
    if it could never match or would match nearly everything, or if its phrases would make the
    recent papers' index check too much (too broad)."""
    query = text.strip()
    if not query:
        return query
    problem = query_syntax_problem(query)
    if problem:
        raise ValidationError(problem, code="bad_query")
    parsed = parse_query(query)
    if _has_phrases(parsed):
        try:
            recent_papers().index.check_cost(parsed)
        except QueryTooBroad as error:
            raise ValidationError(str(error), code="too_broad") from error
    problem = query_bounds_problem(parsed)
    if problem:
        raise ValidationError(problem, code="matches_nothing_or_everything")
    return query


def _has_phrases(query: Query) -> bool:
    """Whether the index must confirm candidates for this query (only phrases, quoted words
    and synonyms cost more than a lookup), so whether it can be too broad at all."""
    terms = (*query.positive_terms, *query.excluded)
    return any(len(t.words) > 1 or t.form is not Form.WORDS or t.synonyms for t in terms)


def time_zone_names() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones() - NOT_ZONES))


def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in time_zone_names()]


def normalise_email(value: str) -> str:
    """The address as we store and send to it, or ValidationError saying what is wrong."""
    if _CONTROL.search(value):
        raise ValidationError(_("Write the address on one line, without control characters."))
    value = value.strip()
    if len(value) > MAX_ADDRESS:
        raise ValidationError(_("An email address has at most 254 characters."))
    try:
        info = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as error:
        raise ValidationError(
            _("This is not a valid email address: %(reason)s"), params={"reason": str(error)}
        ) from error
    if len(info.local_part) > MAX_LOCAL_PART or len(info.ascii_email) > MAX_ADDRESS:
        raise ValidationError(_("This address is too long to receive mail."))
    # ascii_email: IDN domains in their A-label form, and domains lower-cased.
    return info.ascii_email


class PlainTextField(forms.CharField):
    """One line of text that refuses control and text-direction characters (instead of
    stripping them at the ends and keeping them inside), then strips spaces."""

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("strip", False)
        super().__init__(**kwargs)

    def to_python(self, value: object) -> str:
        value = super().to_python(value)
        if _INVISIBLE.search(value):
            raise ValidationError(
                _("Write this on one line, without control characters or text-direction marks."),
                code="invisible_character",
            )
        return value.strip()


class EmailAddressField(forms.CharField):
    widget = forms.EmailInput

    def __init__(self, **kwargs: object) -> None:
        # Room for surrounding spaces; the real limit is checked after stripping.
        kwargs.setdefault("max_length", MAX_ADDRESS + 10)
        kwargs.setdefault("strip", False)
        super().__init__(**kwargs)

    def widget_attrs(self, widget: forms.Widget) -> dict[str, str]:
        return {**super().widget_attrs(widget), "autocomplete": "email"}

    def to_python(self, value: object) -> str:
        value = super().to_python(value)
        return normalise_email(value) if value else value


class HoneypotField(forms.CharField):
    """Left empty by people (the field is hidden); bots that fill every input fill it."""

    def __init__(self) -> None:
        super().__init__(
            required=False,
            max_length=500,
            label=_("Leave this empty"),
            widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
        )

    def clean(self, value: object) -> str:
        # Never an error: a filled honeypot must look like a success to the bot.
        return str(value or "")[:500]


@dataclass(frozen=True)
class Filters:
    """What a reader wants to read: the inputs of the preview and of matching."""

    topics: tuple[Topic, ...] = ()
    own_query: str = ""
    categories: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    include_cross_lists: bool = True

    @property
    def is_empty(self) -> bool:
        return not (self.topics or self.own_query or self.categories or self.authors)


@dataclass(frozen=True)
class FollowUpChoices:
    """Which news of papers they got a reader wants in their digests (newsletter.followups)."""

    code: bool = True
    trending: bool = True
    new_version: bool = True
    alone: bool = False


@dataclass(frozen=True)
class Preferences:
    """Everything a subscriber chooses, validated, ready for the services."""

    filters: Filters
    frequency: str
    send_hour_local: int
    time_zone: str
    max_papers: int
    language: str
    followups: FollowUpChoices | None = None  # None: not on this form (sign-up)


def split_authors(text: str) -> list[str]:
    return [name.strip() for name in re.split(r"[;,\n]+", text) if name.strip()]


class FilterForm(forms.Form):
    """Topics and the reader's own filter; alone, it drives the live preview."""

    topics = forms.ModelMultipleChoiceField(
        queryset=Topic.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=_("Topics"),
    )
    own_query = PlainTextField(
        required=False,
        max_length=MAX_QUERY_LENGTH,
        label=_("Your own search"),
        help_text=_('Words, "quoted phrases", OR, and -excluded words.'),
        widget=forms.TextInput(attrs={"placeholder": '"text-to-image" diffusion -survey'}),
    )
    categories = PlainTextField(
        required=False,
        max_length=MAX_CATEGORIES_TEXT,
        label=_("arXiv categories"),
        help_text=_("Separated by commas or spaces, e.g. cs.CV, cs.LG."),
    )
    authors = PlainTextField(
        required=False,
        max_length=MAX_AUTHORS_TEXT,
        label=_("Authors"),
        help_text=_("Full names separated by commas; any paper by one of them is sent."),
    )
    include_cross_lists = forms.BooleanField(
        required=False,
        initial=True,
        label=_("Include papers cross-listed from other categories"),
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["topics"].queryset = Topic.objects.filter(is_active=True)

    def clean_own_query(self) -> str:
        return validated_query(self.cleaned_data["own_query"])

    def clean_categories(self) -> list[str]:
        try:
            categories = parse_categories(self.cleaned_data["categories"])
        except CategoryError as error:
            raise ValidationError(str(error)) from error
        if len(categories) > MAX_CATEGORIES:
            raise ValidationError(
                _("Choose at most %(count)d categories."), params={"count": MAX_CATEGORIES}
            )
        return categories

    def clean_authors(self) -> list[str]:
        names = list(dict.fromkeys(split_authors(self.cleaned_data["authors"])))
        if len(names) > MAX_AUTHORS:
            raise ValidationError(
                _("Name at most %(count)d authors."), params={"count": MAX_AUTHORS}
            )
        for name in names:
            if len(name) > MAX_AUTHOR_NAME:
                raise ValidationError(
                    _("Keep each name under %(count)d characters."),
                    params={"count": MAX_AUTHOR_NAME},
                )
            if not re.search(r"[^\W\d_]", name):
                raise ValidationError(_("“%(name)s” is not a name."), params={"name": name[:40]})
        return names

    def filters(self) -> Filters:
        data = self.cleaned_data
        return Filters(
            topics=tuple(data.get("topics") or ()),
            own_query=data.get("own_query") or "",
            categories=tuple(data.get("categories") or ()),
            authors=tuple(data.get("authors") or ()),
            include_cross_lists=bool(data.get("include_cross_lists")),
        )


class PreferencesForm(FilterForm):
    """The filters plus when and how the digest comes: the sign-up and manage pages share it."""

    frequency = forms.ChoiceField(
        choices=Subscriber.Frequency.choices,
        initial=Subscriber.Frequency.DAILY,
        widget=forms.RadioSelect,
        label=_("How often"),
    )
    send_hour_local = forms.TypedChoiceField(
        choices=[(hour, f"{hour:02d}:00") for hour in range(24)],
        coerce=int,
        initial=7,
        label=_("Send at"),
    )
    time_zone = forms.ChoiceField(choices=time_zone_choices, initial="UTC", label=_("Time zone"))
    max_papers = forms.IntegerField(
        min_value=1, max_value=50, initial=10, label=_("At most this many papers per email")
    )
    language = forms.ChoiceField(
        choices=settings.LANGUAGES, initial=settings.LANGUAGE_CODE, label=_("Language")
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        # A reader on the Chinese page gets Chinese emails unless they choose otherwise.
        page_language = translation.get_language()
        if page_language in dict(settings.LANGUAGES):
            self.fields["language"].initial = page_language

    def clean_time_zone(self) -> str:
        zone = self.cleaned_data["time_zone"]
        if zone not in zoneinfo.available_timezones() or zone in NOT_ZONES:
            raise ValidationError(_("Choose a time zone from the list."))
        return zone

    def clean(self) -> dict[str, object]:
        data = super().clean()
        filter_fields = ("topics", "own_query", "categories", "authors")
        if not any(name in self.errors for name in filter_fields) and not any(
            data.get(name) for name in filter_fields
        ):
            raise ValidationError(
                gettext("Tick at least one topic, or write your own search, categories or authors.")
            )
        return data

    def preferences(self) -> Preferences:
        data = self.cleaned_data
        return Preferences(
            filters=self.filters(),
            frequency=data["frequency"],
            send_hour_local=data["send_hour_local"],
            time_zone=data["time_zone"],
            max_papers=data["max_papers"],
            language=data["language"],
        )

    @classmethod
    def initial_for(cls, subscriber: Subscriber) -> dict[str, object]:
        return {
            "topics": list(subscriber.topics.all()),
            "own_query": subscriber.own_query,
            "categories": ", ".join(subscriber.categories),
            "authors": ", ".join(subscriber.authors),
            "include_cross_lists": subscriber.include_cross_lists,
            "frequency": subscriber.frequency,
            "send_hour_local": subscriber.send_hour_local,
            "time_zone": subscriber.time_zone,
            "max_papers": subscriber.max_papers,
            "language": subscriber.language,
        }


FOLLOWUP_FIELDS = ("followup_code", "followup_trending", "followup_new_version", "followups_alone")


class ManageForm(PreferencesForm):
    """The manage page's form: the preferences plus which follow-ups the reader wants."""

    followup_code = forms.BooleanField(
        required=False, label=_("When a paper I got releases its code")
    )
    followup_trending = forms.BooleanField(
        required=False, label=_("When a paper I got takes off on Hugging Face")
    )
    followup_new_version = forms.BooleanField(
        required=False, label=_("When a paper I got has a new version with a changed abstract")
    )
    followups_alone = forms.BooleanField(
        required=False,
        label=_("Send the updates even on days without new papers"),
        help_text=_("Otherwise an email with only updates is not sent; they wait for the next."),
    )

    def followup_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in FOLLOWUP_FIELDS]

    def preferences(self) -> Preferences:
        data = self.cleaned_data
        return dataclasses.replace(
            super().preferences(),
            followups=FollowUpChoices(
                code=bool(data.get("followup_code")),
                trending=bool(data.get("followup_trending")),
                new_version=bool(data.get("followup_new_version")),
                alone=bool(data.get("followups_alone")),
            ),
        )

    @classmethod
    def initial_for(cls, subscriber: Subscriber) -> dict[str, object]:
        return {
            **super().initial_for(subscriber),
            "followup_code": subscriber.followup_code,
            "followup_trending": subscriber.followup_trending,
            "followup_new_version": subscriber.followup_new_version,
            "followups_alone": subscriber.followups_alone,
        }


class SignupForm(PreferencesForm):
    email = EmailAddressField(label=_("Your email address"))
    website = HoneypotField()

    field_order = ["email"]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            # The page's script sets the browser's zone; a re-shown form keeps the reader's.
            self.fields["time_zone"].widget.attrs["data-prefill-time-zone"] = "on"


class ManageLinkForm(forms.Form):
    email = EmailAddressField(label=_("Your email address"))
    website = HoneypotField()
