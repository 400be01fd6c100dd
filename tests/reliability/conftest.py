"""The real-process fixtures of tests/integration (private Redis, Celery, gunicorn), for the outage tests here."""
from tests.integration.conftest import (  # noqa: F401 (fixtures, registered by being imported here)
    celery_processes,
    collected_static,
    processes,
    redis_server,
)
