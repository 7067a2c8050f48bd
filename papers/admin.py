"""Admin for papers, sources and fetch runs."""

from django.contrib import admin

from papers.models import FetchRun, Paper, Source


@admin.register(Paper)
class PaperAdmin(admin.ModelAdmin):
    list_display = ["arxiv_id", "title", "announced_on", "primary_category", "hf_upvotes"]
    search_fields = ["arxiv_id", "title"]
    list_filter = ["announced_on", "is_featured", "is_hidden"]


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "enabled"]


@admin.register(FetchRun)
class FetchRunAdmin(admin.ModelAdmin):
    list_display = ["started_at", "source", "status", "entries_read", "created_count"]
    list_filter = ["status", "source"]
