"""Ingest throughput: parse and upsert generated arXiv API Atom entries, as a day's run would.

    DATABASE_URL=postgres://…/paperboy python -m bench.ingest [--entries 2000] [--json]

Writes into a throwaway database (bench_<name>, created and dropped here), never the
configured one. Reports entries/s for parsing alone, a first ingest (every paper created), a
re-ingest of the same response (every paper unchanged, nothing written) and an update (a new
version of every paper), each with its database query count.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from html import escape

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsletter.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from papers.ingest import ingest_records  # noqa: E402
from papers.sample_data import sample_papers  # noqa: E402
from papers.sources import arxiv_api  # noqa: E402

CATEGORIES = ["cs.CV", "cs.LG", "cs.CL", "cs.AI", "stat.ML"]
NAMES = ["Zoë Ångström", "Wei Zhang", 'J\\"urgen M\\"uller', "Sofia García", "Kenji Tanaka",
         "Mei Li", "Omar Haddad", "Fran\\c{c}ois Dubois"]  # fmt: skip


def atom_feed(*, entries: int, version: int, seed: int = 7) -> bytes:
    """An API search answer of `entries` papers built from the shipped sample papers, with
    arXiv's wrapped lines, several authors (some in TeX), categories and comments."""
    rng = random.Random(seed)
    samples = sample_papers()
    parts = []
    for number in range(entries):
        sample = samples[number % len(samples)]
        arxiv_id = f"2502.{10000 + number:05d}"
        primary, *others = rng.sample(CATEGORIES, k=rng.randint(1, 3))
        abstract = "\n".join(
            sample["abstract"][i : i + 78] for i in range(0, len(sample["abstract"]), 78)
        )
        parts.append(
            f"""  <entry>
    <id>http://arxiv.org/abs/{arxiv_id}v{version}</id>
    <updated>2025-02-1{version}T10:00:00Z</updated>
    <published>2025-02-11T{number % 24:02d}:{number % 60:02d}:00Z</published>
    <title>{escape(sample["title"])}</title>
    <summary>  {escape(abstract)}
</summary>
{"".join(f"    <author><name>{escape(n)}</name></author>{chr(10)}" for n in rng.sample(NAMES, 4))}\
    <arxiv:comment>{escape(sample["comment"])} v{version}</arxiv:comment>
    <link href="http://arxiv.org/abs/{arxiv_id}v{version}" rel="alternate" type="text/html"/>
    <arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="{primary}"/>
{"".join(f'    <category term="{c}"/>{chr(10)}' for c in [primary, *others])}\
  </entry>"""
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom"'
        ' xmlns:arxiv="http://arxiv.org/schemas/atom">\n'
        '  <opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">'
        f"{entries}</opensearch:totalResults>\n" + "\n".join(parts) + "\n</feed>\n"
    ).encode()


def _timed(step):
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        value = step()
        seconds = time.perf_counter() - started
    return value, seconds, len(queries.captured_queries)


def measure(*, entries: int) -> dict:
    """Throughput of each phase; call inside a database that may be written to."""
    first, second = atom_feed(entries=entries, version=1), atom_feed(entries=entries, version=2)
    document, parse_s, _ = _timed(lambda: arxiv_api.parse(first))
    assert len(document.records) == entries, "generated feed did not parse whole"

    def ingest(feed: bytes):
        parsed = arxiv_api.parse(feed)
        return ingest_records(records=parsed.records, kind=parsed.kind)

    created, create_s, create_q = _timed(lambda: ingest(first))
    unchanged, again_s, again_q = _timed(lambda: ingest(first))
    updated, update_s, update_q = _timed(lambda: ingest(second))
    assert (created.created, unchanged.unchanged, updated.updated) == (entries,) * 3
    return {
        "entries": entries,
        "feed_bytes": len(first),
        "parse_entries_per_s": round(entries / parse_s),
        "create_entries_per_s": round(entries / create_s),
        "create_queries": create_q,
        "reingest_entries_per_s": round(entries / again_s),
        "reingest_queries": again_q,
        "update_entries_per_s": round(entries / update_s),
        "update_queries": update_q,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    database = settings.DATABASES["default"]
    database.setdefault("TEST", {})["NAME"] = f"bench_{os.path.basename(str(database['NAME']))}"
    original = database["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        entries = args.entries
        result = measure(entries=entries)
        result["database"] = connection.vendor
    finally:
        connection.creation.destroy_test_db(original, verbosity=0)
    if args.json:
        print(json.dumps(result))
        return
    print(f"{entries} entries, {result['feed_bytes'] / 1e6:.1f} MB of Atom, {result['database']}")
    for label, key, note in [
        ("parse only", "parse", ""),
        ("parse + create", "create", f"{result['create_queries']} queries"),
        ("parse + re-ingest", "reingest", f"{result['reingest_queries']} queries, nothing written"),
        ("parse + update (v2)", "update", f"{result['update_queries']} queries"),
    ]:
        rate = result[f"{key}_entries_per_s"]
        print(f"  {label:<20} {rate:>7} entries/s" + (f"  ({note})" if note else ""))


if __name__ == "__main__":
    main()
