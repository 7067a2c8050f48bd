"""Public paper pages and topic feeds."""

app_name = "papers"

urlpatterns: list = []
