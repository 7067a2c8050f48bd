"""Move a digest's "more" page lists out of the row itself (PostgreSQL TOAST), so the two
status updates every digest gets in a run copy ~150 bytes, not ~1 KB.

An UPDATE writes a whole new row version; with the lists inline, a 100k-reader run wrote
~300 MB of digest rows and WAL for two status changes each. Out of line, an unchanged list is
kept by reference.
"""

from django.db import migrations

TABLE = "newsletter_digest"


def toast_early(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {TABLE} SET (toast_tuple_target = 128)")


def toast_by_default(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {TABLE} RESET (toast_tuple_target)")


class Migration(migrations.Migration):
    dependencies = [("newsletter", "0008_remove_digestitem_in_email")]

    operations = [migrations.RunPython(toast_early, toast_by_default)]
