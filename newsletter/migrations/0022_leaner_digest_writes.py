"""Fewer writes per digest: no index on Digest.subscriber (the unique (subscriber, edition)
index serves it), no database foreign keys from DigestItem to the reader and the paper, and
room in the readers' pages so a run's last_digest_on update stays on its page (a HOT update:
no new entry in any of the table's seven indexes), and the "more" lists compressed with lz4
where the server has it (pglz cost ~10 µs a digest on insert, and "never twice" reads the
ids of a week of digests back for every batch)."""

import django.db.models.deletion
from django.db import migrations, models


MORE_LISTS = ("more_paper_ids", "more_reasons")


def _has_lz4(schema_editor) -> bool:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def cheaper_writes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("ALTER TABLE newsletter_subscriber SET (fillfactor = 85)")
    if _has_lz4(schema_editor):
        for column in MORE_LISTS:
            schema_editor.execute(
                f"ALTER TABLE newsletter_digest ALTER COLUMN {column} SET COMPRESSION lz4"
            )


def default_writes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("ALTER TABLE newsletter_subscriber RESET (fillfactor)")
    for column in MORE_LISTS:
        schema_editor.execute(
            f"ALTER TABLE newsletter_digest ALTER COLUMN {column} SET COMPRESSION DEFAULT"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("newsletter", "0021_task_names_and_title_exclusions"),
        ("papers", "0008_paper_change_marks_and_upvote_counts"),
    ]

    operations = [
        migrations.AlterField(
            model_name="digest",
            name="subscriber",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="digests",
                to="newsletter.subscriber",
            ),
        ),
        migrations.AlterField(
            model_name="digestitem",
            name="paper",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="papers.paper",
            ),
        ),
        migrations.AlterField(
            model_name="digestitem",
            name="subscriber",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="newsletter.subscriber",
            ),
        ),
        migrations.RunPython(cheaper_writes, default_writes, elidable=True),
    ]
