"""Tierdesk settings, read from the environment (12-factor).

Defaults give the embedded mode (SQLite, a Celery broker on the local file
system, an in-process cache), so ``make run`` needs no servers. Production sets
``DATABASE_URL``, ``REDIS_URL`` and ``SECRET_KEY``; see docs/deploy.md for the
full list.
"""
import ipaddress
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from helpdesk.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("TIERDESK_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)

_DEFAULT_SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # noqa: S105 - refused below  # nosec B105
SECRET_KEY = env_str("SECRET_KEY", _DEFAULT_SECRET_KEY)
if not DEBUG and SECRET_KEY == _DEFAULT_SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. With DEBUG off Tierdesk refuses to start with the "
        "built-in development key: set SECRET_KEY to a long random value."
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "csp",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "tiers",
    "tickets",
    "metrics",
    "privacy",
]

MIDDLEWARE = [
    # First: its time covers every other middleware (a no-op unless SERVER_TIMING is on).
    "helpdesk.timing.ServerTimingMiddleware",
    # The request's committed events go to the broker together, after the view.
    "tickets.middleware.PublishEventsMiddleware",
    # Prometheus request counters and latencies (django-prometheus): "before" ahead of Django's own middleware,
    # "after" just before axes, so that it also counts the lockout answers axes puts in place of the view's.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tiers.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    # Sign-in attempts for one username run one at a time, so that axes' count holds against parallel requests.
    "helpdesk.signin.SerialSignInMiddleware",
    # Last: it answers a locked-out sign-in before the view runs.
    "axes.middleware.AxesMiddleware",
]

# `Server-Timing` headers with each response's server time and SQL query count (benchmarks, profiling).
SERVER_TIMING = env_bool("SERVER_TIMING", False)

ROOT_URLCONF = "helpdesk.urls"
WSGI_APPLICATION = "helpdesk.wsgi.application"

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
                "tiers.context_processors.role",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
# SQLite by default; PostgreSQL (or any dj-database-url URL) when DATABASE_URL
# is set. SQLite runs every transaction as BEGIN IMMEDIATE so that two writers
# (web + worker) serialise instead of failing with "database is locked".
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'tierdesk.sqlite3'}",
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60, minimum=0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite creates its file but not the folder it lives in.
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql"):
    # The app's queries are short and indexed; PostgreSQL's JIT would compile the plans of those whose
    # estimates look large (branches of a UNION ALL that never run) and spend more on that than on the query.
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options["options"] = f"{options.get('options', '')} -c jit=off".strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and broker -----------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    # While Redis is down the cache is an empty one (helpdesk.cache): pages and the API keep working, their rate
    # limits are off. Short socket timeouts, so that an unreachable server costs a request a second, not minutes.
    CACHES = {
        "default": {
            "BACKEND": "helpdesk.cache.TolerantRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# A rate limit whose counter cannot be read lets the request through (the cache is down; see above).
RATELIMIT_FAIL_OPEN = True

# The embedded default broker keeps messages as files under var/, so a worker
# and beat run with no Redis installed. Redis (or CELERY_BROKER_URL, e.g.
# RabbitMQ) replaces it in production.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or REDIS_URL or "filesystem://"
CELERY_BROKER_DIR = VAR_DIR / "broker"
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_DIR.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR),
        "data_folder_out": str(CELERY_BROKER_DIR),
        "store_processed": False,
        "polling_interval": 0.1,
    }
    # The file-system transport has no fan-out exchange for remote control.
    CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
    # It is polled, and a worker that has reached its prefetch limit waits a
    # whole poll cycle before fetching again: fetch a few more per cycle.
    CELERY_WORKER_PREFETCH_MULTIPLIER = 8
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
# A task is acknowledged only once it finished, and re-queued if its worker
# died: tasks are idempotent (they claim rows in the database) so a redelivery
# is harmless, while an early ack would lose work.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_DEFAULT_QUEUE = "tierdesk"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = "UTC"

