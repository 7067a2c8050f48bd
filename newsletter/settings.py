"""Paperboy's settings: every value comes from the environment (see .env.example)."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path
from urllib.parse import urlsplit

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# `make run` writes the demo's own .env here; ENV_FILE= (empty) reads none (the test suite).
ENV_FILE = env.str("ENV_FILE", default=str(BASE_DIR / ".env"))
if ENV_FILE:
    environ.Env.read_env(ENV_FILE, overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment (see .env.example), "
            "or set DEBUG=1 for a local demo."
        )
    SECRET_KEY = "django-insecure-paperboy-local-demo-only"

SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
SITE_NAME = env.str("SITE_NAME", default="Paperboy")
SITE_HOST = urlsplit(SITE_URL).hostname or "localhost"
SITE_IS_HTTPS = SITE_URL.startswith("https://")


def _mail_domain(host: str) -> str:
    """The site's host name for addresses; a bare IP (the demo's 127.0.0.1) is no mail domain."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host
    return "paperboy.localhost"


MAIL_DOMAIN = _mail_domain(SITE_HOST)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[SITE_HOST, "127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[SITE_URL])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_celery_beat",
    "anymail",
    "axes",
    "newsletter",
    "papers",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "newsletter.urls"
WSGI_APPLICATION = "newsletter.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database: embedded SQLite unless DATABASE_URL says otherwise -------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'paperboy.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # JIT compiles a plan for ~0.4 s whenever estimates look big: a loss on short OLTP queries.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (rate limits, page cache): Redis in production --------------------------------
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://paperboy")}
# Rate limits key on the client's IP: REMOTE_ADDR, or this header when a proxy sets it.
CLIENT_IP_HEADER = env.str("CLIENT_IP_HEADER", default="")
RATELIMIT_IP_META_KEY = "newsletter.ratelimits.client_ip"

# --- Email: .eml files in var/mail/ unless EMAIL_URL says otherwise -----------------------
EMAIL_URL = env.str("EMAIL_URL", default=f"eml://{VAR_DIR / 'mail'}")
if EMAIL_URL.startswith("eml://"):
    EMAIL_BACKEND = "newsletter.mail.eml.EmlFileBackend"
    EMAIL_FILE_PATH = EMAIL_URL.removeprefix("eml://")
elif EMAIL_URL.startswith("backend://"):
    # Any Django email backend by dotted path, e.g. anymail.backends.postmark.EmailBackend.
    EMAIL_BACKEND = EMAIL_URL.removeprefix("backend://")
else:
    vars().update(env.email_url_config(EMAIL_URL))
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
EMAIL_SSL_CAFILE = env.str("EMAIL_SSL_CAFILE", default="")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default=f"Paperboy <digest@{MAIL_DOMAIN}>")
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
SENDER_ADDRESS_LINE = env.str(
    "SENDER_ADDRESS_LINE", default="Paperboy · self-hosted research digests"
)
UNSUBSCRIBE_MAILTO = env.str("UNSUBSCRIBE_MAILTO", default=f"unsubscribe@{MAIL_DOMAIN}")
DKIM_PRIVATE_KEY_PATH = env.str("DKIM_PRIVATE_KEY_PATH", default="")
DKIM_SELECTOR = env.str("DKIM_SELECTOR", default="paperboy")
DKIM_DOMAIN = env.str("DKIM_DOMAIN", default=SITE_HOST)
ANYMAIL = {"WEBHOOK_SECRET": env.str("ANYMAIL_WEBHOOK_SECRET", default="")}

