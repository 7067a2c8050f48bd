"""Admin for topics, subscribers and digests."""

from django.contrib import admin

from newsletter.models import Digest, Subscriber, Topic


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ["name", "query", "is_active", "position"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    list_display = ["email", "status", "frequency", "send_hour_local", "time_zone"]
    list_filter = ["status", "frequency"]
    search_fields = ["email"]


@admin.register(Digest)
class DigestAdmin(admin.ModelAdmin):
    list_display = ["subscriber", "edition_on", "status", "paper_count", "sent_at"]
    list_filter = ["status", "edition_on"]
    list_select_related = ["subscriber"]
