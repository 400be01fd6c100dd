"""Reading an inbound e-mail: who wrote it, about what, the words they wrote, their files, and whether a
person wrote it at all.

`parse` takes the raw bytes of a message and returns a `Parsed` message, or
raises `Malformed` when there is no sender to answer or nothing readable. It
decodes MIME structure, transfer encodings and any charset Python knows
(KOI8-R and Windows-1251 included), prefers the text part, turns HTML-only
mail into plain text (scripts, styles and images dropped), strips the quoted
history and the signature of replies, and flags mail that no person wrote —
auto-replies, bounces, list traffic — so that it never opens a ticket and is
never answered.
"""
import email
import email.policy
import re
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import PurePosixPath, PureWindowsPath

from bs4 import BeautifulSoup

AUTOMATIC_SENDERS = ("mailer-daemon", "postmaster")
BULK_PRECEDENCE = ("bulk", "junk", "list", "auto_reply")
MESSAGE_ID = re.compile(r"<[^<>\s]+>")
# A line that introduces quoted history: "On … wrote:", "… написал(а):", "… пишет:", "Am … schrieb:".
QUOTE_HEADER = re.compile(
    r"^.{0,200}\b(wrote|написал\(а\)|написала|написал|пишет|schrieb|a écrit)\s*:\s*$", re.IGNORECASE
)
WRAPPED_QUOTE_START = re.compile(r"^\s*(On|Am|Le)\s.+", re.IGNORECASE)
OUTLOOK_SEPARATOR = re.compile(r"^\s*-{2,}\s*(Original Message|Исходное сообщение|Пересылаемое сообщение)\s*-{2,}\s*$",
                               re.IGNORECASE)
OUTLOOK_HEADER = re.compile(r"^\s*\*?(From|От|Von|De)\s*:\*?\s", re.IGNORECASE)
OUTLOOK_FOLLOWING = re.compile(r"^\s*\*?(Sent|Date|To|Subject|Отправлено|Дата|Кому|Тема)\s*:", re.IGNORECASE)


class Malformed(ValueError):
    """The message cannot be read: no sender to answer, or no readable structure."""


@dataclass
class Attachment:
    filename: str
    content_type: str
    content: bytes


@dataclass
class Parsed:
    message_id: str
    sender_email: str
    sender_name: str
    subject: str
    text: str
    attachments: list = field(default_factory=list)
    in_reply_to: list = field(default_factory=list)
    references: list = field(default_factory=list)
    automatic: str = ""


def parse(raw: bytes) -> Parsed:
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        sender_name, sender_email = _sender(message)
        return Parsed(
            message_id=_header(message, "Message-ID").strip(),
            sender_email=sender_email,
            sender_name=sender_name,
            subject=" ".join(_header(message, "Subject").split()),
            text=_text(message),
            attachments=_attachments(message),
            in_reply_to=MESSAGE_ID.findall(_header(message, "In-Reply-To")),
            references=MESSAGE_ID.findall(_header(message, "References")),
            automatic=_automatic(message, sender_email),
        )
    except Malformed:
        raise
    except Exception as exc:  # the email package raises many kinds of errors on broken input
        raise Malformed(f"unreadable message: {exc.__class__.__name__}: {exc}") from exc


def _header(message: EmailMessage, name: str) -> str:
    """A header's decoded value, or "" when it is missing or cannot be decoded."""
    try:
        value = message.get(name)
    except Exception:
        return ""
    return str(value) if value is not None else ""


def _sender(message: EmailMessage) -> tuple[str, str]:
    header = message.get("From")
    if header is None:
        raise Malformed("no From header")
    addresses = getattr(header, "addresses", None)
    if addresses:
        found: Address = addresses[0]
        name, address = found.display_name, found.addr_spec
    else:
        name, address = getaddresses([str(header)])[0]
    address = (address or "").strip().lower()
    if "@" not in address or address.startswith("@") or address.endswith("@"):
        raise Malformed("no sender address in From")
    return " ".join((name or "").split()), address