# --- Celery -------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_RESULT_BACKEND = (
    env.str(
        "CELERY_RESULT_BACKEND",
        default=CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis") else "",
    )
    or None
)
# No broker configured: run tasks in-process so the embedded setup needs no Redis.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "memory://"
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# A broker restart must not cut a batch short: it finishes (its marks are in PostgreSQL) and
# its lost ack makes Redis redeliver it after the visibility timeout, as a no-op. Celery 6
# flips this default; cancelled tasks then wait that timeout (an hour): in the Redis fault
# test 15-30 of 600 digests were still unsent 90 s after the restart.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_RESULT_EXPIRES = 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Celery closes a worker's database connection around every task unless this is set; a new
# backend per task costs PostgreSQL its start-up and catalog caches again. With it, workers
# keep theirs like web requests do: DB_CONN_MAX_AGE and the health check decide
# (newsletter/celery.py), and Celery still closes it after this many tasks.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=100)
# Celery re-delivers unacked tasks after this; no countdown in the send path may exceed it.
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
# Tasks, by Celery name, that papers/ enqueues after a fetch run stored new papers (papers/
# imports nothing from newsletter/, so it knows them only by name).
PAPERS_ADDED_TASKS = ["newsletter.tasks.compute_similar_papers"]
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# LLM summaries take seconds a call: their own queue and worker, away from the sends. So do
# the tasks that vectorise papers and train readers' models: scikit-learn and training's
# working set stay in their worker (~100 MB more a process), out of the send workers.
RECOMMEND_QUEUE = env.str("RECOMMEND_QUEUE", default="recommend")
CELERY_TASK_ROUTES = {
    "newsletter.tasks.make_digest_summaries": {"queue": "summaries"},
    **{
        name: {"queue": RECOMMEND_QUEUE}
        for name in (
            "newsletter.tasks.retrain_reader_models",
            "newsletter.tasks.train_reader_models",
            "newsletter.tasks.compute_similar_papers",
        )
    },
}
# Item rows are kept this many days: the web view link lives 90, follow-ups read 30,
# coverage is at most 7 days back (newsletter.digests.retention).
DIGEST_ITEM_RETENTION_DAYS = env.int("DIGEST_ITEM_RETENTION_DAYS", default=90)
DIGEST_ITEM_PURGE_BATCH = env.int("DIGEST_ITEM_PURGE_BATCH", default=5000)


def _cron(name: str, default: str) -> crontab:
    """A crontab from `minute hour day_of_month month day_of_week`, overridable per task."""
    fields = env.str(name, default=default).split()
    if len(fields) != 5:
        raise ImproperlyConfigured(f"{name} must have five cron fields, got {fields!r}")
    minute, hour, day_of_month, month, day_of_week = fields
    return crontab(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month,
        day_of_week=day_of_week,
    )


# Defined in code, copied into django-celery-beat's tables where editors can change them.
# `expires` makes a restarted beat drop a stale tick instead of firing a backlog.
CELERY_BEAT_SCHEDULE = {
    "send-due-digests": {
        "task": "newsletter.tasks.send_due_digests",
        "schedule": _cron("SCHEDULE_SEND_DIGESTS", "5 * * * *"),
        "options": {"expires": 50 * 60},
    },
    # Re-enqueues digests whose task was lost (killed worker, lost retry); a no-op otherwise.
    "sweep-digests": {
        "task": "newsletter.tasks.sweep_digests",
        "schedule": _cron("SCHEDULE_SWEEP_DIGESTS", "*/5 * * * *"),
        "options": {"expires": 4 * 60},
    },
    "purge-unconfirmed-subscribers": {
        "task": "newsletter.tasks.purge_unconfirmed_subscribers",
        "schedule": _cron("SCHEDULE_PURGE_UNCONFIRMED", "30 3 * * *"),
        "options": {"expires": 60 * 60},
    },
    # Digest items past retention (newsletter.digests.retention), in small batches.
    "purge-old-digest-items": {
        "task": "newsletter.tasks.purge_old_digest_items",
        "schedule": _cron("SCHEDULE_PURGE_DIGEST_ITEMS", "45 3 * * *"),
        "options": {"expires": 60 * 60},
    },
    # The dashboard's figures of days that are over (newsletter.day_counts.REFRESH_HOURS).
    "count-dashboard-days": {
        "task": "newsletter.tasks.count_dashboard_days",
        "schedule": _cron("SCHEDULE_COUNT_DASHBOARD_DAYS", "15 */6 * * *"),
        "options": {"expires": 5 * 60 * 60},
    },
    # Hourly ticks; papers.schedule decides in America/New_York time whether a listing is due,
    # so DST never moves a fetch, and a listing not out yet is simply tried again next tick.
    "fetch-arxiv-listings": {
        "task": "papers.tasks.fetch_arxiv_listings",
        "schedule": _cron("SCHEDULE_FETCH_ARXIV", "20 * * * *"),
        "options": {"expires": 50 * 60},
    },
    # Catches up readers whose debounced retrain was lost (a flushed broker); a no-op otherwise.
    "retrain-reader-models": {
        "task": "newsletter.tasks.retrain_reader_models",
        "schedule": _cron("SCHEDULE_RETRAIN_READERS", "40 * * * *"),
        "options": {"expires": 50 * 60},
    },
    # Fetches enqueue it when they add papers (PAPERS_ADDED_TASKS); this tick catches up a lost one.
    "compute-similar-papers": {
        "task": "newsletter.tasks.compute_similar_papers",
        "schedule": _cron("SCHEDULE_SIMILAR_PAPERS", "10 */6 * * *"),
        "options": {"expires": 5 * 60 * 60},
    },
    "fetch-hf-daily-papers": {
        "task": "papers.tasks.fetch_hf_daily_papers",
        "schedule": _cron("SCHEDULE_FETCH_HF", "50 */6 * * *"),
        "options": {"expires": 5 * 60 * 60},
    },
}

