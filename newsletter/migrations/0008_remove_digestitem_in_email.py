"""Every item row is in the email now (0007 moved the "more" page to the digest row); a
separate migration, so the column is dropped in a transaction that moved no rows."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("newsletter", "0007_more_page_on_the_digest")]

    operations = [migrations.RemoveField(model_name="digestitem", name="in_email")]
