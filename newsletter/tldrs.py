"""The TL;DR line of a card: which summary a reader sees, and which summaries the papers just
put in digests want (asked for after their send: newsletter.tasks.enqueue_summaries)."""

from __future__ import annotations

from collections.abc import Sequence

from newsletter.models import DigestItem
from papers.summaries import summaries_make, summary_in


def tldr(*, ai_summary: str, summaries: Sequence[tuple[str, str]], language: str) -> str:
    """The reader's-language summary if one was made, else Hugging Face's (English); ""
    when neither exists and the card shows only its abstract snippet."""
    return summary_in(summaries, language) or ai_summary


def wanted_summaries(*, digest_ids: Sequence[int]) -> list[tuple[int, str]]:
    """(paper id, language) of every visible paper in these digests' emails, in the language
    of the reader who gets it; English is not asked for when Hugging Face gave a summary."""
    rows = (
        DigestItem.objects.filter(digest_id__in=list(digest_ids), paper__is_hidden=False)
        .values_list("paper_id", "digest__subscriber__language", "paper__ai_summary")
        .distinct()
    )
    return sorted({(pid, language) for pid, language, ai in rows if not (ai and language == "en")})


def digest_summaries_make(*, digest_ids: Sequence[int]) -> str:
    return summaries_make(wanted=wanted_summaries(digest_ids=digest_ids)).summary()
