"""The skeleton's promises: real services under test, settings from the environment,
embedded defaults for newcomers, a health endpoint and deployment files that cannot rot."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import yaml
from celery.contrib.testing.worker import start_worker
from django.core.mail import EmailMultiAlternatives
from django.db import connection

from newsletter.celery import app as celery_app
from newsletter.mail.eml import EmlFileBackend
from papers.models import Paper
from papers.sample_data import sample_papers
from tests.factories import FetchRunFactory
from tests.product_settings import product_settings

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "SECRET_KEY": "k3y-" + "x7Qp9vLm2Zr8Tn4Wb6Yc1Hd5Jf0Gs3Ka" * 2,
    "SITE_URL": "https://papers.example.org",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/paperboy",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/1",
    "EMAIL_URL": "smtp+tls://mailer:secret@smtp.example.org:587",
}


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run manage.py in a clean environment holding only `env` (plus PATH)."""
    clean = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "ENV_FILE": "",
        **env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_tests_run_on_postgresql(db):
    assert connection.vendor == "postgresql"


def test_a_task_makes_a_round_trip_through_the_real_redis_broker():
    import celery.contrib.testing.tasks  # noqa: F401 - registers celery.ping

    celery_app.conf.task_always_eager = False
    assert celery_app.conf.broker_url.startswith("redis://")
    with start_worker(celery_app, perform_ping_check=False, pool="solo"):
        result = celery_app.send_task("celery.ping")
        assert result.get(timeout=20) == "pong"


def test_healthz_reports_database_broker_and_last_fetch(client, db):
    run = FetchRunFactory()

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "broker": "ok",
        "last_successful_fetch": run.finished_at.isoformat(),
        "last_digest_sent": None,
    }


