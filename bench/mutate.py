"""Break the product one line at a time, each in a scratch copy, and see which breaks the tests
catch: a refactor is only as safe as the tests that would notice a slip.

    python -m bench.mutate               # every mutant (make mutate)
    python -m bench.mutate --list        # what each mutant breaks, and its tests
    python -m bench.mutate NAME ...      # only these
    python -m bench.mutate --faults      # also the fault tests of the mutants that have them
    python -m bench.mutate --keep        # leave the scratch copy

Each mutant is a search/replace on one file, so it follows the code when it moves: update
`path` and `search`. The run stops before anything else when a search text is no longer
found (or found more often than the mutant says): a mutant that silently stopped applying
would report nothing. The tree is copied (tracked and untracked files, as `git ls-files`
lists them) into a temporary folder per run; the real tree is never written. The tests run
there against `<DATABASE_URL name>_mutate`, first once unmutated (they must pass), then
once per mutant: a failing test is a caught mutant, passing tests a missed one, anything
else (a test that no longer exists, a crash) an error. Exits 0 only if every mutant is
caught. The Redis dbs are the caller's (the Makefile's), so don't run it beside `make test`
of the same checkout.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutant:
    name: str
    promise: str
    path: str
    search: str
    replace: str
    tests: tuple[str, ...]  # in `make test`
    fault_tests: tuple[str, ...] = ()  # in `make test-faults`, run with --faults
    occurrences: int = 1  # how many times `search` must be found (all are replaced)


MUTANTS = [
    Mutant(
        name="more-page-forgotten",
        promise="never resend a paper that was on a 'more' page",
        path="newsletter/digests/building.py",
        search="        sent[subscriber_id].update(more_paper_ids)",
        replace="        pass  # mutant: the 'more' page's papers are not counted as sent",
        tests=(
            "tests/newsletter/test_digest_matching.py"
            "::test_a_paper_on_an_earlier_more_page_never_comes_back_even_when_announced_again",
        ),
    ),
    Mutant(
        name="clip-budget-101k",
        promise="the 98 KB clipping margin (Gmail clips past ~102 KB)",
        path="newsletter/digests/render.py",
        search="HTML_BUDGET_BYTES = 98 * 1024",
        replace="HTML_BUDGET_BYTES = 101 * 1024",
        tests=("tests/newsletter/test_digest_email.py",),
    ),
    Mutant(
        name="clip-budget-102k",
        promise="the 98 KB clipping margin (Gmail clips past ~102 KB)",
        path="newsletter/digests/render.py",
        search="HTML_BUDGET_BYTES = 98 * 1024",
        replace="HTML_BUDGET_BYTES = 102 * 1024",
        tests=("tests/newsletter/test_digest_email.py",),
    ),
    Mutant(
        name="phrase-exclusion-ignored",
        promise='-"a phrase" leaves out every paper with that phrase',
        path="newsletter/matching.py",
        search="            result -= self.term_papers(term)",
        replace="            result -= self.term_papers(term) if len(term.words) == 1 else set()",
        tests=(
            "tests/newsletter/test_matching_properties.py"
            "::test_an_excluded_word_or_phrase_drops_exactly_the_papers_containing_it",
        ),
    ),
    Mutant(
        name="lease-never-renewed",
        promise="a running batch renews its lease",
        path="newsletter/digests/delivery.py",
        search="            if time.monotonic() - renewed_at > renew_every:",
        replace="            if False:  # mutant: the lease is never renewed",
        tests=(
            "tests/newsletter/test_sending.py"
            "::test_a_batch_that_outlasts_its_lease_keeps_every_digest_until_it_is_sent",
        ),
    ),
    Mutant(
        name="sent-mark-tried-once",
        promise="the 'sent' mark is retried after a lost database connection",
        path="newsletter/digests/bulk_sql.py",
        search="    for attempt in (1, 2):",
        replace="    for attempt in (1,):",
        tests=(
            "tests/newsletter/test_sending.py"
            "::test_a_sent_mark_cut_off_by_a_lost_database_connection_is_retried_and_nothing_is_resent",
        ),
        fault_tests=(
            "tests/newsletter/test_digest_faults.py"
            "::test_database_connections_cut_mid_run_are_retried_and_nothing_doubles",
        ),
    ),
    Mutant(
        name="soft-bounce-default-5",
        promise="the default soft-bounce limit is 3",
        path="newsletter/settings.py",
        search='SOFT_BOUNCE_LIMIT = env.int("SOFT_BOUNCE_LIMIT", default=3)',
        replace='SOFT_BOUNCE_LIMIT = env.int("SOFT_BOUNCE_LIMIT", default=5)',
        tests=(
            "tests/newsletter/test_sending.py"
            "::test_soft_bounces_suppress_after_the_documented_threshold",
        ),
        fault_tests=(
            "tests/newsletter/test_digest_faults.py"
            "::test_soft_bounces_on_three_editions_suppress_the_address_and_the_others_go_on",
        ),
    ),
    Mutant(
        name="existing-digests-rebuilt",
        promise="a run never rebuilds digests that exist (two runs at once, then a rerun)",
        path="newsletter/digests/building.py",
        search=(
            "        missing = [s for s in subscribers if (s.pk, editions[s.pk]) not in existing]"
        ),
        replace="        missing = list(subscribers)",
        tests=(
            "tests/newsletter/test_sending.py"
            "::test_two_runs_of_the_same_day_at_once_send_each_digest_once",
        ),
    ),
    Mutant(
        name="claims-not-exclusive",
        promise="two workers never hold the same digest",
        path="newsletter/digests/claims.py",
        search=(
            "(Q(status=Digest.Status.SENDING) & "
            "(Q(lease_expires_at__lte=now) | Q(claimed_by=token)))"
        ),
        replace="Q(status=Digest.Status.SENDING)",
        tests=(
            "tests/newsletter/test_sending.py"
            "::test_a_claimed_digest_cannot_be_claimed_by_another_worker",
        ),
    ),
    Mutant(
        name="bad-mailbox-not-suppressed",
        promise="550 5.1.1 suppresses the address at once",
        path="newsletter/mail/outcomes.py",
        search="        if enhanced and is_bad_mailbox(enhanced.group(0)):",
        replace="        if False:  # mutant: 5.1.x is an ordinary refusal",
        tests=(
            "tests/newsletter/test_sending.py"
            "::test_550_5_1_1_suppresses_the_address_at_once_and_the_batch_goes_on",
        ),
    ),
    Mutant(
        name="header-injection",
        promise="a line break never reaches a header",
        path="newsletter/mail/mime.py",
        search='    if "\\r" in value or "\\n" in value:',
        replace="    if False:  # mutant: line breaks pass into headers",
        tests=("tests/newsletter/test_abuse.py", "tests/newsletter/test_sending.py"),
    ),
    Mutant(
        name="one-click-needs-csrf",
        promise="one-click unsubscribe works without a cookie or CSRF token (RFC 8058)",
        path="newsletter/views.py",
        search="@csrf_exempt\n@never_cache\n@require_http_methods",
        replace="@never_cache\n@require_http_methods",
        tests=("tests/newsletter/test_unsubscribe.py",),
    ),
    Mutant(
        name="token-purpose-ignored",
        promise="a signed link opens only the page of its purpose",
        path="newsletter/signing.py",
        search='f"paperboy.link-token.{purpose}".encode()',
        replace='b"paperboy.link-token"',
        tests=("tests/newsletter/test_abuse.py",),
    ),
    Mutant(
        name="token-address-ignored",
        promise="a signed link dies with the address it was made for",
        path="newsletter/signing.py",
        search="    if row is None or not claims.names(email_of(row)):",
        replace="    if row is None:",
        tests=("tests/newsletter/test_abuse.py", "tests/newsletter/test_unsubscribe.py"),
    ),
    Mutant(
        name="honeypot-ignored",
        promise="a filled honeypot stores and sends nothing",
        path="newsletter/views.py",
        search=(
            '    if not form.cleaned_data["website"]:\n        address_requests.signup_enqueue('
        ),
        replace="    if True:\n        address_requests.signup_enqueue(",
        tests=("tests/newsletter/test_signup.py::test_a_honeypot_hit_stores_and_sends_nothing",),
    ),
    Mutant(
        name="link-scheme-unchecked",
        promise="only http(s) links are stored or made an href",
        path="papers/normalise.py",
        search='    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:',
        replace="    if not parts.hostname:",
        tests=("tests/test_dangerous_links.py",),
    ),
    Mutant(
        name="entry-bounds-ignored",
        promise="one bad value rejects its entry alone, never the whole response",
        path="papers/sources/records.py",
        search="        problem = entry_problem(record)\n",
        replace='        problem = ""\n',
        tests=("tests/papers/test_poison_entries.py",),
    ),
    Mutant(
        name="page-spellings-cached",
        promise="the public page cache keys on the resolved page only",
        path="papers/public_cache.py",
        search=(
            "        if number is not None and raw is not None"
            " and (number == 1 or raw != str(number)):"
        ),
        replace="        if False:",
        tests=("tests/papers/test_public_page_keys.py",),
    ),
    Mutant(
        name="mailbox-tag-kept",
        promise="per-address limits count the mailbox (+tag stripped)",
        path="newsletter/ratelimits.py",
        search='    local = local.split("+", 1)[0] or local\n',
        replace="",
        tests=("tests/newsletter/test_mailbox_limits.py",),
    ),
    Mutant(
        name="proxy-header-always-trusted",
        promise="X-Forwarded-Proto is trusted only behind a proxy",
        path="newsletter/settings.py",
        search=(
            'SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")'
            " if BEHIND_PROXY else None"
        ),
        replace='SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")',
        tests=(
            "tests/test_security_headers.py"
            "::test_a_client_cannot_claim_https_when_no_proxy_is_in_front",
        ),
    ),
    Mutant(
        name="resume-without-confirmation",
        promise="after an unsubscribe, only a fresh confirmation brings a reader back",
        path="newsletter/services.py",
        search=(
            "    if rows.filter(status=Subscriber.Status.PAUSED,"
            " confirmed_at__isnull=False).update("
        ),
        replace=(
            "    if rows.filter(\n"
            "        status__in=[Subscriber.Status.PAUSED, Subscriber.Status.UNSUBSCRIBED],\n"
            "        confirmed_at__isnull=False,\n"
            "    ).update("
        ),
        tests=(
            "tests/newsletter/test_manage.py"
            "::test_a_reader_who_left_comes_back_only_through_a_fresh_confirmation",
        ),
    ),
    Mutant(
        name="webhook-events-not-deduplicated",
        promise="a retried webhook event, or a second soft bounce of one message, counts once",
        path="newsletter/webhook_events.py",
        search="    except IntegrityError:\n        return False\n",
        replace="    except IntegrityError:\n        return True\n",
        tests=("tests/newsletter/test_digest_webhooks.py",),
    ),
    Mutant(
        name="token-carries-the-address",
        promise="a signed link never carries the reader's address",
        path="newsletter/signing.py",
        search="tag = _address_digest(email.lower(), settings.SECRET_KEY)[:ADDRESS_TAG_BYTES]",
        replace="tag = email.lower().encode().ljust(ADDRESS_TAG_BYTES)[:ADDRESS_TAG_BYTES]",
        tests=("tests/newsletter/test_opaque_links.py",),
    ),
    Mutant(
        name="sign-up-decided-in-the-request",
        promise="sign-up does the same work in the request for every address",
        path="newsletter/views.py",
        search="        address_requests.signup_enqueue(\n            email=email, preferences=",
        replace="        services.subscriber_subscribe(\n            email=email, preferences=",
        tests=("tests/newsletter/test_same_work_for_every_address.py",),
    ),
    Mutant(
        name="requested-days-not-swept",
        promise="the sweeper finishes a requested day whose fan-out task was lost",
        path="newsletter/edition_runs.py",
        search="        unfinished.append((request.edition_on, reader_ids))",
        replace="        pass  # mutant: the lost readers are left",
        tests=("tests/newsletter/test_edition_runs.py",),
        fault_tests=(
            "tests/newsletter/test_digest_faults.py"
            "::test_a_worker_killed_right_after_it_reserved_a_fan_out_task_loses_no_reader",
        ),
    ),
]


def check_applies(mutants: list[Mutant], root: Path) -> None:
    problems = []
    for mutant in mutants:
        path = root / mutant.path
        if not path.exists():
            problems.append(f"{mutant.name}: {mutant.path} does not exist")
            continue
        found = path.read_text().count(mutant.search)
        if found != mutant.occurrences:
            problems.append(
                f"{mutant.name}: its search text is in {mutant.path} {found} times, "
                f"not {mutant.occurrences}: {mutant.search!r}"
            )
    if problems:
        print(
            "These mutants no longer apply; update their path and search text in "
            "bench/mutate.py:\n  " + "\n  ".join(problems),
            file=sys.stderr,
        )
        sys.exit(2)


def copy_tree(destination: Path) -> None:
    """The working tree as it is (tracked and untracked files, uncommitted edits too)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for name in filter(None, (entry.decode() for entry in listed)):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def test_environment(tree: Path) -> dict[str, str]:
    """The caller's environment (the Makefile's test settings), with the scratch copy first
    on the import path and a database of its own."""
    database = urlsplit(
        os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/paperboy")
    )
    return {
        **os.environ,
        "PYTHONPATH": str(tree),
        "DATABASE_URL": urlunsplit(database._replace(path=database.path.rstrip("/") + "_mutate")),
        "PYTHONDONTWRITEBYTECODE": "1",  # a restored file must never meet its mutant's .pyc
        "COLUMNS": "400",  # pytest's summary lines keep the assertion that failed
    }


