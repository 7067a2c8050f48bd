"""Merge subscribers whose addresses differ only in letter case (two sign-ups at the same
moment could make both), before 0013 lets the database hold one per mailbox.

The row kept has the most advanced status — suppressed (never mail a mailbox that bounced
or complained), then active, paused, unsubscribed, pending — and, among equals, is the
oldest. It gains the others' topics, their earliest sign-up and confirmation, their latest
digest date and highest soft-bounce count, and their digests: a digest of an edition it has
no digest for moves over whole; one of an edition it has gives that digest the papers and
"more" papers it lacks. Every paper ever sent to the mailbox stays recorded, so none is
sent again.
"""

from django.db import migrations
from django.db.models import Count, Max
from django.db.models.functions import Lower

STATUS_ORDER = ["pending", "unsubscribed", "paused", "active", "suppressed"]


def merge_mailbox_duplicates(apps, schema_editor):
    Subscriber = apps.get_model("newsletter", "Subscriber")
    mailboxes = (
        Subscriber.objects.annotate(mailbox=Lower("email"))
        .values("mailbox")
        .annotate(rows=Count("pk"))
        .filter(rows__gt=1)
        .values_list("mailbox", flat=True)
    )
    for mailbox in list(mailboxes):
        rows = list(
            Subscriber.objects.annotate(mailbox=Lower("email"))
            .filter(mailbox=mailbox)
            .order_by("pk")
        )
        keeper = max(rows, key=lambda row: (STATUS_ORDER.index(row.status), -row.pk))
        for other in rows:
            if other.pk != keeper.pk:
                _merge(apps, other, into=keeper)
        keeper.save()


def _merge(apps, other, *, into):
    Digest = apps.get_model("newsletter", "Digest")
    DigestItem = apps.get_model("newsletter", "DigestItem")
    keeper = into
    keeper.topics.add(*other.topics.all())
    keeper.created_at = min(keeper.created_at, other.created_at)
    confirmed = [moment for moment in (keeper.confirmed_at, other.confirmed_at) if moment]
    keeper.confirmed_at = min(confirmed) if confirmed else None
    days = [day for day in (keeper.last_digest_on, other.last_digest_on) if day]
    keeper.last_digest_on = max(days) if days else None
    keeper.soft_bounce_count = max(keeper.soft_bounce_count, other.soft_bounce_count)

    sent_papers = set(DigestItem.objects.filter(subscriber=keeper).values_list("paper", flat=True))
    kept_editions = {digest.edition_on: digest for digest in Digest.objects.filter(subscriber=keeper)}
    for digest in Digest.objects.filter(subscriber=other).order_by("edition_on"):
        items = list(DigestItem.objects.filter(digest=digest).order_by("rank"))
        target = kept_editions.get(digest.edition_on)
        if target is None:
            # An edition the kept row lacks: the digest moves over whole.
            digest.subscriber = keeper
            digest.save(update_fields=["subscriber"])
            kept_editions[digest.edition_on] = digest
            for item in items:
                if item.paper_id in sent_papers:
                    item.delete()  # recorded as sent to this mailbox already
                    continue
                item.subscriber = keeper
                item.save(update_fields=["subscriber"])
                sent_papers.add(item.paper_id)
            continue
        # The same edition on both rows: the kept digest gains what it lacks; the other
        # digest goes with the other row.
        known = set(target.more_paper_ids)
        for paper_id, reasons in zip(digest.more_paper_ids, digest.more_reasons, strict=False):
            if paper_id not in known:
                target.more_paper_ids.append(paper_id)
                target.more_reasons.append(reasons)
                known.add(paper_id)
        target.save(update_fields=["more_paper_ids", "more_reasons"])
        rank = DigestItem.objects.filter(digest=target).aggregate(Max("rank"))["rank__max"] or 0
        for item in items:
            if item.paper_id in sent_papers:
                continue
            rank += 1
            item.digest, item.subscriber, item.rank = target, keeper, rank
            item.save(update_fields=["digest", "subscriber", "rank"])
            sent_papers.add(item.paper_id)
    Subscriber = apps.get_model("newsletter", "Subscriber")
    Subscriber.objects.filter(pk=other.pk).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("newsletter", "0011_revised_starting_topics"),
    ]

    operations = [
        migrations.RunPython(merge_mailbox_duplicates, migrations.RunPython.noop),
    ]
