"""Smoke test of `make run`: start it, wait for /readyz, sign in as l1, see the worker and beat work, stop it.

Runs with a fresh state folder so it exercises migrate + seed from scratch.
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

PORT = os.environ.get("SMOKE_PORT", "8765")
BASE = f"http://127.0.0.1:{PORT}"
state = tempfile.mkdtemp(prefix="tierdesk-smoke-")
log_path = os.path.join(state, "make-run.log")
env = {**os.environ, "TIERDESK_VAR_DIR": state, "OUTBOX_DRAIN_SECONDS": "2"}
started = time.monotonic()
log = open(log_path, "w")
proc = subprocess.Popen(["make", "run", f"PORT={PORT}"], stdout=log, stderr=subprocess.STDOUT, env=env,
                        start_new_session=True)


def fail(message):
    print(f"SMOKE FAILED: {message}\n--- make run log ---")
    print(open(log_path).read()[-6000:])
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


def ready():
    try:
        with urllib.request.urlopen(f"{BASE}/readyz", timeout=3) as response:
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
form = urllib.parse.urlencode({"username": "l1", "password": "demo", "csrfmiddlewaretoken": token.group(1), "next": "/"})
request = urllib.request.Request(f"{BASE}/accounts/login/", data=form.encode(), headers={"Referer": f"{BASE}/accounts/login/"})
home = opener.open(request, timeout=10)
body = home.read().decode()
if home.url.rstrip("/") != BASE or "Signed in as l1" not in body:
    fail(f"signing in as l1 did not reach the home page (ended at {home.url})")
print("signed in as l1")

log_text = lambda: open(log_path).read()
wait_for(lambda: "Sending due task outbox-drain" in log_text(), "beat to send the outbox drain", timeout=60)
wait_for(lambda: re.search(r"Task tickets\.tasks\.drain_outbox\[[^\]]+\] succeeded", log_text()), "the worker to run it", 60)
print("beat scheduled the outbox drain and the worker ran it")

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