def check_imports_come_from(tree: Path, env: dict[str, str]) -> None:
    """The editable install points at the real tree: make sure the copy is what runs."""
    found = subprocess.run(
        [sys.executable, "-c", "import newsletter, papers, tests; "
         "print(newsletter.__file__, papers.__file__, tests.__file__)"],
        cwd=tree, env=env, check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    outside = [path for path in found if not Path(path).is_relative_to(tree)]
    if outside:
        raise SystemExit(f"the scratch copy is not what gets imported: {outside}")


def run_tests(
    tree: Path, env: dict[str, str], tests: tuple[str, ...], *, first: bool
) -> tuple[int, str]:
    """pytest's exit code, and its first FAILED/ERROR summary line (what caught the mutant)."""
    command = [
        sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-rfE",
        "--create-db" if first else "--reuse-db", *tests,
    ]  # fmt: skip
    result = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)
    lines = result.stdout.splitlines()
    summary = next(
        (line for line in lines if line.startswith(("FAILED", "ERROR"))),
        lines[-1] if lines else result.stderr.strip()[-300:],
    )
    return result.returncode, summary


def drop_database(env: dict[str, str]) -> None:
    import psycopg

    url = urlsplit(env["DATABASE_URL"])
    name = "test_" + url.path.lstrip("/")
    with psycopg.connect(
        host=url.hostname,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        dbname="postgres",
        autocommit=True,
    ) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


