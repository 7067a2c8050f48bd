"""Reader-facing pages of the newsletter app: signup, confirm, manage, unsubscribe."""

from django.urls import path

from newsletter import digest_views, views
from papers.feeds import SubscriberFeed

app_name = "newsletter"

urlpatterns = [
    path("", views.signup, name="signup"),
    path("preview/", views.preview, name="preview"),
    path("manage/link/", views.request_manage_link, name="request_manage_link"),
    path("confirm/<str:token>/", views.confirm, name="confirm"),
    path("manage/<str:token>/", views.manage, name="manage"),
    path("manage/<str:token>/delete/", views.delete, name="delete"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("digest/<str:token>/", digest_views.view_digest, name="view_digest"),
    path("digest/<str:token>/more/", digest_views.digest_more, name="digest_more"),
    path("feed/<str:token>/", SubscriberFeed(), name="feed"),
]
