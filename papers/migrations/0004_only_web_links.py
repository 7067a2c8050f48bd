"""Only http(s) links for a paper's code and project page: clear any other link already stored
(a javascript:, data: or vbscript: link from a feed), and let editors type none."""

import re
from urllib.parse import urlsplit

import django.core.validators
from django.db import migrations, models

_UNSAFE = re.compile(r"[\x00-\x20\x7f-\x9f]")


def _is_web_link(url):
    # The rule of papers.normalise.http_link as it was written for this migration.
    if _UNSAFE.search(url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def clear_other_links(apps, schema_editor):
    Paper = apps.get_model("papers", "Paper")
    for field in ("code_url", "project_url"):
        rows = Paper.objects.exclude(**{field: ""}).values_list("pk", field)
        bad = [pk for pk, url in rows.iterator() if not _is_web_link(url)]
        for start in range(0, len(bad), 1000):
            Paper.objects.filter(pk__in=bad[start : start + 1000]).update(**{field: ""})


class Migration(migrations.Migration):
    dependencies = [
        ("papers", "0003_fetch_run_completeness"),
    ]

    operations = [
        migrations.RunPython(clear_other_links, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="paper",
            name="code_url",
            field=models.URLField(
                blank=True,
                max_length=500,
                validators=[django.core.validators.URLValidator(schemes=["http", "https"])],
            ),
        ),
        migrations.AlterField(
            model_name="paper",
            name="project_url",
            field=models.URLField(
                blank=True,
                max_length=500,
                validators=[django.core.validators.URLValidator(schemes=["http", "https"])],
            ),
        ),
    ]