def verdict(code: int) -> str:
    return {0: "MISSED", 1: "caught"}.get(code, f"ERROR (pytest exit {code})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="mutants to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument(
        "--faults", action="store_true", help="also run each mutant's fault tests (slow)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch copy")
    args = parser.parse_args(argv)

    by_name = {mutant.name: mutant for mutant in MUTANTS}
    unknown = [name for name in args.names if name not in by_name]
    if unknown:
        raise SystemExit(f"no such mutant: {', '.join(unknown)} (see --list)")
    mutants = [by_name[name] for name in args.names] or MUTANTS
    if args.list:
        for mutant in mutants:
            print(f"{mutant.name}: {mutant.promise}\n  {mutant.path}: {mutant.search!r}")
            print(f"  -> {mutant.replace!r}\n  tests: {' '.join(mutant.tests)}")
            if mutant.fault_tests:
                print(f"  fault tests: {' '.join(mutant.fault_tests)}")
        return
    check_applies(mutants, ROOT)

    def selections(mutant: Mutant) -> list[tuple[str, tuple[str, ...]]]:
        chosen = [("make test", mutant.tests)]
        if args.faults and mutant.fault_tests:
            chosen.append(("make test-faults", mutant.fault_tests))
        return chosen

    scratch = Path(tempfile.mkdtemp(prefix="paperboy-mutate-"))
    tree = scratch / "tree"
    copy_tree(tree)
    env = test_environment(tree)
    check_imports_come_from(tree, env)
    every_test = tuple(
        dict.fromkeys(test for m in mutants for _suite, tests in selections(m) for test in tests)
    )
    print(f"scratch copy: {tree}", flush=True)
    results: list[tuple[Mutant, dict[str, str]]] = []
    try:
        started = time.monotonic()
        code, summary = run_tests(tree, env, every_test, first=True)
        if code != 0:
            raise SystemExit(
                f"the mutants' tests fail on the unmutated copy ({summary}); fix them first:\n"
                f"  pytest {' '.join(every_test)}"
            )
        print(f"baseline: {len(every_test)} test selections pass unmutated "
              f"({time.monotonic() - started:.0f} s)", flush=True)  # fmt: skip
        for number, mutant in enumerate(mutants, start=1):
            target = tree / mutant.path
            original = target.read_text()
            target.write_text(original.replace(mutant.search, mutant.replace))
            verdicts: dict[str, str] = {}
            try:
                for suite, tests in selections(mutant):
                    started = time.monotonic()
                    code, summary = run_tests(tree, env, tests, first=False)
                    verdicts[suite] = verdict(code)
                    print(f"[{number}/{len(mutants)}] {mutant.name}, {suite}: {verdicts[suite]} "
                          f"({time.monotonic() - started:.0f} s)\n    {summary[:300]}",
                          flush=True)  # fmt: skip
            finally:
                target.write_text(original)
            results.append((mutant, verdicts))
    finally:
        drop_database(env)
        if args.keep:
            print(f"kept {tree}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    suites = ["make test", *(["make test-faults"] if args.faults else [])]
    print()
    print("| mutant | breaks | file | " + " | ".join(suites) + " |")
    print("| --- | --- | --- |" + " --- |" * len(suites))
    for mutant, verdicts in results:
        cells = " | ".join(verdicts.get(suite, "–") for suite in suites)
        print(f"| {mutant.name} | {mutant.promise} | `{mutant.path}` | {cells} |")
    missed = [m.name for m, verdicts in results if set(verdicts.values()) != {"caught"}]
    print(f"\n{len(results) - len(missed)} of {len(results)} mutants caught", end="")
    print(f"; not caught everywhere: {', '.join(missed)}" if missed else "")
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
