"""Uploads through every entry point: dangerous files are refused, the rest are only ever served as downloads.

The entry points: the portal's report form and its reply form, the desk's
attach action and the API's attachment endpoint (inbound e-mail has its own
corpus in tests/inbound). Each gets the same files: pages, scripts and
programs by name or by content, polyglots, files over the size limit, and
names that try to climb out of the folder, hide control characters or turn
text right-to-left. A refused file is a 4xx with a message saying why, and
leaves nothing behind: no ticket, no comment, no attachment, no file on disk.
An accepted one is stored under a name the server makes, inside MEDIA_ROOT,
shown under a neutralised name, and served only as a download.
"""
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from tests.factories import make_ticket, staff_user
from tickets.models import Attachment, Comment, Event, Ticket
from tickets.portal import tokens

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n"
SCRIPT = b"<html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.domain)</script></svg>'
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 48 + b"This program cannot be run in DOS mode"


@dataclass(frozen=True)
class Sample:
    label: str
    name: str
    content: bytes
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class Refused(Sample):
    """A file every entry point refuses, with (part of) the message that says why."""

    why: str = ""


@dataclass(frozen=True)
class Stored(Sample):
    """A file every entry point takes: shown under `shown_as`, served only as a download."""

    shown_as: str = ""


def _oversize() -> bytes:
    return b"x" * (django_settings.ATTACHMENT_MAX_BYTES + 1)


REFUSED = [
    Refused("an HTML page", "page.html", SCRIPT, "text/html", why="are not accepted"),
    Refused("an HTML page in capitals", "PAGE.HTM", SCRIPT, "text/html", why="are not accepted"),
    Refused("an SVG with a script", "logo.svg", SVG, "image/svg+xml", why="are not accepted"),
    Refused("a JavaScript file", "app.js", b"alert(1)", "text/javascript", why="are not accepted"),
    Refused("a Windows program", "setup.exe", EXE, why="are not accepted"),
    Refused("a program named as an image", "setup.exe.png", EXE, "image/png", why="does not match"),
    Refused("a page claiming to be a PNG", "photo.png", SCRIPT, "image/png", why="does not match"),
    Refused("a page behind a trailing dot", "page.html.", SCRIPT, "text/html", why="are not accepted"),
    Refused("a program behind a right-to-left override", "invoice\u202egpj.exe", EXE, "image/jpeg",
            why="are not accepted"),
    Refused("a server configuration file", ".htaccess", b"AddType text/html .txt\n", "text/plain",
            why="are not accepted"),
    Refused("a Word file that is a page", "report.docx", SCRIPT, "application/msword", why="does not match"),
    Refused("a path to a file without a type", "../../etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n",
            "text/plain", why="are not accepted"),
    Refused("a Windows path to an .ini", "..\\..\\windows\\win.ini", b"[fonts]\n", "text/plain",
            why="are not accepted"),
]
# Built when the test runs: the limit is the settings', and the file is large.
OVERSIZE = "a file one byte over the limit"

STORED = [
    Stored("a GIF that is also a page", "cat.gif", b"GIF89a/*" + SCRIPT + b"*/=1;", "image/gif", shown_as="cat.gif"),
    Stored("a page in a text file that claims to be a PNG", "notes.txt", SCRIPT, "image/png", shown_as="notes.txt"),
    Stored("a path climbing out of the folder", "../../etc/passwd.txt", b"root:x:0:0\n", "text/plain",
           shown_as="passwd.txt"),
    Stored("a Windows path climbing out", "..\\..\\windows\\win.ini.txt", b"[fonts]\n", "text/plain",
           shown_as="win.ini.txt"),
    Stored("a name with a folder", "a/b.txt", b"b\n", "text/plain", shown_as="b.txt"),
    Stored("a name with a NUL byte", "evil\x00.txt", b"nul\n", "text/plain", shown_as="evil.txt"),
    Stored("a name with control characters", "bell\x07\x1b[31mred\x7f.txt", b"ansi\n", "text/plain",
           shown_as="bell[31mred.txt"),
    Stored("a name with a right-to-left override", "report\u202efdp.txt", b"rtl\n", "text/plain",
           shown_as="reportfdp.txt"),
    Stored("a name with quotes that would end the header's value", 'say "hi"; x=1.txt', b"quoted\n", "text/plain",
           shown_as='say "hi"; x=1.txt'),
    # Runs of spaces become one; the tab, a control character, goes.
    Stored("a name with doubled spaces and a tab", "two  spaces\tand tab.txt", b"ws\n", "text/plain",
           shown_as="two spacesand tab.txt"),
    Stored("a very long name", "a" * 300 + ".txt", b"long\n", "text/plain", shown_as="a" * 251 + ".txt"),
    Stored("an XML file that browsers would run as XHTML", "feed.xml",
           b'<html xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></html>', "application/xhtml+xml",
           shown_as="feed.xml"),
    Stored("a name in Cyrillic", "Отчёт об ошибке.txt", b"utf-8\n", "text/plain", shown_as="Отчёт об ошибке.txt"),
    Stored("a PNG that is a PNG", "screen.png", PNG + b"\x00" * 64, "image/png", shown_as="screen.png"),
]


