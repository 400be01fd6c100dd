"""Real processes for the integration and reliability tests: a private Redis, Celery worker and beat, gunicorn.

Each test gets its own redis-server on a free port (so that it can stop and restart it) and runs its processes
against the test database. Every process logs to ``<name>.log`` in the test's temporary folder; `wait_until` shows
the tails of those logs when it gives up. Tests in other folders import the fixtures from here.
"""
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
CELERY = [sys.executable, "-m", "celery", "-A", "helpdesk"]


def database_url():
    """The URL of the database the tests run on (pytest-django's test database)."""
    s = connection.settings_dict
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{s['USER']}{password}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not start")


def wait_until(predicate, timeout, logs_dir):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    output = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(Path(logs_dir).glob("*.log")))
    pytest.fail(f"timed out after {timeout} s\n{output}")


class RedisServer:
    """A private redis-server that a test may stop and start again on the same port."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.proc = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        with open(self.workdir / "redis.log", "a") as log:
            self.proc = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                 "no", "--dir", str(self.workdir)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for_port(self.port, 10, "redis-server")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture
def redis_server(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


def app_env(var_dir: Path, **overrides) -> dict:
    """The environment of a production process (web, worker, beat) on the test database, one-second timers."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "helpdesk.settings",
        "DEBUG": "0",
        "HTTPS": "0",
        "SECRET_KEY": "worker-test-secret-key-" + "x" * 40,
        "DATABASE_URL": database_url(),
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "",
        "TIERDESK_VAR_DIR": str(var_dir),
        "SLA_SWEEP_SECONDS": "1",
        "OUTBOX_DRAIN_SECONDS": "1",
    }
    env.update({name: str(value) for name, value in overrides.items()})
    return env


class Processes:
    """The child processes of one test, each in its own session (a kill reaches a worker's pool too)."""

    def __init__(self, logs_dir: Path):
        self.logs_dir = logs_dir
        self.running: dict[str, subprocess.Popen] = {}

    def start(self, name: str, argv: list, env: dict) -> subprocess.Popen:
        assert name not in self.running or self.running[name].poll() is not None, f"{name} is running"
        with open(self.logs_dir / f"{name}.log", "a") as log:
            self.running[name] = subprocess.Popen(
                argv, cwd=ROOT, env=env, start_new_session=True, stdout=log, stderr=subprocess.STDOUT
            )
        return self.running[name]

    def log(self, name: str) -> str:
        path = self.logs_dir / f"{name}.log"
        return path.read_text() if path.exists() else ""

    def kill(self, name: str) -> None:
        """SIGKILL the process and every process of its session, at once: a crash, no clean-up of any kind."""
        proc = self.running[name]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop(self, name: str) -> None:
        proc = self.running[name]
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.running.values():
            if proc.poll() is None:
                proc.terminate()
        for name, proc in self.running.items():
            self.stop(name)
            with contextlib.suppress(ProcessLookupError):  # anything of its session left behind
                os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture
def processes(tmp_path):
    """Start processes with `processes.start(...)`; all of them are stopped after the test."""
    running = Processes(tmp_path)
    yield running
    running.stop_all()
    connection.close()


def start_worker(processes: Processes, env: dict, *, name: str = "worker", concurrency: int = 2):
    return processes.start(name, [*CELERY, "worker", "--loglevel=INFO", f"--concurrency={concurrency}"], env)


def start_beat(processes: Processes, env: dict):
    return processes.start("beat", [*CELERY, "beat", "--loglevel=INFO"], env)


@pytest.fixture
def celery_processes(tmp_path, redis_server, processes):
    """A Celery worker (two pool processes) and beat on the private Redis; yields the folder of their logs."""
    env = app_env(tmp_path, REDIS_URL=redis_server.url)
    start_worker(processes, env)
    start_beat(processes, env)
    yield tmp_path


@pytest.fixture(scope="session")
def collected_static(tmp_path_factory):
    """The static files collected once (with DEBUG off, pages need the manifest of the collected files)."""
    var_dir = tmp_path_factory.mktemp("static-var")
    env = app_env(var_dir)
    env["DATABASE_URL"] = ""  # collectstatic needs no database; the test database does not exist yet
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=env,
                   check=True)
    return var_dir / "static"


def start_gunicorn(processes: Processes, env: dict, static_dir: Path, *, workers: int = 2) -> str:
    """`gunicorn helpdesk.wsgi` as the Procfile runs it; returns its base URL once /healthz answers."""
    var_dir = Path(env["TIERDESK_VAR_DIR"])
    if not (var_dir / "static").exists():
        (var_dir / "static").symlink_to(static_dir, target_is_directory=True)
    port = free_port()
    proc = processes.start(
        "gunicorn",
        [sys.executable, "-m", "gunicorn", "helpdesk.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
         "--access-logfile", "-"],
        env,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{processes.log('gunicorn')[-3000:]}")
        try:
            if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                return base
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer:\n{processes.log('gunicorn')[-3000:]}")
