"""RSS and Atom feeds of each topic's recent papers, for people who read feeds, not email."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.feedgenerator import Atom1Feed
from django.utils.html import escape, linebreaks

from newsletter.models import Topic
from newsletter.selectors import recent_paper_index, topic_paper_ids
from papers.models import Paper
from papers.selectors import papers_by_ids

FEED_SIZE = 50
FEED_AUTHORS = 5


class TopicFeed(Feed):
    """A topic's papers of the last days, newest first; hidden papers never appear."""

    def get_object(self, request: HttpRequest, slug: str) -> Topic:
        return get_object_or_404(Topic, slug=slug, is_active=True)

    def title(self, topic: Topic) -> str:
        return f"{settings.SITE_NAME}: {topic.name}"

    def link(self, topic: Topic) -> str:
        return reverse("papers:topic", args=[topic.slug])

    def description(self, topic: Topic) -> str:
        return topic.description or f"New research papers on {topic.name}."

    def items(self, topic: Topic) -> list[Paper]:
        index = recent_paper_index(today=timezone.localdate())
        ids = topic_paper_ids(topics=[topic], index=index)[topic.pk]
        return list(papers_by_ids(ids=ids)[:FEED_SIZE])

    def item_title(self, paper: Paper) -> str:
        return paper.title

    def item_link(self, paper: Paper) -> str:
        return paper.abs_url

    def item_description(self, paper: Paper) -> str:
        # Feed readers read this as HTML: abstracts hold `<`, `&` and TeX, so escape them.
        parts = [linebreaks(escape(paper.abstract))]
        if paper.editor_note:
            parts.insert(0, f"<p><strong>Editor's note:</strong> {escape(paper.editor_note)}</p>")
        if paper.code_url:
            parts.append(f'<p><a href="{escape(paper.code_url)}">Code</a></p>')
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


class TopicAtomFeed(TopicFeed):
    feed_type = Atom1Feed

    def subtitle(self, topic: Topic) -> str:
        return self.description(topic)