OUTBOX_DRAIN_SECONDS = env_int("OUTBOX_DRAIN_SECONDS", 30, minimum=1)
SLA_SWEEP_SECONDS = env_int("SLA_SWEEP_SECONDS", 30, minimum=1)
CELERY_BEAT_SCHEDULE = {
    "outbox-drain": {"task": "tickets.tasks.drain_outbox", "schedule": OUTBOX_DRAIN_SECONDS},
    # The open-ticket counts' ledger folded to one row per tier and status.
    "backlog-compact": {"task": "tickets.tasks.compact_backlog", "schedule": 60, "options": {"expires": 60}},
    # Escalations, SLA warnings and breaches, and auto-close.
    "sla-sweep": {
        "task": "tickets.tasks.sla_sweep",
        "schedule": SLA_SWEEP_SECONDS,
        # A sweep that could not start within one interval is replaced by the next one.
        "options": {"expires": SLA_SWEEP_SECONDS},
    },
    # Daily metrics rollups: days changed since the refresh before last, and days just ended. A transaction
    # must not outlive this interval (see metrics.rollups).
    "metrics-rollups": {
        "task": "metrics.tasks.refresh_rollups",
        "schedule": env_int("METRICS_REFRESH_SECONDS", 300, minimum=10),
        "options": {"expires": 60},
    },
}

# --- Product settings -----------------------------------------------------
# The public address of the site, for links in e-mails.
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")
# Customer portal limits (django-ratelimit rates): per address and per e-mail.
PORTAL_REPORT_RATE = env_str("PORTAL_REPORT_RATE", "5/10m")
PORTAL_ACTION_RATE = env_str("PORTAL_ACTION_RATE", "20/m")
PORTAL_SIGNIN_RATE = env_str("PORTAL_SIGNIN_RATE", "3/10m")
PORTAL_LINK_MINUTES = env_int("PORTAL_LINK_MINUTES", 30, minimum=1)
REPEAT_WINDOW_DAYS = env_int("REPEAT_WINDOW_DAYS", 30, minimum=0)
# A new ticket at least this alike (0–1, the share of key words in common) to one of the requester's tickets in
# the window is linked to it as a repeat, whatever its category.
REPEAT_SIMILARITY = env_int("REPEAT_SIMILARITY_PERCENT", 50, minimum=1) / 100
AUTO_CLOSE_DAYS = env_int("AUTO_CLOSE_DAYS", 3, minimum=1)
# Subscribers to the event outbox (dotted paths of callables taking an Event).
TIERDESK_EVENT_HANDLERS: list[str] = ["notifications.handlers.on_event"]

# --- REST API -------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["tickets.api.permissions.IsStaff"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "tickets.api.parsers.StrictJSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("API_THROTTLE_ANON", "60/min"),
        "user": env_str("API_THROTTLE_USER", "1200/min"),
    },
    "EXCEPTION_HANDLER": "tickets.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Tierdesk API",
    "DESCRIPTION": "Create and drive helpdesk tickets through L1 → L2 → L3 and diagnose → resolve → close.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "StatusEnum": "tickets.workflow.Status",
        "RoleEnum": "tiers.roles.Role",
        "EventKindEnum": "tickets.workflow.EventKind",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "tickets.api.errors.document_unreadable_bodies",
    ],
}
IDEMPOTENCY_KEY_HOURS = env_int("IDEMPOTENCY_KEY_HOURS", 24, minimum=1)
ATTACHMENT_MAX_BYTES = env_int("ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024, minimum=1)
# Multipart uploads a little above the attachment limit still reach the view, which answers 413 itself.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2621440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2621440

# --- Auth -----------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out user or address before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Sign-in lockout: after AXES_FAILURE_LIMIT failures for one username from one
# address, that pair is locked out for AXES_COOLOFF_MINUTES.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "desk:queue"
LOGOUT_REDIRECT_URL = "login"

# --- Internationalisation -------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("ru", _("Russian"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))

# --- Security -------------------------------------------------------------
# HTTPS is assumed outside DEBUG; a plain-HTTP deployment (a local compose
# stack) opts out explicitly with HTTPS=0.
HTTPS = env_bool("HTTPS", not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
# Health probes come over plain HTTP from the orchestrator, and Prometheus scrapes each web process directly.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
# The language cookie of Django's own switch (/i18n/setlang/) like the desk's: HTTPS only, no script reads it.
LANGUAGE_COOKIE_SECURE = HTTPS
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# --- E-mail ---------------------------------------------------------------
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Tierdesk <support@localhost>")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30, minimum=1)

# --- Logging --------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # Every sign-in would log a line otherwise.
    "loggers": {"axes": {"level": "WARNING"}},
}

# --- Outgoing webhooks (app `webhooks`) -------------------------------------
INSTALLED_APPS += ["webhooks"]
# Every event is also queued for the registered webhooks.
TIERDESK_EVENT_HANDLERS += ["webhooks.delivery.on_event"]
# Seconds to wait for a receiver to accept the connection, and again for its answer.
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 5, minimum=1)
# Retry n waits min(base * 2**(n-1), max) seconds; after WEBHOOK_MAX_ATTEMPTS the delivery is failed.
WEBHOOK_RETRY_BASE_SECONDS = env_int("WEBHOOK_RETRY_BASE_SECONDS", 10, minimum=1)
WEBHOOK_RETRY_MAX_SECONDS = env_int("WEBHOOK_RETRY_MAX_SECONDS", 3600, minimum=1)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 12, minimum=1)
# SSRF guard: webhook URLs resolving to loopback, private, link-local, … addresses are refused unless this is on.
WEBHOOK_ALLOW_PRIVATE_TARGETS = env_bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", False)
CELERY_BEAT_SCHEDULE["webhook-retries"] = {
    "task": "webhooks.tasks.retry_due",
    "schedule": env_int("WEBHOOK_RETRY_SWEEP_SECONDS", 10, minimum=1),
}