# --- i18n ---------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files -------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = env.str("STATIC_ROOT", default=str(VAR_DIR / "static"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Security -----------------------------------------------------------------------------
SESSION_COOKIE_SECURE = SITE_IS_HTTPS
CSRF_COOKIE_SECURE = SITE_IS_HTTPS
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=SITE_IS_HTTPS and not DEBUG)
# Only a proxy in front may say a request came over HTTPS: without one any client could
# claim it (and dodge the SSL redirect) with its own X-Forwarded-Proto.
BEHIND_PROXY = env.bool("BEHIND_PROXY", default=False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_PROXY else None
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if SITE_IS_HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SITE_IS_HTTPS
SECURE_HSTS_PRELOAD = SITE_IS_HTTPS
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "script-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# Admin logins (django-axes): after this many wrong passwords for one account, or from one
# client IP (the address rate limits use), every login of that account or from that IP is
# refused for the cool-off, the right password included; a success under the limit resets.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("ADMIN_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("ADMIN_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each alone: per account, per IP
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "newsletter.ratelimits.client_ip"
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"
AXES_VERBOSE = False

# --- Paperboy ------------------------------------------------------------------------------
ADMIN_URL = env.str("ADMIN_URL", default="admin/")
# Digests: subscribers per task (one SMTP connection each), how long a worker's claim on a
# batch lasts before the sweeper retakes it, the first retry delay after a 4xx (doubling),
# and how many soft bounces in a row suppress an address.
DIGEST_BATCH_SIZE = env.int("DIGEST_BATCH_SIZE", default=500)
DIGEST_LEASE_SECONDS = env.int("DIGEST_LEASE_SECONDS", default=600)
DIGEST_RETRY_SECONDS = env.int("DIGEST_RETRY_SECONDS", default=60)
SOFT_BOUNCE_LIMIT = env.int("SOFT_BOUNCE_LIMIT", default=3)
# Follow-ups (newsletter/followups.py): news of papers a reader got (or 👍'd) in the last
# FOLLOWUP_DAYS days, at most FOLLOWUPS_PER_EMAIL papers' news per digest. Trending: the
# upvotes reach FOLLOWUP_TRENDING_UPVOTES, or grow FOLLOWUP_TRENDING_FACTOR times by at least
# FOLLOWUP_TRENDING_MIN_GAIN, after the reader got the paper.
FOLLOWUP_DAYS = env.int("FOLLOWUP_DAYS", default=30)
# Follow-ups and "never twice" read item rows: the purge must not take what they need.
if DIGEST_ITEM_RETENTION_DAYS < max(FOLLOWUP_DAYS, 7):
    raise ImproperlyConfigured(
        f"DIGEST_ITEM_RETENTION_DAYS ({DIGEST_ITEM_RETENTION_DAYS}) must be at least "
        f"FOLLOWUP_DAYS ({FOLLOWUP_DAYS}) and 7 (a digest covers up to 7 days back)"
    )
FOLLOWUPS_PER_EMAIL = env.int("FOLLOWUPS_PER_EMAIL", default=3)
FOLLOWUP_TRENDING_UPVOTES = env.int("FOLLOWUP_TRENDING_UPVOTES", default=100)
FOLLOWUP_TRENDING_FACTOR = env.float("FOLLOWUP_TRENDING_FACTOR", default=3.0)
FOLLOWUP_TRENDING_MIN_GAIN = env.int("FOLLOWUP_TRENDING_MIN_GAIN", default=25)
ARXIV_API_URL = env.str("ARXIV_API_URL", default="https://export.arxiv.org/api/query")
ARXIV_RSS_URL = env.str("ARXIV_RSS_URL", default="https://rss.arxiv.org/rss/")
HF_DAILY_PAPERS_URL = env.str(
    "HF_DAILY_PAPERS_URL", default="https://huggingface.co/api/daily_papers"
)
# Hugging Face keeps adding papers and upvotes to a day's list for two weeks: lists of the
# last HF_REFRESH_DAYS days are read again every HF_REFRESH_HOURS (today's and yesterday's on
# every tick), one request per list.
HF_REFRESH_DAYS = env.int("HF_REFRESH_DAYS", default=14)
HF_REFRESH_HOURS = env.int("HF_REFRESH_HOURS", default=24)
HTTP_USER_AGENT = env.str("HTTP_USER_AGENT", default=f"Paperboy/0.1 (+{SITE_URL}; research digest)")
# arXiv asks for at most one request every 3 seconds.
ARXIV_REQUEST_INTERVAL = env.float("ARXIV_REQUEST_INTERVAL", default=3.0)
HTTP_TIMEOUT = env.float("HTTP_TIMEOUT", default=60.0)
HTTP_RETRIES = env.int("HTTP_RETRIES", default=3)
HTTP_RETRY_BACKOFF = env.float("HTTP_RETRY_BACKOFF", default=5.0)
# One-sentence LLM summaries (TL;DRs) of papers about to be sent, from an OpenAI-compatible
# chat-completions endpoint (Ollama, vLLM or a hosted one); no base URL: none are made.
SUMMARY_API_URL = env.str("SUMMARY_API_URL", default="").rstrip("/")
SUMMARY_API_KEY = env.str("SUMMARY_API_KEY", default="")
SUMMARY_MODEL = env.str("SUMMARY_MODEL", default="")
SUMMARY_DAILY_CALLS = env.int("SUMMARY_DAILY_CALLS", default=4000)
SUMMARY_TIMEOUT = env.float("SUMMARY_TIMEOUT", default=20.0)
SUMMARY_RETRIES = env.int("SUMMARY_RETRIES", default=1)
if SUMMARY_API_URL and not (SUMMARY_MODEL and SUMMARY_API_URL.startswith(("http://", "https://"))):
    raise ImproperlyConfigured(
        "SUMMARY_API_URL needs an http(s) base URL and SUMMARY_MODEL, e.g. "
        "SUMMARY_API_URL=http://127.0.0.1:11434/v1 SUMMARY_MODEL=qwen2.5:3b"
    )
# Evenings arXiv skips beyond its published holidays (papers/schedule.py), YYYY-MM-DD, commas.
ARXIV_HOLIDAYS = env.list("ARXIV_HOLIDAYS", default=[])

# --- Personalisation (newsletter/recommend/) ----------------------------------------------
# A vote or an import asks for a retrain; one batched run, this many seconds later, trains
# every reader who asked meanwhile.
RECOMMEND_RETRAIN_DELAY_SECONDS = env.int("RECOMMEND_RETRAIN_DELAY_SECONDS", default=300)
# Papers outside a reader's filters that their model adds to the email (0: never).
RECOMMEND_MAX_RECOMMENDED = env.int("RECOMMEND_MAX_RECOMMENDED", default=3)
# Optional embeddings instead of the built-in TF-IDF: an OpenAI-compatible endpoint (the URL
# up to /embeddings) or a local sentence-transformers model directory. Either unreachable:
# the built-in representation is used and the log says so; nothing is ever downloaded.
RECOMMEND_EMBEDDINGS_URL = env.str("RECOMMEND_EMBEDDINGS_URL", default="").rstrip("/")
RECOMMEND_EMBEDDINGS_MODEL = env.str("RECOMMEND_EMBEDDINGS_MODEL", default="")
RECOMMEND_EMBEDDINGS_API_KEY = env.str("RECOMMEND_EMBEDDINGS_API_KEY", default="")
RECOMMEND_EMBEDDINGS_TIMEOUT = env.float("RECOMMEND_EMBEDDINGS_TIMEOUT", default=10.0)
RECOMMEND_EMBEDDINGS_DIR = env.str("RECOMMEND_EMBEDDINGS_DIR", default="")
if RECOMMEND_EMBEDDINGS_URL and not RECOMMEND_EMBEDDINGS_MODEL:
    raise ImproperlyConfigured("RECOMMEND_EMBEDDINGS_URL needs RECOMMEND_EMBEDDINGS_MODEL")

# --- Logging: one line per event on stdout, tagged with the task or command -------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "newsletter.log_context.ContextFilter"}},
    "formatters": {
        "line": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(context)s] %(message)s",
        }
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "line",
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "celery": {"level": LOG_LEVEL},
    },
}
