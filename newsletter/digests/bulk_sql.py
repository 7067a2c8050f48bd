"""Bulk SQL of the digest path: COPY inserts, a batch's items in one JSON value, one-row
updates, relaxed commit durability."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence

from django.db import connection, models
from django.db.backends.utils import CursorWrapper
from django.db.utils import InterfaceError, OperationalError

from newsletter.models import Digest, DigestItem


def copy_insert(objects: Sequence[models.Model], *, with_ids: bool = False) -> None:
    """New model instances in bulk (see copy_rows). With `with_ids`, ids are taken from the
    table's sequence first, so the objects know their pk as bulk_create's would."""
    if not objects:
        return
    model = type(objects[0])
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objects, batch_size=1000)
        return
    if with_ids:
        for obj, pk in zip(objects, next_ids(model, len(objects)), strict=True):
            obj.pk = pk
    fields = [f for f in model._meta.concrete_fields if with_ids or not f.primary_key]
    copy_rows(
        model,
        [f.attname for f in fields],
        ([f.pre_save(obj, add=True) for f in fields] for obj in objects),
    )
    for obj in objects:
        obj._state.adding, obj._state.db = False, connection.alias


def next_ids(model: type[models.Model], count: int) -> list[int]:
    """`count` fresh ids from the table's sequence (PostgreSQL), in one statement."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [model._meta.db_table, count],
        )
        return [pk for (pk,) in cursor.fetchall()]


def copy_rows(model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence]) -> None:
    """Insert rows (values in `columns` order) in bulk: PostgreSQL's COPY in production,
    bulk_create elsewhere. A run writes ~10 rows a reader; COPY is 3x cheaper than INSERT,
    and Django's client-side quoting of the digests' JSON lists cost ~0.8 ms a reader."""
    if connection.vendor != "postgresql":
        model.objects.bulk_create(
            [model(**dict(zip(columns, row, strict=True))) for row in rows], batch_size=1000
        )
        return
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    fields = [by_attname[column] for column in columns]
    is_json = [isinstance(f, models.JSONField) for f in fields]
    names = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {model._meta.db_table} ({names}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(
                [json.dumps(value) if j else value for value, j in zip(row, is_json, strict=True)]
            )


ItemRows = dict[int, list[tuple[int, list[dict[str, object]]]]]


def items_by_digest(digest_ids: Sequence[int]) -> ItemRows:
    """Per digest, its items' (paper id, reasons) in rank order. On PostgreSQL the batch's
    items come as one JSON document: decoding each row's reasons apart (~16 an email, with
    the ORM's converter around each) cost more than the rest of loading a batch."""
    items: ItemRows = {}
    if connection.vendor != "postgresql":
        for digest_id, paper_id, reasons in (
            DigestItem.objects.filter(digest_id__in=list(digest_ids))
            .order_by("digest_id", "rank")
            .values_list("digest_id", "paper_id", "reasons")
        ):
            items.setdefault(digest_id, []).append((paper_id, reasons))
        return items
    table = connection.ops.quote_name(DigestItem._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT json_agg(json_build_array(digest_id, paper_id, reasons)"
            f" ORDER BY digest_id, rank)::text FROM {table} WHERE digest_id = ANY(%s)",
            [list(digest_ids)],
        )
        (document,) = cursor.fetchone()
    for digest_id, paper_id, reasons in json.loads(document or "[]"):
        items.setdefault(digest_id, []).append((paper_id, reasons))
    return items


@functools.cache
def _update_statement(names: tuple[str, ...]) -> tuple[str, list[models.Field]]:
    fields = [Digest._meta.get_field(name) for name in names]
    columns = ", ".join(f"{connection.ops.quote_name(f.column)} = %s" for f in fields)
    table = connection.ops.quote_name(Digest._meta.db_table)
    return f"UPDATE {table} SET {columns} WHERE id = %s", fields  # type: ignore[return-value]


class DigestUpdates:
    """One-row UPDATEs of digests in plain SQL over one cursor, kept for a whole batch: they
    run once per email (the "sent" mark), and the ORM's query building cost ~0.35 ms of each,
    opening a cursor per statement another ~0.07 ms. If the database connection was lost (a
    restarted server), reconnect and try once more, so a message the server accepted is not
    sent again."""

    def __init__(self) -> None:
        self._cursor: CursorWrapper | None = None

    def update(self, digest_id: int, **fields: object) -> None:
        statement, columns = _update_statement(tuple(fields))
        params = [
            field.get_db_prep_save(value, connection)
            for field, value in zip(columns, fields.values(), strict=True)
        ]
        for attempt in (1, 2):
            try:
                if self._cursor is None:
                    self._cursor = connection.cursor()
                self._cursor.execute(statement, [*params, digest_id])
                return
            except (OperationalError, InterfaceError):
                self._cursor = None
                if attempt == 2:
                    raise
                connection.close()

    def close(self) -> None:
        cursor, self._cursor = self._cursor, None
        if cursor is not None:
            try:
                cursor.close()
            except (OperationalError, InterfaceError):
                pass


def relax_commit_durability() -> bool:
    """Commit without waiting for the disk flush (PostgreSQL only): until the transaction
    ends when called inside one (building digests), else for the connection until
    restore_commit_durability (True is returned then: the batch loop's "sent" marks).

    A "sent" mark is still committed before the next message is tried, so a killed worker loses
    nothing; only a crash of the database server itself could forget the last few hundred
    milliseconds of marks (and resend those digests, same Message-ID). Waiting for the flush
    cost ~1-2 ms per email, as much as sending it.
    """
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        if connection.in_atomic_block:  # until this transaction ends; nothing to restore
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
            return False
        cursor.execute("SET synchronous_commit TO OFF")
    return True


def restore_commit_durability() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO DEFAULT")
    except (OperationalError, InterfaceError):
        connection.close()  # a fresh connection starts with the default anyway
