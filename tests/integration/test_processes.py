"""A real Celery worker and beat, on the real database and broker, run the timers and the outbox.

Beat schedules the auto-close check and the outbox drain; the worker closes a
ticket left resolved too long, and the event that writes is dispatched by the
worker through the broker (Redis in CI, the embedded broker otherwise).
"""
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from tests.factories import make_ticket
from tickets import services
from tickets.models import Event, Ticket
from tickets.workflow import EventKind, Status

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.processes,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def database_url():
    s = connection.settings_dict
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{s['USER']}{password}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def celery_processes(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "helpdesk.settings",
        "DEBUG": "0",
        "SECRET_KEY": "worker-test-secret-key-" + "x" * 40,
        "DATABASE_URL": database_url(),
        "TIERDESK_VAR_DIR": str(tmp_path),
        "SLA_SWEEP_SECONDS": "1",
        "OUTBOX_DRAIN_SECONDS": "1",
    }
    celery = [sys.executable, "-m", "celery", "-A", "helpdesk"]
    logs = {name: open(tmp_path / f"{name}.log", "w") for name in ("worker", "beat")}
    procs = [
        subprocess.Popen([*celery, "worker", "--loglevel=INFO", "--concurrency=2"], cwd=ROOT, env=env,
                         stdout=logs["worker"], stderr=subprocess.STDOUT),
        subprocess.Popen([*celery, "beat", "--loglevel=INFO"], cwd=ROOT, env=env,
                         stdout=logs["beat"], stderr=subprocess.STDOUT),
    ]
    yield tmp_path
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    connection.close()


def wait_until(predicate, timeout, logs_dir):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    output = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(logs_dir.glob("*.log")))
    pytest.fail(f"timed out after {timeout} s\n{output}")


def test_worker_and_beat_auto_close_and_dispatch(alice, settings, celery_processes):
    from tickets.policy import Actor

    settings.AUTO_CLOSE_DAYS = 3
    agent = Actor.of_user(alice)
    silent, recent = make_ticket(), make_ticket()
    for ticket in (silent, recent):
        services.ticket_take(actor=agent, ticket_id=ticket.pk)
    with time_machine.travel(timezone.now() - timedelta(days=4)):
        services.ticket_resolve(actor=agent, ticket_id=silent.pk, summary="Fixed", affected_item="a",
                                steps_before="b", findings="c")
    services.ticket_resolve(actor=agent, ticket_id=recent.pk, summary="Fixed", affected_item="a",
                            steps_before="b", findings="c")

    def closed_and_dispatched():
        closing = Event.objects.filter(ticket=silent, kind=EventKind.CLOSED).first()
        return closing is not None and closing.dispatched_at is not None

    wait_until(closed_and_dispatched, 90, celery_processes)
    assert Ticket.objects.get(pk=silent.pk).status == Status.CLOSED
    assert Ticket.objects.get(pk=recent.pk).status == Status.RESOLVED
    closing = Event.objects.get(ticket=silent, kind=EventKind.CLOSED)
    assert (closing.actor_role, closing.data) == ("system", {"auto": True})
    time.sleep(2.5)  # more beats pass: still exactly one closing event
    assert Event.objects.filter(ticket=silent, kind=EventKind.CLOSED).count() == 1
    assert "Task tickets.tasks.auto_close_resolved" in (celery_processes / "worker.log").read_text()
