"""Public paper pages and topic feeds."""

from __future__ import annotations

import datetime as dt

from django.urls import path, register_converter

from papers import feeds, views
from papers.public_cache import cached_public_page


class IsoDateConverter:
    regex = r"\d{4}-\d{2}-\d{2}"

    def to_python(self, value: str) -> dt.date:
        return dt.date.fromisoformat(value)  # ValueError (2025-02-30) makes the URL not match

    def to_url(self, value: dt.date) -> str:
        return value.isoformat()


register_converter(IsoDateConverter, "isodate")

app_name = "papers"

urlpatterns = [
    path("papers/", views.latest_day, name="latest"),
    path("papers/<isodate:day>/", views.day_papers, name="day"),
    path("topics/", views.topic_list, name="topics"),
    path("topics/<slug:slug>/", views.topic_papers, name="topic"),
    path(
        "topics/<slug:slug>/rss/",
        cached_public_page(feeds.TopicFeed(), paged=False),
        name="topic_rss",
    ),
    path(
        "topics/<slug:slug>/atom/",
        cached_public_page(feeds.TopicAtomFeed(), paged=False),
        name="topic_atom",
    ),
]
