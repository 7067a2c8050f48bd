"""The admin's word search (papers/word_search.py): a GIN index, on PostgreSQL only."""

from django.db import migrations

from papers.word_search import PAPER_WORDS

INDEX = "paper_words"


def create_index(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON papers_paper USING gin ({PAPER_WORDS})"
        )


def drop_index(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("papers", "0008_paper_change_marks_and_upvote_counts"),
    ]

    operations = [migrations.RunPython(create_index, drop_index)]
