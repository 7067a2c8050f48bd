"""One subscriber per mailbox whatever the letter case: a unique index on lower(email)."""

import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("newsletter", "0012_merge_mailbox_duplicates"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="subscriber",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Lower("email"),
                name="subscriber_one_per_mailbox",
                violation_error_message="A subscriber with this address, in any letter case, already exists.",
            ),
        ),
    ]
