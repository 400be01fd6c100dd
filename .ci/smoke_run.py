"""Smoke test of `make run`: start it, wait for /readyz, sign in as l1, see the worker and beat work, stop it.

Runs with a fresh state folder so it exercises migrate + seed from scratch.
"""
import json
import os
import re
import signal
import subprocess  # nosec B404  # starts `make run` and a management command of this checkout
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

PORT = os.environ.get("SMOKE_PORT", "8765")
BASE = f"http://127.0.0.1:{PORT}"
state = tempfile.mkdtemp(prefix="tierdesk-smoke-")
log_path = os.path.join(state, "make-run.log")
env = {**os.environ, "TIERDESK_VAR_DIR": state, "SLA_SWEEP_SECONDS": "2"}
started = time.monotonic()
# The child writes to its own copy of the descriptor: ours can be closed once it has started.
with open(log_path, "w") as log:
    proc = subprocess.Popen(  # noqa: S603 - a fixed command  # nosec B603, B607
        ["make", "run", f"PORT={PORT}"],  # noqa: S607 - make from PATH, as CI and developers run it
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )


def log_text():
    return Path(log_path).read_text()


def fail(message):
    print(f"SMOKE FAILED: {message}\n--- make run log ---")
    print(log_text()[-6000:])
    stop()
    sys.exit(1)


def stop():
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            print("SMOKE FAILED: make run did not stop on Ctrl-C")
            sys.exit(1)


def wait_for(predicate, what, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            fail(f"make run exited with {proc.returncode} while waiting for {what}")
        if predicate():
            return
        time.sleep(1)
    fail(f"timed out waiting for {what}")


def request(path, **kwargs):
    """A request to the server under test: `path` on BASE, plain HTTP to the loopback address."""
    return urllib.request.Request(BASE + path, **kwargs)  # noqa: S310 - on BASE, see urlopen


def urlopen(target, timeout):
    """urllib's urlopen, for the server under test only: every URL is checked to be on BASE (plain HTTP to the
    loopback address), never a file: or other scheme."""
    url = target.full_url if isinstance(target, urllib.request.Request) else target
    if not url.startswith(f"{BASE}/"):
        raise ValueError(f"not a URL of the server under test: {url}")
    return urllib.request.urlopen(target, timeout=timeout)  # noqa: S310 - checked above  # nosec B310


def ready():
    try:
        with urlopen(f"{BASE}/readyz", timeout=3) as response:
            return response.status == 200
    except OSError:
        return False


wait_for(ready, "/readyz")
print(f"/readyz answered 200 after {time.monotonic() - started:.1f} s")

jar = CookieJar()
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
page = opener.open(f"{BASE}/accounts/login/", timeout=10).read().decode()
token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
if not token:
    fail("no CSRF token on the sign-in page")
form = urllib.parse.urlencode({
    "username": "l1",
    "password": "demo",  # nosec B105  # the documented demo password that seed_demo sets
    "csrfmiddlewaretoken": token.group(1),
    "next": "/",
})
home = opener.open(request("/accounts/login/", data=form.encode(), headers={"Referer": f"{BASE}/accounts/login/"}),
                   timeout=10)
body = home.read().decode()
if home.url != f"{BASE}/desk/" or '<span class="who"' not in body or 'id="queue"' not in body:
    fail(f"signing in as l1 did not reach the desk queues (ended at {home.url})")
print("signed in as l1 and reached the desk queues")

# The API quick start of docs/api.md, against the running server.
token = subprocess.run(  # nosec B603  # a fixed command of this checkout
    [".venv/bin/python", "manage.py", "drf_create_token", "l1"], env={**env, "DEBUG": "1"}, capture_output=True,
    text=True, check=True,
).stdout.split()[2]


def api(method, path, body=None, expect=200):
    call = request(
        f"/api/v1/{path}", method=method, data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    try:
        with urlopen(call, timeout=10) as response:
            status, payload = response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        status, payload = error.code, json.loads(error.read() or b"null")
    if status != expect:
        fail(f"{method} {path} answered {status} (expected {expect}): {payload}")
    return payload


ticket = api("POST", "tickets/", {"subject": "Disk full on fs01", "description": "98%",
                                  "requester": {"email": "monitoring@example.com"}, "priority": "P2"}, expect=201)
tid = ticket["id"]
api("POST", f"tickets/{tid}/take/", {"version": ticket["version"]})
api("POST", f"tickets/{tid}/diagnose/", {"affected_item": "fs01", "steps_before": "backup", "findings": "snapshots"})
api("POST", f"tickets/{tid}/start-resolving/", {})
api("POST", f"tickets/{tid}/resolve/", {"summary": "Pruned snapshots"})
api("POST", f"tickets/{tid}/resolve/", {"summary": "again"}, expect=409)
closed = api("POST", f"tickets/{tid}/close/", {"csat": 5})
if closed["status"] != "closed":
    fail(f"the ticket ended {closed['status']}")
docs = urlopen(f"{BASE}/api/v1/docs/", timeout=10).read().decode()
asset = re.search(r'src="(/static/drf_spectacular_sidecar/[^"]+\.js)"', docs)
if not asset or urlopen(BASE + asset.group(1), timeout=10).status != 200:
    fail("the API docs page or its local assets are not served")
print(f"drove {ticket['reference']} through its life by the API; API docs served locally")

wait_for(lambda: "Sending due task sla-sweep" in log_text(), "beat to send the SLA sweep", timeout=60)
wait_for(lambda: re.search(r"Task tickets\.tasks\.sla_sweep\[[^\]]+\] succeeded", log_text()),
         "the worker to run it", 60)
print("beat scheduled the SLA sweep and the worker ran it")

stop()
print(f"make run stopped cleanly with exit code {proc.returncode}")
time.sleep(1)
try:
    os.killpg(proc.pid, 0)
except ProcessLookupError:
    print("no process of make run is left")
else:
    os.killpg(proc.pid, signal.SIGKILL)
    print("SMOKE FAILED: processes of make run were still running after Ctrl-C")
    sys.exit(1)
