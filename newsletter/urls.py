"""The site's URLs: the project's root URLconf."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from newsletter import views, webhooks

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path(settings.ADMIN_URL, admin.site.urls),
    path("", include("papers.urls")),
    path("", include("newsletter.web_urls")),
    # Email providers' bounce/complaint webhooks, e.g. webhooks/anymail/postmark/tracking/
    path("webhooks/anymail/", include((webhooks.urlpatterns, "anymail"))),
]
