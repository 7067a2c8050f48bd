"""The admin's digest list, newest first, and its date filter over a year of digests."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("newsletter", "0022_leaner_digest_writes"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="digest",
            index=models.Index(fields=["edition_on", "created_at"], name="digest_edition_created"),
        ),
    ]
