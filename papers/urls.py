"""Public paper pages: the latest announcement day and any earlier day."""

from __future__ import annotations

import datetime as dt

from django.urls import path, register_converter

from papers import views


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
]
