"""Keep the "more" page on the digest row (two JSON lists) instead of ~50 item rows a reader.

A 100k-reader day wrote ~6 million item rows, and every row cost index upkeep in each of the
table's indexes; the email's own ~10 papers stay rows (their unique index keeps a paper out of
a reader's inbox twice).
"""

from django.db import migrations, models

CHUNK = 2000


def move_more_items_to_digests(apps, schema_editor):
    Digest = apps.get_model("newsletter", "Digest")
    DigestItem = apps.get_model("newsletter", "DigestItem")
    more = DigestItem.objects.filter(in_email=False)
    digest_ids = list(more.values_list("digest_id", flat=True).distinct().order_by("digest_id"))
    for start in range(0, len(digest_ids), CHUNK):
        chunk = digest_ids[start : start + CHUNK]
        pages: dict[int, tuple[list, list]] = {pk: ([], []) for pk in chunk}
        for digest_id, paper_id, reasons in (
            more.filter(digest_id__in=chunk)
            .order_by("digest_id", "rank")
            .values_list("digest_id", "paper_id", "reasons")
        ):
            pages[digest_id][0].append(paper_id)
            pages[digest_id][1].append(reasons)
        Digest.objects.bulk_update(
            [
                Digest(pk=pk, more_paper_ids=ids, more_reasons=reasons)
                for pk, (ids, reasons) in pages.items()
            ],
            ["more_paper_ids", "more_reasons"],
        )
        more.filter(digest_id__in=chunk).delete()


def move_more_pages_back_to_items(apps, schema_editor):
    Digest = apps.get_model("newsletter", "Digest")
    DigestItem = apps.get_model("newsletter", "DigestItem")
    rows = []
    for digest in Digest.objects.exclude(more_paper_ids=[]).only(
        "pk", "subscriber_id", "paper_count", "more_paper_ids", "more_reasons"
    ):
        for offset, (paper_id, reasons) in enumerate(
            zip(digest.more_paper_ids, digest.more_reasons, strict=True)
        ):
            rows.append(
                DigestItem(
                    digest_id=digest.pk,
                    subscriber_id=digest.subscriber_id,
                    paper_id=paper_id,
                    rank=digest.paper_count + 1 + offset,
                    in_email=False,
                    reasons=reasons,
                )
            )
    DigestItem.objects.bulk_create(rows, batch_size=CHUNK, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [("newsletter", "0006_drop_redundant_digest_indexes")]

    operations = [
        migrations.AddField(
            model_name="digest",
            name="more_paper_ids",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="digest",
            name="more_reasons",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.RunPython(move_more_items_to_digests, move_more_pages_back_to_items),
    ]