# --- the entry points ---------------------------------------------------------------------------------------


@pytest.fixture
def media(settings, tmp_path) -> Path:
    """A MEDIA_ROOT of the test's own, so "nothing stored" can be checked on disk."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return Path(settings.MEDIA_ROOT)


@pytest.fixture
def cast(tiers, media):
    alice = staff_user("alice", tier="L1")
    ticket = make_ticket(subject="Printer jams", requester_email="dana@example.com")
    desk = Client()
    desk.force_login(alice)
    api = Client(headers={"authorization": f"Token {Token.objects.create(user=alice).key}"})
    return {"ticket": ticket, "desk": desk, "api": api, "alice": alice}


def _upload(sample: Sample) -> SimpleUploadedFile:
    return SimpleUploadedFile(sample.name, sample.content, content_type=sample.content_type)


def via_report(cast, sample):
    return Client(REMOTE_ADDR="10.30.0.1").post(reverse("portal:report"), {
        "name": "Dana", "email": "dana@example.com", "subject": "Scanner offline", "description": "See the file.",
        "website": "", "files": [_upload(sample)]})


def via_reply(cast, sample):
    return Client(REMOTE_ADDR="10.30.0.2").post(
        reverse("portal:track-action", args=[tokens.tracking_token(cast["ticket"]), "reply"]),
        {"body": "Here is the file", "files": [_upload(sample)]})


def via_desk(cast, sample):
    return cast["desk"].post(reverse("desk:action", args=[cast["ticket"].pk, "attach"]), {"file": _upload(sample)})


def via_api(cast, sample):
    return cast["api"].post(reverse("api:ticket-attachments", args=[cast["ticket"].pk]), {"file": _upload(sample)})


ENTRY_POINTS = {"portal report": via_report, "portal reply": via_reply, "desk": via_desk, "api": via_api}
ACCEPTED_STATUS = {"portal report": 201, "portal reply": 302, "desk": 302, "api": 201}


def state(media: Path):
    """Everything an upload could leave behind."""
    files = sorted(str(path.relative_to(media)) for path in media.rglob("*") if path.is_file())
    return {
        "tickets": Ticket.objects.count(),
        "comments": Comment.objects.count(),
        "attachments": Attachment.objects.count(),
        "events": Event.objects.count(),
        "versions": sorted(Ticket.objects.values_list("pk", "version")),
        "files": files,
    }


def message_of(response) -> str:
    if response["Content-Type"].startswith("application/json"):
        return response.json()["detail"]
    return response.content.decode()


# --- refused files ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("sample", [*REFUSED, OVERSIZE], ids=lambda s: s if isinstance(s, str) else s.label)
def test_a_dangerous_file_is_refused_with_a_reason_and_leaves_nothing(cast, media, entry, sample):
    if sample == OVERSIZE:
        sample = Refused(OVERSIZE, "big.txt", _oversize(), "text/plain", why="at most")
    before = state(media)
    response = ENTRY_POINTS[entry](cast, sample)
    # The desk and the API say "too large" as 413; the portal's forms answer 400 with the form again.
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    if entry in ("desk", "api") and sample.label == OVERSIZE:
        assert response.status_code == 413
    assert sample.why in message_of(response), message_of(response)[:2000]
    assert state(media) == before, "a refused upload left something behind"


# --- stored files, served only as downloads --------------------------------------------------------------------


def _download(cast, attachment):
    desk = cast["desk"].get(reverse("desk:attachment", args=[attachment.ticket_id, attachment.pk]))
    api = cast["api"].get(reverse("api:ticket-attachment-download", args=[attachment.ticket_id, attachment.pk]))
    return {"desk": desk, "api": api}


def _neutral(name: str) -> bool:
    """No path, no control or invisible formatting character, no line break: safe to show and to send."""
    return not any(ch in "/\\" or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name)


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("sample", STORED, ids=lambda s: s.label)
def test_an_accepted_file_is_kept_inside_media_under_a_server_name_and_served_only_as_a_download(
    cast, media, entry, sample
):
    before = set(Attachment.objects.values_list("pk", flat=True))
    response = ENTRY_POINTS[entry](cast, sample)
    assert response.status_code == ACCEPTED_STATUS[entry], (response.status_code, message_of(response)[:2000])
    (attachment,) = Attachment.objects.exclude(pk__in=before)
    assert attachment.original_name == sample.shown_as
    assert _neutral(attachment.original_name) and len(attachment.original_name) <= 255
    # Stored under a name the server made, in the ticket's folder inside MEDIA_ROOT.
    assert re.fullmatch(rf"attachments/{attachment.ticket_id}/[0-9a-f]{{32}}", attachment.file.name)
    stored = Path(attachment.file.path).resolve()
    assert stored.is_relative_to(media.resolve()) and stored.read_bytes() == sample.content
    for where, download in _download(cast, attachment).items():
        assert download.status_code == 200, where
        assert download["Content-Type"] == "application/octet-stream", where
        assert download["X-Content-Type-Options"] == "nosniff", where
        assert "sandbox" in download["Content-Security-Policy"], where
        disposition = download["Content-Disposition"]
        assert disposition.startswith("attachment;") and "\r" not in disposition and "\n" not in disposition, where
        assert b"".join(download.streaming_content) == sample.content, where


def test_the_api_reports_the_neutral_name_and_never_a_type_a_browser_would_render(cast, media):
    """The listed content type is what the client claimed; the download ignores it, whatever it says."""
    sample = Stored("html claiming html", 'say "hi"; x=1.txt', SCRIPT, "text/html", shown_as='say "hi"; x=1.txt')
    created = via_api(cast, sample).json()
    assert created["name"] == 'say "hi"; x=1.txt'
    download = cast["api"].get(created["download_url"])
    assert download["Content-Type"] == "application/octet-stream"
    # The quotes are escaped: the name cannot end the header's value and add a parameter of its own.
    assert download["Content-Disposition"] == 'attachment; filename="say \\"hi\\"; x=1.txt"'


def test_a_file_exactly_at_the_limit_is_taken(cast, media):
    sample = Stored("at the limit", "big.txt", b"x" * django_settings.ATTACHMENT_MAX_BYTES, "text/plain",
                    shown_as="big.txt")
    assert via_api(cast, sample).status_code == 201


def test_a_refused_file_in_a_report_opens_no_ticket_even_next_to_a_good_one(cast, media):
    """All or nothing: one bad file among several refuses the report; no half-written ticket remains."""
    before = state(media)
    good = SimpleUploadedFile("screen.png", PNG + b"\x00" * 16, content_type="image/png")
    bad = SimpleUploadedFile("page.html", SCRIPT, content_type="text/html")
    response = Client(REMOTE_ADDR="10.30.0.9").post(reverse("portal:report"), {
        "name": "Dana", "email": "dana@example.com", "subject": "Scanner offline", "description": "See the files.",
        "website": "", "files": [good, bad]})
    assert response.status_code == 400 and "page.html" in response.content.decode()
    assert state(media) == before


def test_a_refused_file_in_a_reply_drops_the_message_too(cast, media):
    """The reply's text and its files are one answer: a bad file refuses both, and the text is kept in the form."""
    before = state(media)
    response = Client(REMOTE_ADDR="10.30.0.10").post(
        reverse("portal:track-action", args=[tokens.tracking_token(cast["ticket"]), "reply"]),
        {"body": "Please see the attached page", "files": [SimpleUploadedFile("page.html", SCRIPT)]})
    assert response.status_code == 400
    page = response.content.decode()
    assert "are not accepted" in page and "Please see the attached page" in page
    assert state(media) == before