def test_healthz_is_503_when_the_broker_is_down(client, db, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["broker"].startswith("error")


def test_check_deploy_is_clean_under_production_variables():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = {key: value for key, value in PRODUCTION_ENV.items() if key != "SECRET_KEY"}

    result = run_manage("check", env=env)

    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


@pytest.mark.parametrize(
    "summary_env",
    [
        {"SUMMARY_API_URL": "http://127.0.0.1:11434/v1"},
        {"SUMMARY_API_URL": "127.0.0.1:11434/v1", "SUMMARY_MODEL": "qwen2.5:3b"},
    ],
    ids=["no-model", "no-scheme"],
)
def test_an_llm_endpoint_without_a_model_or_a_scheme_refuses_to_start(summary_env):
    result = run_manage("check", env={**PRODUCTION_ENV, **summary_env})

    assert result.returncode != 0
    assert "SUMMARY_API_URL needs an http(s) base URL and SUMMARY_MODEL" in result.stderr


@pytest.mark.parametrize(
    ("retention_env", "message"),
    [
        ({"DIGEST_ITEM_RETENTION_DAYS": "20"}, "(20) must be at least FOLLOWUP_DAYS (30)"),
        (
            {"DIGEST_ITEM_RETENTION_DAYS": "40", "FOLLOWUP_DAYS": "45"},
            "(40) must be at least FOLLOWUP_DAYS (45)",
        ),
        ({"DIGEST_ITEM_RETENTION_DAYS": "5", "FOLLOWUP_DAYS": "3"}, "and 7"),
    ],
    ids=["under-the-default-follow-ups", "under-longer-follow-ups", "under-coverage"],
)
def test_item_retention_shorter_than_what_reads_the_items_refuses_to_start(retention_env, message):
    result = run_manage("check", env={**PRODUCTION_ENV, **retention_env})

    assert result.returncode != 0
    assert message in result.stderr


def test_embedded_defaults_need_no_database_server_broker_or_smtp():
    result = run_manage(
        "shell",
        "-c",
        "from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.DATABASES['default']['NAME']); "
        "print(s.CELERY_TASK_ALWAYS_EAGER, s.EMAIL_BACKEND, s.EMAIL_FILE_PATH)",
        env={"DEBUG": "1"},
    )

    assert result.returncode == 0, result.stderr
    database_line, celery_line = result.stdout.strip().splitlines()[-2:]
    assert database_line == f"django.db.backends.sqlite3 {ROOT / 'var' / 'paperboy.sqlite3'}"
    assert celery_line == f"True newsletter.mail.eml.EmlFileBackend {ROOT / 'var' / 'mail'}"


def test_eml_backend_writes_each_message_as_one_readable_file(tmp_path):
    message = EmailMultiAlternatives("Hello", "plain words", "a@example.org", ["b@example.org"])
    message.attach_alternative("<p>plain words</p>", "text/html")

    sent = EmlFileBackend(file_path=str(tmp_path)).send_messages([message])

    files = list(tmp_path.glob("*.eml"))
    assert sent == 1 and len(files) == 1
    parsed = message_from_bytes(files[0].read_bytes())
    assert parsed["Subject"] == "Hello"
    assert parsed.get_content_type() == "multipart/alternative"


def test_setup_demo_loads_the_sample_papers_once(db, capsys):
    from django.core.management import call_command

    call_command("setup_demo")
    call_command("setup_demo")

    output = capsys.readouterr().out
    count = len(sample_papers())
    assert f"sample papers: {count} created, 0 updated" in output
    assert "sample papers: 0 created, 0 updated" in output
    assert Paper.objects.count() == count
    assert not Paper.objects.filter(authors=[]).exists()


def test_setup_demo_creates_an_admin_and_prints_its_login(db, capsys):
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("setup_demo")

    output = capsys.readouterr().out
    password = re.search(r"password (\S+)", output).group(1)
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.check_password(password)


def test_setup_demo_keeps_an_existing_admins_password_and_prints_no_login(db, capsys):
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("setup_demo")
    admin = get_user_model().objects.get(username="admin")
    admin.set_password("chosen-by-the-editor")
    admin.save()
    capsys.readouterr()

    call_command("setup_demo")

    output = capsys.readouterr().out
    admin.refresh_from_db()
    assert admin.check_password("chosen-by-the-editor")
    assert "password unchanged" in output
    assert "admin login:" not in output


def test_setup_demo_prints_a_new_login_on_request(db, capsys):
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("setup_demo")
    first = re.search(r"password (\S+)", capsys.readouterr().out).group(1)

    call_command("setup_demo", "--reset-password")

    second = re.search(r"password (\S+)", capsys.readouterr().out).group(1)
    admin = get_user_model().objects.get(username="admin")
    assert second != first
    assert admin.check_password(second) and not admin.check_password(first)


def test_make_run_gives_every_demo_command_the_address_it_runs_on():
    dry_run = subprocess.run(
        ["make", "-n", "run", "HOST=127.0.0.1:8790"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    commands = [line for line in dry_run.splitlines() if "manage.py" in line]

    assert [line.split("manage.py")[1].split()[0] for line in commands] == [
        "migrate",
        "setup_demo",
        "runserver",
    ]
    assert all("SITE_URL=http://127.0.0.1:8790 " in line for line in commands), commands
    assert commands[-1].endswith("runserver 127.0.0.1:8790")


def test_after_the_demo_wrote_its_env_manage_commands_run_in_debug_with_its_key(tmp_path):
    from newsletter.demo import demo_env_write

    env_file = tmp_path / ".env"
    assert demo_env_write(path=env_file, site_url="http://127.0.0.1:8790") == "created"
    show = "from django.conf import settings as s; print(s.DEBUG, s.SITE_URL, len(s.SECRET_KEY))"

    result = run_manage("shell", "-c", show, env={"ENV_FILE": str(env_file)})
    without = run_manage("shell", "-c", show, env={})

    assert result.stdout.split()[-3:] == ["True", "http://127.0.0.1:8790", "67"], result.stderr
    assert "SECRET_KEY is not set" in without.stderr


def test_the_demo_env_follows_a_new_address_and_keeps_its_key(tmp_path):
    from newsletter.demo import demo_env_write

    env_file = tmp_path / ".env"
    demo_env_write(path=env_file, site_url="http://127.0.0.1:8000")
    key = re.search(r"^SECRET_KEY=(.+)$", env_file.read_text(), re.M).group(1)

    assert demo_env_write(path=env_file, site_url="http://127.0.0.1:8790") == "updated"
    assert demo_env_write(path=env_file, site_url="http://127.0.0.1:8790") == "kept"
    text = env_file.read_text()
    assert re.findall(r"^SITE_URL=.*$", text, re.M) == ["SITE_URL=http://127.0.0.1:8790"]
    assert f"SECRET_KEY={key}\n" in text


def test_the_demo_never_touches_a_env_file_it_did_not_write(tmp_path):
    from newsletter.demo import demo_env_write

    env_file = tmp_path / ".env"
    env_file.write_text("SECRET_KEY=production\nSITE_URL=https://papers.example.org\n")

    assert demo_env_write(path=env_file, site_url="http://127.0.0.1:8790") == "kept"
    assert env_file.read_text() == "SECRET_KEY=production\nSITE_URL=https://papers.example.org\n"


def test_the_sender_is_a_mail_domain_not_the_demos_bare_ip():
    demo = product_settings(SITE_URL="http://127.0.0.1:8790")
    hosted = product_settings(SITE_URL="https://papers.example.org")

    assert demo["DEFAULT_FROM_EMAIL"] == "Paperboy <digest@paperboy.localhost>"
    assert demo["UNSUBSCRIBE_MAILTO"] == "unsubscribe@paperboy.localhost"
    assert hosted["DEFAULT_FROM_EMAIL"] == "Paperboy <digest@papers.example.org>"


def test_log_lines_name_the_command_that_wrote_them():
    result = run_manage(
        "shell",
        "-c",
        "import logging; logging.getLogger('paperboy').warning('hello')",
        env={"DEBUG": "1"},
    )

    assert re.search(r"WARNING paperboy \[command:shell\] hello", result.stdout), result.stdout


def test_every_setting_read_from_the_environment_is_documented():
    settings_source = (ROOT / "newsletter" / "settings.py").read_text()
    names = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z_]+)"', settings_source))
    names |= set(re.findall(r'_cron\("([A-Z_]+)"', settings_source))
    example = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()

    assert names, "no settings found"
    assert sorted(n for n in names if f"{n}=" not in example) == []
    assert sorted(n for n in names if f"`{n}`" not in readme) == []


def test_the_readme_states_the_products_own_numeric_defaults():
    # What a process started without the variable gets, not what this test run was given.
    defaults = product_settings()
    readme = (ROOT / "README.md").read_text()
    documented = {
        name: float(value)
        for name, value in re.findall(r"^\| `([A-Z_]+)` \| `(-?[\d.]+)` \|", readme, re.M)
        if name in defaults
    }

    assert len(documented) >= 10, documented
    assert {name: defaults[name] for name in documented} == documented
    assert defaults["SOFT_BOUNCE_LIMIT"] == 3


def test_https_turns_on_hsts_and_secure_cookies_and_the_embedded_cache_is_local_memory():
    embedded = product_settings()
    production = product_settings(
        SITE_URL="https://papers.example.org", CACHE_URL="rediscache://127.0.0.1:6379/2"
    )

    assert embedded["CACHES"]["default"]["BACKEND"] == (
        "django.core.cache.backends.locmem.LocMemCache"
    )
    assert production["CACHES"]["default"] == {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/2",
    }
    secure = ("SECURE_HSTS_SECONDS", "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE")
    assert [embedded[name] for name in secure] == [0, False, False]
    assert [production[name] for name in secure] == [31536000, True, True]


def test_every_test_the_readme_names_as_proof_exists():
    readme = (ROOT / "README.md").read_text()
    named = set(re.findall(r"(?<![\w.])(test_[a-z0-9_]+)(?![\w.])", readme))
    defined = {
        name
        for path in (ROOT / "tests").rglob("*.py")
        for name in re.findall(r"^\s*def (test_\w+)\(", path.read_text(), re.M)
    }

    assert len(named) > 40
    assert sorted(named - defined) == []


def test_compose_services_run_real_modules_of_this_project():
    from importlib import import_module

    from django.core.management import get_commands

    compose = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())
    services = compose["services"]
    assert {"web", "worker", "beat", "postgres", "redis", "mailcatcher"} <= set(services)
    for name in ("web", "worker", "beat"):
        command = services[name]["command"]
        command = command.split() if isinstance(command, str) else command
        if command[0] == "gunicorn":
            module, attribute = command[-1].split(":")
            assert hasattr(import_module(module), attribute)
        elif command[0] == "celery":
            app_module = command[command.index("-A") + 1]
            assert import_module(app_module).celery_app is celery_app
            if "--scheduler" in command:
                scheduler = command[command.index("--scheduler") + 1]
                module, attribute = scheduler.split(":")
                assert hasattr(import_module(module), attribute)
        else:
            pytest.fail(f"{name} runs an unexpected command {command}")
        assert "healthcheck" in services[name] or name == "beat"
    migrate = services["migrate"]["command"]
    migrate = migrate.split() if isinstance(migrate, str) else migrate
    assert migrate[-1] in get_commands() or migrate[2] in get_commands()
    example = (ROOT / ".env.example").read_text()
    for name in ("migrate", "web", "worker", "beat"):
        for variable in services[name]["environment"]:
            assert f"{variable}=" in example, f"{variable} missing from .env.example"


@pytest.mark.parametrize(
    "subject",
    [
        "4 new papers on Generative diffusion and 2 more topics — Tue 25 Mar",
        "本周 21 篇新论文 主题：扩散模型 以及另外 1 个筛选条件 — 3月18日至24日",
    ],
)
def test_an_eml_files_folded_subject_decodes_without_a_leading_space(tmp_path, subject):
    message = EmailMultiAlternatives(subject, "words", "a@example.org", ["b@example.org"])

    EmlFileBackend(file_path=str(tmp_path)).send_messages([message])

    raw = next(tmp_path.glob("*.eml")).read_bytes()
    assert message_from_bytes(raw, policy=policy.default)["Subject"] == subject
    assert b"Subject: =?utf-8?" in raw