# --- E-mail notifications (app `notifications`) -----------------------------
INSTALLED_APPS += ["notifications"]
# Retry n waits min(base * 2**(n-1), max) seconds; after NOTIFY_MAX_ATTEMPTS the notification is failed.
NOTIFY_RETRY_BASE_SECONDS = env_int("NOTIFY_RETRY_BASE_SECONDS", 30, minimum=1)
NOTIFY_RETRY_MAX_SECONDS = env_int("NOTIFY_RETRY_MAX_SECONDS", 3600, minimum=1)
NOTIFY_MAX_ATTEMPTS = env_int("NOTIFY_MAX_ATTEMPTS", 10, minimum=1)
# How often the sweep sends what is due (including mails whose task message was lost).
NOTIFY_RETRY_SWEEP_SECONDS = env_int("NOTIFY_RETRY_SWEEP_SECONDS", 15, minimum=1)
CELERY_BEAT_SCHEDULE["notification-retries"] = {
    "task": "notifications.tasks.retry_due",
    "schedule": NOTIFY_RETRY_SWEEP_SECONDS,
    # A sweep that could not start within one interval is replaced by the next one.
    "options": {"expires": NOTIFY_RETRY_SWEEP_SECONDS},
}

# --- Inbound e-mail (app `inbound`) ------------------------------------------
INSTALLED_APPS += ["anymail", "inbound"]
# The address customers write to. Customer mails carry it as Reply-To, so replies come back to the mailbox.
INBOUND_ADDRESS = env_str("INBOUND_ADDRESS", "")
# The mailbox polled over IMAP; polling is off while INBOUND_IMAP_HOST is empty.
INBOUND_IMAP_HOST = env_str("INBOUND_IMAP_HOST", "")
INBOUND_IMAP_TLS = env_str("INBOUND_IMAP_TLS", "ssl").lower()
if INBOUND_IMAP_TLS not in ("ssl", "starttls", "off"):
    raise ImproperlyConfigured("INBOUND_IMAP_TLS must be ssl, starttls or off.")
