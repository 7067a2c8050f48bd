"""The three sources Paperboy reads, on by default for the usual ML categories."""

from django.db import migrations

DEFAULT_CATEGORIES = ["cs.CV", "cs.LG", "cs.CL", "cs.AI", "stat.ML"]


def create_sources(apps, schema_editor):
    Source = apps.get_model("papers", "Source")
    for name, kind in [
        ("arxiv-rss", "arxiv_rss"),
        ("arxiv-api", "arxiv_api"),
        ("hf-daily", "hf_daily"),
    ]:
        Source.objects.get_or_create(
            name=name,
            defaults={
                "kind": kind,
                "categories": [] if kind == "hf_daily" else DEFAULT_CATEGORIES,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("papers", "0001_initial")]

    operations = [migrations.RunPython(create_sources, migrations.RunPython.noop)]
