"""Forms for a reader's papers: pasted arXiv ids, an uploaded export, the preview's votes."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from newsletter import selectors
from newsletter.paper_imports import (
    MAX_IMPORT_BYTES,
    ImportRecord,
    ImportRefused,
    parse_export,
    parse_pasted,
)
from newsletter.services import LikedPapers

# A visitor rates a few of the preview's examples; more is not a preview.
PREVIEW_VOTES_MAX = 20
PASTED_CHARS = 100_000
# Past this the request is refused before Django reads its body (the file limit plus forms).
MAX_REQUEST_BYTES = MAX_IMPORT_BYTES + 200_000


def request_too_big(request) -> bool:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > MAX_REQUEST_BYTES
    except ValueError:
        return True


class ColdStartForm(forms.Form):
    """Papers a reader likes, pasted or uploaded; at sign-up also the preview's 👍/👎."""

    liked_arxiv_ids = forms.CharField(
        label=gettext_lazy("arXiv ids or links of papers you like"),
        required=False,
        max_length=PASTED_CHARS,
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": "2403.18791\nhttps://arxiv.org/abs/2501.00001"}
        ),
    )
    liked_export = forms.FileField(
        label=gettext_lazy("…or a BibTeX, RIS or CSL-JSON export (Zotero, Mendeley, …)"),
        required=False,
        help_text=gettext_lazy("At most 1 MB and 2,000 papers."),
    )

    def __init__(self, *args: object, with_preview_votes: bool = False, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.with_preview_votes = with_preview_votes
        self.records: list[ImportRecord] = []

    def clean_liked_arxiv_ids(self) -> str:
        text = self.cleaned_data["liked_arxiv_ids"]
        if text.strip():
            try:
                self.records += parse_pasted(text)
            except ImportRefused as refused:
                raise forms.ValidationError(str(refused)) from refused
        return text

    def clean_liked_export(self) -> object:
        upload = self.cleaned_data["liked_export"]
        if upload is None:
            return upload
        if upload.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError(
                _("The file is too big: at most %(size)s MB.") % {"size": MAX_IMPORT_BYTES // 10**6}
            )
        try:
            self.records += parse_export(
                upload.read(MAX_IMPORT_BYTES + 1), filename=upload.name or ""
            )
        except ImportRefused as refused:
            raise forms.ValidationError(str(refused)) from refused
        return upload

    def preview_votes(self) -> tuple[list[int], list[int]]:
        """The preview examples ticked 👍 and 👎 (both ticked: neither), known papers only."""
        if not self.with_preview_votes or not self.is_bound:
            return [], []
        up, down = (_ids(self.data.getlist(name)) for name in ("preview_up", "preview_down"))
        up, down = up - down, down - up
        known = set(selectors.visible_paper_ids(ids=up | down))
        return sorted(up & known), sorted(down & known)

    def clean(self) -> dict[str, object]:
        cleaned = super().clean()
        if self.with_preview_votes:
            up, down = self.preview_votes()
            if len(up) + len(down) > PREVIEW_VOTES_MAX:
                raise forms.ValidationError(
                    _("Rate at most %(count)d example papers.") % {"count": PREVIEW_VOTES_MAX}
                )
        return cleaned

    def liked(self) -> LikedPapers:
        up, down = self.preview_votes()
        return LikedPapers(imported=tuple(self.records), up_ids=tuple(up), down_ids=tuple(down))


def _ids(values: list[str]) -> set[int]:
    """Whole positive numbers among the values; anything else is not a paper and is dropped."""
    return {
        int(value)
        for value in values[: PREVIEW_VOTES_MAX * 2]
        if value.isascii() and value.isdigit() and len(value) <= 12
    }
