"""Reader-facing pages of the newsletter app: signup, confirm, manage, unsubscribe."""

from django.urls import path

from newsletter import views

app_name = "newsletter"

urlpatterns = [
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
