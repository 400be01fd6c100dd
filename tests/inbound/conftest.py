"""A private Dovecot IMAP server on 127.0.0.1 for the mailbox tests, and an empty mailbox for each test.

The server runs from a temporary directory on free ports, with a static
password database that accepts any user name with the password "secret":
each test logs in as a user of its own, so its mailbox starts empty. Without
Dovecot (/usr/sbin/dovecot, Debian's dovecot-imapd) the tests are skipped, and
in CI they fail.
"""
import grp
import itertools
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from imapclient import IMAPClient

from inbound import imap
from tests.conftest import IN_CI
from tests.notifications.conftest import outbox_runs, smtp, smtp_server  # noqa: F401  (shared fixtures)

DOVECOT = Path("/usr/sbin/dovecot")
OPENSSL = "openssl"
PASSWORD = "secret"
HOST = "127.0.0.1"
START_TIMEOUT = 15
APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]")
_users = itertools.count(1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def require(tool: str, present: bool, install: str) -> None:
    """Skip when a tool is missing; in CI, fail instead."""
    if present:
        return
    message = f"{tool} is missing: {install} (CI installs it in .ci/run)"
    if IN_CI:
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


class Dovecot:
    """One Dovecot instance: plain IMAP (with STARTTLS when `tls`) and, when `tls`, implicit-TLS IMAPS."""

    def __init__(self, root: Path, *, tls: bool = False):
        self.root = root
        self.tls = tls
        self.host = HOST
        self.password = PASSWORD
        self.port = 0
        self.tls_port = 0
        self.cert = root / "cert.pem" if tls else None
        self.conf = root / "dovecot.conf"
        self.log = root / "dovecot.log"
        self.proc = None

    def start(self) -> "Dovecot":
        (self.root / "mail").mkdir(exist_ok=True)
        if self.tls:
            self._make_certificate()
        uid, gid, system = self._accounts()
        os.chown(self.root / "mail", uid, gid)
        for _ in range(3):  # a free port may be taken before Dovecot binds it
            self.port, self.tls_port = free_port(), free_port() if self.tls else 0
            self.conf.write_text(self._config(uid, gid, system))
            with open(self.root / "dovecot.err", "ab") as errors:
                self.proc = subprocess.Popen([str(DOVECOT), "-F", "-c", str(self.conf)], cwd=self.root,
                                             stdout=subprocess.DEVNULL, stderr=errors)
            if self._ready():
                return self
            self.stop()
        raise RuntimeError(f"dovecot did not start:\n{self.logs()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def logs(self) -> str:
        return "\n".join(path.read_text(errors="replace")[-4000:]
                         for path in (self.log, self.root / "dovecot.err") if path.exists())

    def client(self, user: str) -> IMAPClient:
        """A logged-in plain-IMAP client (the tests' own view of the mailbox)."""
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        client.login(user, self.password)
        return client

    def _accounts(self) -> tuple[int, int, bool]:
        """The uid/gid that owns the mail, and whether Dovecot runs as root with its own system users."""
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam("dovecot")
            except KeyError:
                pytest.fail("running as root but there is no 'dovecot' user (dovecot-imapd creates it)", pytrace=False)
            # Dovecot's processes run as the dovecot user: every directory above the mail must be traversable.
            self.root.chmod(0o755)
            return account.pw_uid, account.pw_gid, True
        return os.getuid(), os.getgid(), False

    def _config(self, uid: int, gid: int, system: bool) -> str:
        root = self.root
        if system:
            users = "mail_uid = dovecot\nmail_gid = dovecot\n"
        else:
            user, group = pwd.getpwuid(uid).pw_name, grp.getgrgid(gid).gr_name
            users = (f"default_internal_user = {user}\ndefault_internal_group = {group}\n"
                     f"default_login_user = {user}\n")
        if self.tls:
            ssl = f"ssl = yes\nssl_cert = <{self.cert}\nssl_key = <{root / 'key.pem'}\n"
            imaps = f"address = {self.host}\n    port = {self.tls_port}\n    ssl = yes"
        else:
            ssl, imaps = "ssl = no\n", "port = 0"
        return f"""protocols = imap
listen = {self.host}
base_dir = {root}/run
state_dir = {root}/run/state
log_path = {self.log}
{ssl}disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
{users}mail_location = maildir:{root}/mail/%u
passdb {{
  driver = static
  args = password={PASSWORD}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = {self.host}
    port = {self.port}
  }}
  inet_listener imaps {{
    {imaps}
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
"""

    def _make_certificate(self) -> None:
        require("openssl", shutil.which(OPENSSL) is not None, "apt-get install openssl")
        subprocess.run(
            [OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-keyout", str(self.root / "key.pem"), "-out", str(self.cert),
             "-subj", f"/CN={self.host}", "-addext", f"subjectAltName=IP:{self.host}"],
            check=True, capture_output=True,
        )
        (self.root / "key.pem").chmod(0o600)

    def _ready(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        return True
            except OSError:
                pass
            time.sleep(0.05)
        return False


def start_dovecot(prefix: str, *, tls: bool = False):
    require(str(DOVECOT), DOVECOT.exists(), "apt-get install dovecot-imapd")
    root = Path(tempfile.mkdtemp(prefix=prefix))
    server = Dovecot(root, tls=tls)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def imap_server():
    """A running Dovecot without TLS; every user name logs in with its password."""
    yield from start_dovecot("tierdesk-imap-")


@pytest.fixture(scope="session")
def imap_tls_server():
    """A running Dovecot with a self-signed certificate for 127.0.0.1: STARTTLS on `port`, IMAPS on `tls_port`."""
    yield from start_dovecot("tierdesk-imaps-", tls=True)


class Mailbox:
    """One user's INBOX on a test server, as the test (not the code under test) sees it."""

    def __init__(self, server: Dovecot, user: str):
        self.server = server
        self.user = user
        self.folder = "INBOX"

    def append(self, *messages: bytes) -> list[int]:
        """Deliver the messages, in order; returns their UIDs."""
        client = self.server.client(self.user)
        try:
            uids = []
            for raw in messages:
                answer = client.append(self.folder, raw)
                found = APPENDUID.search(answer)
                assert found, answer
                uids.append(int(found.group(2)))
            return uids
        finally:
            client.logout()

    def flags(self) -> dict[int, set[bytes]]:
        """The flags of every message, by UID (read-only: looking changes nothing)."""
        client = self.server.client(self.user)
        try:
            client.select_folder(self.folder, readonly=True)
            uids = client.search(["ALL"])
            return {uid: set(data[b"FLAGS"]) for uid, data in client.fetch(uids, ["FLAGS"]).items()} if uids else {}
        finally:
            client.logout()

    def seen(self) -> set[int]:
        return {uid for uid, flags in self.flags().items() if imap.SEEN in flags}

    def uidvalidity(self) -> int:
        client = self.server.client(self.user)
        try:
            return int(client.folder_status(self.folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"])
        finally:
            client.logout()

    def environ(self) -> dict[str, str]:
        """The INBOUND_IMAP_* variables for a process that polls this mailbox."""
        return {
            "INBOUND_IMAP_HOST": self.server.host,
            "INBOUND_IMAP_PORT": str(self.server.port),
            "INBOUND_IMAP_TLS": "off",
            "INBOUND_IMAP_USER": self.user,
            "INBOUND_IMAP_PASSWORD": self.server.password,
            "INBOUND_IMAP_FOLDER": self.folder,
            "INBOUND_IMAP_CA_FILE": "",
            "INBOUND_IMAP_TIMEOUT_SECONDS": "10",
        }


def new_user() -> str:
    return f"desk{next(_users)}-{os.getpid()}-{time.monotonic_ns()}"


def use_mailbox(settings, box: Mailbox, *, tls: str = "off", port: int | None = None, ca_file: str = "") -> None:
    """Point the INBOUND_IMAP_* settings at the mailbox."""
    settings.INBOUND_IMAP_HOST = box.server.host
    settings.INBOUND_IMAP_PORT = port or box.server.port
    settings.INBOUND_IMAP_TLS = tls
    settings.INBOUND_IMAP_USER = box.user
    settings.INBOUND_IMAP_PASSWORD = box.server.password
    settings.INBOUND_IMAP_FOLDER = box.folder
    settings.INBOUND_IMAP_CA_FILE = ca_file
    settings.INBOUND_IMAP_TIMEOUT_SECONDS = 10


@pytest.fixture
def mailbox(imap_server, settings):
    """An empty mailbox of its own for the test; the INBOUND_IMAP_* settings point at it (no TLS)."""
    box = Mailbox(imap_server, new_user())
    use_mailbox(settings, box)
    return box