INBOUND_IMAP_PORT = env_int("INBOUND_IMAP_PORT", 993 if INBOUND_IMAP_TLS == "ssl" else 143, minimum=1)
INBOUND_IMAP_USER = env_str("INBOUND_IMAP_USER", "")
INBOUND_IMAP_PASSWORD = env_str("INBOUND_IMAP_PASSWORD", "")
INBOUND_IMAP_FOLDER = env_str("INBOUND_IMAP_FOLDER", "INBOX")
# A CA bundle for a mail server with a private certificate (the system's CAs otherwise).
INBOUND_IMAP_CA_FILE = env_str("INBOUND_IMAP_CA_FILE", "")
INBOUND_IMAP_TIMEOUT_SECONDS = env_int("INBOUND_IMAP_TIMEOUT_SECONDS", 30, minimum=1)
INBOUND_POLL_SECONDS = env_int("INBOUND_POLL_SECONDS", 60, minimum=5)
# A poll that died frees its lock after this long.
INBOUND_POLL_LOCK_SECONDS = env_int("INBOUND_POLL_LOCK_SECONDS", 900, minimum=60)
# Larger messages are not taken in: their headers wait in the quarantine.
INBOUND_MAX_MESSAGE_BYTES = env_int("INBOUND_MAX_MESSAGE_BYTES", 30 * 1024 * 1024, minimum=1024)
INBOUND_MAX_ATTACHMENTS = env_int("INBOUND_MAX_ATTACHMENTS", 20, minimum=0)
# More new tickets than this from one address within an hour are held in the quarantine (a mail storm).
INBOUND_MAX_NEW_TICKETS_PER_SENDER_HOUR = env_int("INBOUND_MAX_NEW_TICKETS_PER_SENDER_HOUR", 10, minimum=1)
if INBOUND_IMAP_HOST:
    CELERY_BEAT_SCHEDULE["inbound-imap"] = {
        "task": "inbound.tasks.fetch_mail",
        "schedule": INBOUND_POLL_SECONDS,
        "options": {"expires": INBOUND_POLL_SECONDS},
    }
# Hosted mail services post inbound mail to /inbound/<service>/inbound/ (django-anymail). The endpoints are
# mounted only once INBOUND_WEBHOOK_SECRET ("user:password" for HTTP basic auth) is set.
INBOUND_WEBHOOK_SECRET = env_str("INBOUND_WEBHOOK_SECRET", "")
ANYMAIL = {"WEBHOOK_SECRET": INBOUND_WEBHOOK_SECRET}
if env_str("MAILGUN_WEBHOOK_SIGNING_KEY", ""):
    ANYMAIL["MAILGUN_WEBHOOK_SIGNING_KEY"] = env_str("MAILGUN_WEBHOOK_SIGNING_KEY", "")

# --- Knowledge base (app `knowledge`) -----------------------------------------
INSTALLED_APPS += ["knowledge"]
# How many earlier fixes and articles the ticket page suggests.
KNOWLEDGE_SUGGESTIONS = env_int("KNOWLEDGE_SUGGESTIONS", 5, minimum=1)
# "This solved it" on the portal, per address (django-ratelimit rate): deflections are a metric, not a vote.
KNOWLEDGE_DEFLECT_RATE = env_str("KNOWLEDGE_DEFLECT_RATE", "10/h")

# --- Monitoring (helpdesk.monitoring) ---------------------------------------
# /metrics (Prometheus) is served only with `Authorization: Bearer <METRICS_TOKEN>` or to a peer address in
# METRICS_ALLOWED_IPS (addresses or networks, e.g. 10.0.0.0/8); with neither it does not exist.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
if METRICS_TOKEN and len(METRICS_TOKEN) < 32:
    raise ImproperlyConfigured("METRICS_TOKEN must be at least 32 characters: use a long random value.")
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", [])
for _entry in METRICS_ALLOWED_IPS:
    try:
        ipaddress.ip_network(_entry, strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"METRICS_ALLOWED_IPS: {_entry!r} is not an address or a network.") from None
# Several gunicorn workers: each keeps its counters in files here, and /metrics adds them all up. Read by
# prometheus_client itself; the folder must exist before the first request and start empty (docs/operations.md).
PROMETHEUS_MULTIPROC_DIR = env_str("PROMETHEUS_MULTIPROC_DIR", "")
if PROMETHEUS_MULTIPROC_DIR:
    Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)

# --- Canned replies (app `canned`) --------------------------------------------
INSTALLED_APPS += ["canned"]

# --- Presence on the ticket page (app `presence`) ------------------------------
INSTALLED_APPS += ["presence"]
