"""Editors' writes on papers: feature, hide, and telling the public pages at once."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from papers.models import Paper
from papers.public_cache import public_pages_changed


def papers_set_featured(*, paper_ids: Iterable[int], featured: bool) -> int:
    """Feature or unfeature papers; returns how many changed.

    `paper_ids` may be a values_list queryset, so "select all 100,000" stays one UPDATE.
    """
    return _update_changed(paper_ids, is_featured=featured)


def papers_set_hidden(*, paper_ids: Iterable[int], hidden: bool) -> int:
    """Hide papers from every public page, feed and future digest (or show them again)."""
    return _update_changed(paper_ids, is_hidden=hidden)


def _update_changed(paper_ids: Iterable[int], **values: bool) -> int:
    ((field, value),) = values.items()
    with transaction.atomic():
        changed = (
            Paper.objects.filter(pk__in=paper_ids)
            .exclude(**{field: value})
            .update(**values, updated_at=timezone.now())
        )
        if changed:
            transaction.on_commit(public_pages_changed)
    return changed
