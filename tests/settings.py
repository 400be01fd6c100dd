"""Settings for the test suite: the project settings with test-only defaults.

The environment still decides the database and broker (DATABASE_URL,
REDIS_URL), so CI runs the same suite on PostgreSQL and Redis.
"""
import os

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-never-used-outside-the-test-suite")
# The test client speaks plain HTTP; HTTPS hardening is checked separately
# (tests/helpdesk/test_settings.py runs `check --deploy` with production settings).
os.environ.setdefault("HTTPS", "0")
# The mail services' inbound webhooks are mounted (tests/inbound/test_webhook.py).
os.environ.setdefault("INBOUND_WEBHOOK_SECRET", "mailservice:test-webhook-secret")
os.environ.setdefault("MAILGUN_WEBHOOK_SIGNING_KEY", "test-mailgun-signing-key")

from helpdesk.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
# Tasks run in-process in unit tests; tests/integration starts a real worker and beat.
CELERY_TASK_ALWAYS_EAGER = True
# Static files come from the finders; nothing is collected for the tests.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
# Uploaded files go to a throw-away folder.
import tempfile  # noqa: E402

MEDIA_ROOT = tempfile.mkdtemp(prefix="tierdesk-test-media-")
