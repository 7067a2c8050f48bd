"""Titles and abstracts stored before ingestion made LaTeX readable get the same treatment,
so old and new papers read (and match) alike. Re-running it changes nothing."""

from django.db import migrations
from django.db.models import Q

from papers.latex import readable

CHUNK = 1000


def make_latex_readable(apps, schema_editor):
    Paper = apps.get_model("papers", "Paper")
    has_latex = Q(title__contains="$") | Q(title__contains="\\")
    has_latex |= Q(abstract__contains="$") | Q(abstract__contains="\\")
    last_pk = 0
    while True:
        chunk = list(
            Paper.objects.filter(has_latex, pk__gt=last_pk)
            .order_by("pk")
            .only("pk", "title", "abstract")[:CHUNK]
        )
        if not chunk:
            return
        changed = []
        for paper in chunk:
            title, abstract = readable(paper.title), readable(paper.abstract)
            if (title, abstract) != (paper.title, paper.abstract):
                paper.title, paper.abstract = title, abstract
                changed.append(paper)
        Paper.objects.bulk_update(changed, ["title", "abstract"])
        last_pk = chunk[-1].pk


class Migration(migrations.Migration):
    dependencies = [("papers", "0004_only_web_links")]

    operations = [migrations.RunPython(make_latex_readable, migrations.RunPython.noop)]
