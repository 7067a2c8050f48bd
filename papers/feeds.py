"""How a paper reads in an RSS or Atom feed (the feeds themselves are newsletter's)."""

from __future__ import annotations

import datetime as dt

from django.contrib.syndication.views import Feed
from django.utils.html import escape, linebreaks

from papers.models import Paper
from papers.normalise import http_link

FEED_SIZE = 50
FEED_AUTHORS = 5


class PaperFeed(Feed):
    """How a paper reads in a feed; hidden papers never reach one (the selectors see to it)."""

    def item_title(self, paper: Paper) -> str:
        return paper.title

    def item_link(self, paper: Paper) -> str:
        return paper.abs_url

    def item_description(self, paper: Paper) -> str:
        # Feed readers read this as HTML: abstracts hold `<`, `&` and TeX, so escape them.
        parts = [linebreaks(escape(paper.abstract))]
        if paper.editor_note:
            parts.insert(0, f"<p><strong>Editor's note:</strong> {escape(paper.editor_note)}</p>")
        if paper.ai_summary:
            parts.insert(
                0, f"<p><strong>TL;DR (machine summary):</strong> {escape(paper.ai_summary)}</p>"
            )
        if code_url := http_link(paper.code_url):
            parts.append(f'<p><a href="{escape(code_url)}">Code</a></p>')
        return "".join(parts)

    def item_pubdate(self, paper: Paper) -> dt.datetime | None:
        if paper.announced_on is None:
            return paper.published_at
        return dt.datetime.combine(paper.announced_on, dt.time.min, tzinfo=dt.UTC)

    def item_author_name(self, paper: Paper) -> str:
        names = list(paper.authors[:FEED_AUTHORS])
        return ", ".join(names) + (" et al." if len(paper.authors) > FEED_AUTHORS else "")

    def item_categories(self, paper: Paper) -> list[str]:
        return list(paper.categories)
