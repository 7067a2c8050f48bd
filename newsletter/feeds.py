"""RSS and Atom feeds: each topic's recent papers, and each reader's own matches and
follow-ups (private)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed

from newsletter.followups import FollowUpFeedItem, followup_feed_items
from newsletter.models import Subscriber, Topic
from newsletter.selectors import (
    recent_papers,
    subscriber_from_token,
    subscription_paper_ids,
    topic_recent_paper_ids,
)
from newsletter.signing import BadToken, Purpose, signed_url
from papers.feeds import FEED_SIZE, PaperFeed
from papers.models import Paper
from papers.selectors import papers_in_order


class TopicFeed(PaperFeed):
    """A topic's papers of the last days, newest first."""

    def get_object(self, request: HttpRequest, slug: str) -> Topic:
        return get_object_or_404(Topic, slug=slug, is_active=True)

    def title(self, topic: Topic) -> str:
        return f"{settings.SITE_NAME}: {topic.local_name}"

    def link(self, topic: Topic) -> str:
        return reverse("newsletter:topic", args=[topic.slug])

    def description(self, topic: Topic) -> str:
        return topic.local_description or f"New research papers on {topic.local_name}."

    def items(self, topic: Topic) -> list[Paper]:
        return papers_in_order(ids=topic_recent_paper_ids(topic=topic)[:FEED_SIZE])


class TopicAtomFeed(TopicFeed):
    feed_type = Atom1Feed

    def subtitle(self, topic: Topic) -> str:
        return self.description(topic)


# A reader who left, or never confirmed, has no feed; a paused or bounced one still reads it.
FEED_STATUSES = (
    Subscriber.Status.ACTIVE,
    Subscriber.Status.PAUSED,
    Subscriber.Status.SUPPRESSED,
)


class SubscriberFeed(PaperFeed):
    """One reader's matches over the recent days (their topics and own filter), by signed link.

    Uses the same per-process index as the sign-up preview, so a feed reader polling every
    hour costs two small queries, not an index build.
    """

    def __call__(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        response = super().__call__(request, *args, **kwargs)
        response["Cache-Control"] = "private, max-age=900"
        response["X-Robots-Tag"] = "noindex"
        return response

    def get_object(self, request: HttpRequest, token: str) -> Subscriber:
        try:
            subscriber = subscriber_from_token(token, purpose=Purpose.FEED)
        except BadToken as error:
            raise Http404("This feed link is not valid.") from error
        if subscriber.status not in FEED_STATUSES:
            raise Http404("This subscription has ended.")
        return subscriber

    def title(self, subscriber: Subscriber) -> str:
        return f"{settings.SITE_NAME}: papers for you"

    def link(self, subscriber: Subscriber) -> str:
        return reverse("papers:latest")

    def description(self, subscriber: Subscriber) -> str:
        return "New research papers matching your topics and filters."

    def items(self, subscriber: Subscriber) -> list[Paper | FollowUpFeedItem]:
        # Follow-ups first: the "Updates on papers you got" the reader's digests told them.
        followups: list[Paper | FollowUpFeedItem] = list(
            followup_feed_items(subscriber_id=subscriber.pk)
        )
        return followups + self.matches(subscriber)

    def matches(self, subscriber: Subscriber) -> list[Paper]:
        recent = recent_papers()
        ids = subscription_paper_ids(
            topics=subscriber.topics.filter(is_active=True),
            query=subscriber.own_query,
            categories=subscriber.categories,
            authors=subscriber.authors,
            index=recent.index,
        )
        if not subscriber.include_cross_lists:
            ids -= recent.cross_list_ids
        ordered = [paper_id for paper_id in recent.ids_in_display_order if paper_id in ids]
        return papers_in_order(ids=ordered[:FEED_SIZE])

    # A follow-up reads as its kind and paper, linking the code or the paper; papers read as
    # in every feed.
    def item_title(self, item: Paper | FollowUpFeedItem) -> str:
        return item.title if isinstance(item, FollowUpFeedItem) else super().item_title(item)

    def item_link(self, item: Paper | FollowUpFeedItem) -> str:
        return item.link if isinstance(item, FollowUpFeedItem) else super().item_link(item)

    def item_guid(self, item: Paper | FollowUpFeedItem) -> str:
        return item.guid if isinstance(item, FollowUpFeedItem) else super().item_link(item)

    def item_guid_is_permalink(self, item: Paper | FollowUpFeedItem) -> bool:
        return not isinstance(item, FollowUpFeedItem)

    def item_description(self, item: Paper | FollowUpFeedItem) -> str:
        if isinstance(item, FollowUpFeedItem):
            # The email's own wording, autoescaped, its code link through |http_link.
            return render_to_string("emails/followup-news.html", {"news": item.news}).strip()
        return super().item_description(item)

    def item_pubdate(self, item: Paper | FollowUpFeedItem) -> dt.datetime | None:
        return item.sent_at if isinstance(item, FollowUpFeedItem) else super().item_pubdate(item)

    def item_author_name(self, item: Paper | FollowUpFeedItem) -> str:
        return "" if isinstance(item, FollowUpFeedItem) else super().item_author_name(item)

    def item_categories(self, item: Paper | FollowUpFeedItem) -> list[str]:
        return [] if isinstance(item, FollowUpFeedItem) else super().item_categories(item)


def subscriber_feed_url(subscriber: Subscriber) -> str:
    """The absolute, signed address of a reader's private feed (it never expires)."""
    return signed_url(purpose=Purpose.FEED, subject_id=subscriber.pk, email=subscriber.email)
