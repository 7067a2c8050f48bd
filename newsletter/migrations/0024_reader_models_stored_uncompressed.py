"""Reader models' bytes stored as they are: they are float16 arrays, which pglz barely
shrinks, yet compressing each ~55 KB model on every retrain cost the server CPU."""

from django.db import migrations

MODEL_COLUMNS = ("weights", "embedding_weights")


def uncompressed(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in MODEL_COLUMNS:
        schema_editor.execute(
            f"ALTER TABLE newsletter_readermodel ALTER COLUMN {column} SET STORAGE EXTERNAL"
        )


def compressed(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in MODEL_COLUMNS:
        schema_editor.execute(
            f"ALTER TABLE newsletter_readermodel ALTER COLUMN {column} SET STORAGE EXTENDED"
        )


class Migration(migrations.Migration):
    dependencies = [("newsletter", "0023_digest_list_index")]

    operations = [migrations.RunPython(uncompressed, compressed, elidable=False)]
