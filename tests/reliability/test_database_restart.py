"""PostgreSQL restarted under load: short 503s meanwhile, recovery without a restart of the app, no torn ticket.

The database is a private PostgreSQL 15 cluster in a temporary folder (the
shared server is never touched), migrated by `manage.py migrate`, and served
by gunicorn with two workers and persistent connections, as in production.
Threads keep reporting problems on the portal, creating tickets through the
API and opening the desk queue while the cluster is stopped and started again.
"""
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest
import requests

from tests.integration.conftest import ROOT, app_env, free_port, start_gunicorn, wait_for_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.processes,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

OUTAGE_SECONDS = 3
# After the cluster is back, every request sent this long after it must succeed.
RECOVERY_SECONDS = 5
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class PostgresCluster:
    """A private PostgreSQL cluster: its own folder, port and socket directory; run as `postgres` under root."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="tierdesk-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.as_owner = []
        if os.geteuid() == 0:  # initdb refuses root: the cluster belongs to the postgres system user
            owner = pwd.getpwnam("postgres")
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
            self.as_owner = ["runuser", "-u", "postgres", "--"]

    def url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def _run(self, *argv):
        subprocess.run([*self.as_owner, *map(str, argv)], check=True, stdout=subprocess.DEVNULL)

    def init(self):
        self._run(PG_BIN / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust")

    def _pg_ctl(self, *args):
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        self._run(PG_BIN / "pg_ctl", "-D", self.data, "-l", self.dir / "postgres.log", "-w", "-o", options, *args)

    def start(self):
        self._pg_ctl("start")
        wait_for_port(self.port, 30, "PostgreSQL")

    def stop(self):
        """Fast shutdown: open transactions are rolled back and every connection is cut, as in a restart."""
        self._pg_ctl("-m", "fast", "stop")

    def destroy(self):
        if (self.data / "postmaster.pid").exists():
            self._pg_ctl("-m", "immediate", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def cluster():
    if not (PG_BIN / "initdb").exists():
        pytest.skip("needs PostgreSQL 15 server binaries")
    cluster = PostgresCluster()
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def site(cluster, processes, tmp_path, collected_static):
    """Tierdesk on the private cluster: migrated, with Alice (L1) and her API token, served by gunicorn."""
    conn = psycopg2.connect(cluster.url("postgres"))
    conn.autocommit = True
    conn.cursor().execute("CREATE DATABASE tierdesk")
    conn.close()
    env = app_env(
        tmp_path,
        DATABASE_URL=cluster.url("tierdesk"),
        # Limits far above this test's traffic: every request must reach the database.
        PORTAL_REPORT_RATE="100000/m",
        API_THROTTLE_USER="100000/min",
    )
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    setup = (
        "from rest_framework.authtoken.models import Token\n"
        "from tests.factories import staff_user\n"
        "print(Token.objects.create(user=staff_user('alice', tier='L1')).key)\n"
    )
    token = subprocess.run([sys.executable, "manage.py", "shell", "-c", setup], cwd=ROOT, env=env, check=True,
                           capture_output=True, text=True).stdout.split()[-1]
    base = start_gunicorn(processes, env, collected_static, workers=2)
    return {"base": base, "token": token, "cluster": cluster, "processes": processes}


@dataclass
class Answer:
    kind: str  # portal, api or desk
    sent: float  # time.monotonic() when the request was sent
    status: int | None  # None: no HTTP answer at all
    body: str
    subject: str = ""  # of the ticket a creating request asked for


def is_success(answer: Answer) -> bool:
    return answer.status in {200, 201}


def is_our_503(answer: Answer) -> bool:
    if answer.status != 503 or "Traceback" in answer.body:
        return False
    if answer.kind == "api":
        try:
            return json.loads(answer.body)["code"] == "service_unavailable"
        except (ValueError, KeyError, TypeError):
            return False
    return "Temporarily unavailable" in answer.body and len(answer.body) < 1000


class Client(threading.Thread):
    """One user sending one kind of request in a loop until told to stop."""

    def __init__(self, kind: str, base: str, token: str, answers: list, stop: threading.Event):
        super().__init__(daemon=True)
        self.kind, self.base, self.token, self.answers, self.stop = kind, base, token, answers, stop
        self.http = requests.Session()
        self.count = 0

    def prepare(self):
        if self.kind == "portal":
            self.csrf = CSRF_INPUT.search(self.http.get(f"{self.base}/support/", timeout=10).text).group(1)
        elif self.kind == "desk":
            page = self.http.get(f"{self.base}/accounts/login/", timeout=10).text
            answer = self.http.post(
                f"{self.base}/accounts/login/", timeout=10, allow_redirects=False,
                data={"username": "alice", "password": "pw", "csrfmiddlewaretoken": CSRF_INPUT.search(page).group(1)},
            )
            assert answer.status_code == 302, answer.text[:500]
        else:
            self.http.headers["Authorization"] = f"Token {self.token}"

    def send(self) -> Answer:
        self.count += 1
        subject = f"{self.kind} report {self.count}"
        sent = time.monotonic()
        try:
            if self.kind == "portal":
                r = self.http.post(f"{self.base}/support/", timeout=15, data={
                    "name": "Dana", "email": f"dana{self.count}@example.com", "subject": subject,
                    "description": "The screen stays black.", "website": "", "csrfmiddlewaretoken": self.csrf,
                })
            elif self.kind == "api":
                r = self.http.post(f"{self.base}/api/v1/tickets/", timeout=15, json={
                    "subject": subject, "description": "Monitoring: disk full.",
                    "requester": {"email": "monitor@example.com", "name": "Monitoring"},
                })
            else:
                subject = ""
                r = self.http.get(f"{self.base}/desk/", timeout=15, allow_redirects=False)
        except requests.RequestException as exc:
            return Answer(self.kind, sent, None, repr(exc), subject)
        return Answer(self.kind, sent, r.status_code, r.text, subject)

    def run(self):
        while not self.stop.is_set():
            self.answers.append(self.send())
            time.sleep(0.05)


def test_database_restart_under_load_answers_503_recovers_alone_and_tears_no_ticket(site):
    cluster = site["cluster"]
    answers: list[Answer] = []
    stop = threading.Event()
    clients = [Client(kind, site["base"], site["token"], answers, stop) for kind in ("portal", "api", "desk")]
    for client in clients:
        client.prepare()
        client.start()
    try:
        time.sleep(2)
        outage_started = time.monotonic()
        cluster.stop()
        time.sleep(OUTAGE_SECONDS)
        cluster.start()
        back = time.monotonic()
        time.sleep(RECOVERY_SECONDS + 4)
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=30)

    # Every answer is a success or our short 503: never a 500, a traceback, or no answer at all.
    unexpected = [a for a in answers if not (is_success(a) or is_our_503(a))]
    assert not unexpected, [(a.kind, a.status, a.body[:300]) for a in unexpected[:5]]
    during = [a for a in answers if outage_started < a.sent < back]
    assert any(a.status == 503 for a in during), "no request met the outage"
    for kind in ("portal", "api", "desk"):
        assert any(is_success(a) for a in answers if a.kind == kind and a.sent < outage_started), kind
        # Back by itself within a few seconds: gunicorn was not restarted, and nothing fails any more.
        late = [a for a in answers if a.kind == kind and a.sent > back + RECOVERY_SECONDS]
        assert late and all(is_success(a) for a in late), (kind, [(a.status, a.body[:200]) for a in late][:3])
    assert "WORKER TIMEOUT" not in site["processes"].log("gunicorn")

    # No torn ticket: each has its requester, tracking hash and `created` event; each success is there.
    with psycopg2.connect(cluster.url("tierdesk")) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT t.subject, t.requester_id, t.tracking_token_hash,"
            " (SELECT count(*) FROM tickets_event e WHERE e.ticket_id = t.id AND e.kind = 'created')"
            " FROM tickets_ticket t"
        )
        rows = cursor.fetchall()
    conn.close()
    torn = [row for row in rows if row[1] is None or not row[2] or row[3] != 1]
    assert not torn, torn[:5]
    stored = [row[0] for row in rows]
    confirmed = [a.subject for a in answers if a.subject and is_success(a)]
    assert confirmed and all(stored.count(subject) == 1 for subject in confirmed)
    # Only requests that got an answer other than success may be missing; nothing else appeared.
    asked = {a.subject for a in answers if a.subject}
    assert set(stored) <= asked
