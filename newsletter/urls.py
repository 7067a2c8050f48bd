"""The site's URLs, all in one place: the project's root URLconf (the papers app keeps its own
day pages in papers/urls.py; everything of the newsletter app is listed here)."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from newsletter import (
    digest_views,
    feeds,
    health,
    rating_views,
    site_views,
    topic_views,
    views,
    webhooks,
)
from newsletter.recommend import views as recommend_views
from papers.public_cache import cached_public_page

# Reader-facing pages: sign-up, confirm, manage, unsubscribe, digests, feeds, topics.
newsletter_urlpatterns = [
    path("", views.signup, name="signup"),
    path("preview/", views.preview, name="preview"),
    path("manage/link/", views.request_manage_link, name="request_manage_link"),
    path("confirm/<str:token>/", views.confirm, name="confirm"),
    path("manage/<str:token>/", views.manage, name="manage"),
    path("manage/<str:token>/delete/", views.delete, name="delete"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("digest/<str:token>/", digest_views.view_digest, name="view_digest"),
    path("digest/<str:token>/more/", digest_views.digest_more, name="digest_more"),
    path("feed/<str:token>/", feeds.SubscriberFeed(), name="feed"),
    path("rate/<str:token>/", rating_views.rate, name="rate"),
    path("papers/<int:paper_id>/like-this/", recommend_views.paper_like_this, name="like_this"),
    path("topics/", topic_views.topic_list, name="topics"),
    path("topics/<slug:slug>/", topic_views.topic_papers, name="topic"),
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

# The app list beside every admin page took 300 px from the paper list, which then hid its
# last columns at 1280 px; the admin's home page lists the apps already.
admin.site.enable_nav_sidebar = False

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("favicon.ico", site_views.favicon),
    path("language/<str:code>/", site_views.switch_language, name="switch_language"),
    path(settings.ADMIN_URL, admin.site.urls),
    path("", include("papers.urls")),
    path("", include((newsletter_urlpatterns, "newsletter"))),
    # Email providers' bounce/complaint webhooks, e.g. webhooks/anymail/postmark/tracking/
    path("webhooks/anymail/", include((webhooks.urlpatterns, "anymail"))),
]
