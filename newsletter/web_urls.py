"""Reader-facing pages of the newsletter app: signup, confirm, manage, unsubscribe."""

app_name = "newsletter"

urlpatterns: list = []