def _automatic(message: EmailMessage, sender: str) -> str:
    """Why the message was not written by a person, or "" if it was."""
    auto_submitted = _header(message, "Auto-Submitted").strip().lower()
    if auto_submitted and auto_submitted != "no":
        return f"Auto-Submitted: {auto_submitted}"
    precedence = _header(message, "Precedence").strip().lower()
    if precedence in BULK_PRECEDENCE:
        return f"Precedence: {precedence}"
    for name in ("X-Autoreply", "X-Autorespond"):
        value = _header(message, name).strip()
        if value:
            return f"{name}: {value}"
    for name in ("List-Id", "List-Unsubscribe"):
        if _header(message, name):
            return f"mailing list ({name})"
    if sender.partition("@")[0] in AUTOMATIC_SENDERS:
        return f"sent by {sender}"
    if message.get_content_type() == "multipart/report":
        return "delivery report"
    return ""


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = _content(part)
    if part.get_content_type() == "text/html":
        content = html_to_text(content)
    return strip_quoted(content)


def _content(part) -> str:
    try:
        return part.get_content()
    except (LookupError, UnicodeError):
        # An unknown or wrong charset: keep what can be read.
        payload = part.get_payload(decode=True) or b""
        return payload.decode("utf-8", errors="replace")


def html_to_text(html: str) -> str:
    """The words of an HTML body as plain text: no scripts, styles, images or markup."""
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "head", "title", "img", "object", "iframe", "svg", "noscript"]):
        tag.decompose()
    for tag in soup.find_all(["br"]):
        tag.replace_with("\n")
    for tag in soup.find_all(["p", "div", "tr", "li", "h1", "h2", "h3", "h4", "blockquote"]):
        tag.insert_after("\n")
    lines = [" ".join(line.split()) for line in soup.get_text().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def strip_quoted(text: str) -> str:
    """What the writer wrote: without the quoted history of a reply and without the signature. Lines keep their
    indentation (pasted logs and tracebacks stay readable)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept = []
    for index, line in enumerate(lines):
        if line in ("-- ", "--") or OUTLOOK_SEPARATOR.match(line):
            break
        if QUOTE_HEADER.match(line):
            # "On Tue, 24 Nov 2026 at 10:00, Support <…>" may be wrapped onto the line before "wrote:".
            if kept and kept[-1].strip() and WRAPPED_QUOTE_START.match(kept[-1]):
                kept.pop()
            break
        if OUTLOOK_HEADER.match(line) and any(OUTLOOK_FOLLOWING.match(after) for after in lines[index + 1:index + 4]):
            break
        kept.append(line.rstrip())
    kept = [line for line in kept if not line.lstrip().startswith(">")]
    return "\n".join(kept).strip("\n").rstrip()


def _attachments(message: EmailMessage) -> list:
    """Every file in the message: parts with a file name or marked as attachments, forwarded messages (as .eml),
    and a message that is a single file — but not the part read as the body."""
    body = message.get_body(preferencelist=("plain", "html"))
    found = []
    for part in _parts(message):
        if part is body:
            continue
        content_type = part.get_content_type()
        disposition = part.get_content_disposition()
        filename = part.get_filename()
        if content_type == "message/rfc822":
            inner = part.get_payload()[0] if part.is_multipart() else part.get_payload()
            content = inner.as_bytes() if hasattr(inner, "as_bytes") else bytes(str(inner), "utf-8")
            subject = _header(inner, "Subject") if hasattr(inner, "get") else ""
            found.append(Attachment(safe_filename(filename or f"{subject or 'message'}.eml"), content_type, content))
            continue
        if filename is None and disposition != "attachment" and content_type.startswith("text/"):
            continue  # an alternative body, not a file
        if filename is None and disposition is None and part is not message:
            continue
        content = part.get_payload(decode=True) or b""
        found.append(Attachment(safe_filename(filename or ""), content_type, content))
    return found


def _parts(message: EmailMessage):
    """The leaf parts of a message, not descending into forwarded messages."""
    if message.get_content_type() == "message/rfc822" or not message.is_multipart():
        yield message
        return
    for part in message.iter_parts():
        yield from _parts(part)


def safe_filename(name: str) -> str:
    """The last path component of a sender's file name, without control characters or leading dots."""
    name = PureWindowsPath(PurePosixPath(name.replace("\x00", "")).name).name
    name = "".join(ch for ch in name if ch.isprintable()).strip().lstrip(".")
    return name[:200] or "attachment"
