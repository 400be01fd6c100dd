"""Settings come from the environment and refuse unsafe production configurations.

Each case starts a fresh Python process, because settings are read once at import.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_KEY = "k" * 20 + "-production-secret-key-for-the-check-deploy-test-0123456789"


def run_manage(*args, **env):
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "HTTPS", "DJANGO_SETTINGS_MODULE"}}
    clean.update({"DJANGO_SETTINGS_MODULE": "helpdesk.settings", **env})
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


def test_debug_off_refuses_the_default_secret_key():
    result = run_manage("check", DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_check_deploy_is_clean_with_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", DEBUG="0", SECRET_KEY=PRODUCTION_KEY)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_a_malformed_boolean_fails_loudly():
    result = run_manage("check", DEBUG="maybe")
    assert result.returncode != 0
    assert "DEBUG='maybe' is not a boolean" in result.stderr


def test_database_and_broker_follow_the_environment():
    code = (
        "from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL, s.CACHES['default']['BACKEND'])"
    )
    default = run_manage("shell", "--no-imports", "-c", code,
                         DEBUG="1", DATABASE_URL="", REDIS_URL="", CELERY_BROKER_URL="")
    assert default.stdout.split() == [
        "django.db.backends.sqlite3",
        "filesystem://",
        "django.core.cache.backends.locmem.LocMemCache",
    ], default.stderr
    served = run_manage(
        "shell", "--no-imports", "-c", code, DEBUG="1", DATABASE_URL="postgres://u@db:5432/x", REDIS_URL="redis://r:6379/0",
        CELERY_BROKER_URL="",
    )
    assert served.stdout.split() == [
        "django.db.backends.postgresql",
        "redis://r:6379/0",
        "helpdesk.cache.TolerantRedisCache",
    ], served.stderr


@pytest.mark.parametrize("name", ["env_bool", "env_int"])
def test_env_readers_reject_nonsense(monkeypatch, name):
    from django.core.exceptions import ImproperlyConfigured

    from helpdesk import env

    monkeypatch.setenv("X_TEST", "nonsense")
    with pytest.raises(ImproperlyConfigured):
        getattr(env, name)("X_TEST", 1)


def test_the_mailbox_is_polled_only_when_configured():
    code = (
        "from django.conf import settings as s;"
        "entry = s.CELERY_BEAT_SCHEDULE.get('inbound-imap');"
        "print(entry and entry['task'], entry and entry['schedule'], s.INBOUND_IMAP_PORT, s.INBOUND_IMAP_TLS)"
    )
    off = run_manage("shell", "--no-imports", "-c", code, DEBUG="1", INBOUND_IMAP_HOST="")
    assert off.stdout.split() == ["None", "None", "993", "ssl"], off.stderr
    on = run_manage("shell", "--no-imports", "-c", code, DEBUG="1", INBOUND_IMAP_HOST="imap.example.com",
                    INBOUND_IMAP_TLS="starttls", INBOUND_POLL_SECONDS="120")
    assert on.stdout.split() == ["inbound.tasks.fetch_mail", "120", "143", "starttls"], on.stderr
    wrong = run_manage("check", DEBUG="1", INBOUND_IMAP_TLS="maybe")
    assert wrong.returncode != 0 and "INBOUND_IMAP_TLS must be ssl, starttls or off." in wrong.stderr
