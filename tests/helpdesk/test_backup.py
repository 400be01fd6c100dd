"""Backups restore into a working Tierdesk: `make backup` and `make restore`, as docs/operations.md tells them.

Data is made through the services and committed; the database is dumped while it is in use, restored into a new
database, and a fresh Tierdesk process is pointed at the copy: same rows, no migration missing, a ticket's
timeline and the search answer as on the original, the append-only guard on events came along, and the uploaded
file is back in the restored media folder.
"""
import json
import os
import subprocess
import sys

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from tests.factories import make_ticket
from tests.helpdesk.test_settings import ROOT
from tickets import selectors, services
from tickets.models import Event, Ticket

# Run by a fresh process on the restored copy; prints what the test compares.
ON_THE_COPY = """
import json, django
django.setup()
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from tickets import selectors
from tickets.models import Attachment, Event, Ticket

call_command("migrate", "--check", verbosity=0)  # exits non-zero if the copy lacks a migration
ticket = Ticket.objects.get(pk={ticket_id})
try:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM tickets_event WHERE ticket_id = %s", [ticket.pk])
    guard = "missing"
except Exception as exc:
    guard = "append-only" if "append-only" in str(exc) else repr(exc)
attachment = Attachment.objects.get(ticket=ticket)
print(json.dumps({{
    "database": connection.settings_dict["NAME"],
    "counts": {{m._meta.label: m._default_manager.count() for m in apps.get_models()
                if m._meta.managed and not m._meta.proxy}},
    "timeline": list(Event.objects.filter(ticket=ticket).order_by("at", "id").values_list("kind", flat=True)),
    "found": sorted(selectors.search_tickets(Ticket.objects.all(), "{word}").values_list("pk", flat=True)),
    "guard": guard,
    "file": attachment.file.open("rb").read().decode("latin-1"),
}}))
"""

PNG = b"\x89PNG\r\n\x1a\nthe screenshot of the error"


def _url(name: str) -> str:
    s = connection.settings_dict
    credentials = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{credentials}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{name}"


def _make(target, env, **variables):
    command = ["make", "--no-print-directory", target, *(f"{k}={v}" for k, v in variables.items())]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_backup_restores_into_a_working_copy(tmp_path, settings, as_alice):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    ticket = make_ticket(subject="Scanner shows error E42", description="The scanner on floor 2 stopped.")
    services.ticket_take(actor=as_alice, ticket_id=ticket.pk)
    services.comment_add(actor=as_alice, ticket_id=ticket.pk, body="Firmware rollback fixes the calibration.")
    services.attachment_add(actor=as_alice, ticket_id=ticket.pk,
                            upload=SimpleUploadedFile("error.png", PNG, content_type="image/png"))
    services.ticket_resolve(actor=as_alice, ticket_id=ticket.pk, summary="Rolled the firmware back",
                            affected_item="Scanner", steps_before="Firmware update", findings="Bad calibration")
    make_ticket(subject="Phone headset crackles")
    assert selectors.search_tickets(Ticket.objects.all(), "calibration").get() == ticket
    original = {
        "counts": {model._meta.label: model._default_manager.count() for model in apps.get_models()
                   if model._meta.managed and not model._meta.proxy},
        "timeline": list(Event.objects.filter(ticket=ticket).order_by("at", "id").values_list("kind", flat=True)),
    }
    assert original["counts"]["tickets.Ticket"] == 2 and original["counts"]["tickets.Event"] > 5

    source = connection.settings_dict["NAME"]
    copy = f"{source}_restored"
    assert source.startswith("test_")  # only ever the test database and its own copy
    backups, restored_media = tmp_path / "backups", tmp_path / "restored-media"
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{copy}" TEMPLATE template0')
    try:
        _make("backup", {**env, "DATABASE_URL": _url(source)}, BACKUP_DIR=backups, MEDIA_ROOT=settings.MEDIA_ROOT)
        dumps, media = list(backups.glob("tierdesk-*.dump")), list(backups.glob("media-*.tar.gz"))
        assert len(dumps) == 1 and len(media) == 1
        _make("restore", {**env, "DATABASE_URL": _url(copy)}, DUMP=dumps[0], MEDIA=media[0],
              MEDIA_ROOT=restored_media)

        result = subprocess.run(
            [sys.executable, "-c", ON_THE_COPY.format(ticket_id=ticket.pk, word="calibration")],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
            env={**env, "DJANGO_SETTINGS_MODULE": "helpdesk.settings", "DEBUG": "1", "DATABASE_URL": _url(copy),
                 "MEDIA_ROOT": str(restored_media)},
        )
        assert result.returncode == 0, result.stderr
        on_the_copy = json.loads(result.stdout.strip().splitlines()[-1])
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')

    assert on_the_copy["database"] == copy
    assert on_the_copy["counts"] == original["counts"]
    assert on_the_copy["timeline"] == original["timeline"]
    assert on_the_copy["found"] == [ticket.pk]
    assert on_the_copy["guard"] == "append-only"
    assert on_the_copy["file"] == PNG.decode("latin-1")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_database WHERE datname = %s", [copy])
        assert cursor.fetchone()[0] == 0


def test_restore_refuses_to_run_without_a_dump(tmp_path):
    env = {**os.environ, "DATABASE_URL": "postgres://nobody@127.0.0.1:1/never_created"}
    result = subprocess.run(["make", "--no-print-directory", "restore", f"DUMP={tmp_path / 'missing.dump'}"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "DUMP=<file written by make backup> is required" in result.stderr
