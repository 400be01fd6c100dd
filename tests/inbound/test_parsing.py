"""Inbound mail parsing, checked against a corpus of real-world shaped messages.

Every file in ``corpus/`` has one row in ``CASES`` saying what ``parse`` must
give for it, field by field. Two files are not mail a ticket can come from and
must raise ``Malformed``. A few checks need no file: a ~2 MB message built here,
and raw bytes that are not mail at all.

Text is compared after turning CRLF into LF (the parser may keep either);
``text_has``/``text_lacks`` compare with runs of whitespace collapsed, so HTML
conversion may lay out lines as it likes.
"""
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import NamedTuple

import pytest

from inbound.parsing import Malformed, parse

CORPUS = Path(__file__).parent / "corpus"

PDF, PNG, ZIP = b"%PDF-", b"\x89PNG\r\n\x1a\n", b"PK\x03\x04"


class Att(NamedTuple):
    filename: str
    content_type: str
    size: int | None  # None: not checked
    magic: bytes = b""  # what the decoded content starts with


@dataclass(frozen=True)
class Expect:
    sender_email: str
    sender_name: str | None  # None: not checked (see the row)
    subject: str
    message_id: str
    text: str | None = None  # exact, after CRLF -> LF
    text_has: tuple[str, ...] = ()
    text_lacks: tuple[str, ...] = ()
    attachments: tuple[Att, ...] | None = ()  # None: not checked (machine parts of reports)
    other_attachments_ok: bool = False  # True: the listed ones must be there, others may be too
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    automatic: bool = False


MALFORMED = "malformed"

CASES: dict[str, Expect | str] = {
    # --- people writing in, various encodings --------------------------------------------------
    "01-plain-ascii.eml": Expect(
        sender_email="john.smith@example.com",  # written as John.Smith@Example.COM
        sender_name="Smith, John",
        subject='Printer on 3rd floor shows "Paper jam" but tray is empty',
        message_id="<CAF3k9x2Lq8@mail.example.com>",
        text='Hello,\n\nThe HP LaserJet next to room 3.14 shows "Paper jam in tray 2" since this\n'
             "morning. I opened every door and there is no paper stuck anywhere.\n\n"
             "Asset tag: PRN-0317\n\nRegards,\nJohn",
    ),
    "02-utf8-quoted-printable.eml": Expect(
        sender_email="renee.dupont@example.fr",
        sender_name="Renée Dupont",
        subject="Accès VPN refusé depuis la mise à jour",
        message_id="<20261124070240.4711@example.fr>",
        # The long line is split by soft line breaks in the file; it must come back whole.
        text="Bonjour,\n\nDepuis la mise à jour de ce matin, le client VPN refuse ma connexion avec le message "
             "« Accès refusé – certificat expiré ». J'ai redémarré deux fois, sans succès.\n\n"
             "Coût de l'arrêt : environ 200 € par heure pour l'équipe.\n\nMerci d'avance,\nRenée",
    ),
    "03-base64-body.eml": Expect(
        sender_email="hr@example.com",
        sender_name="HR Department",
        subject="New starter: account request",
        message_id="<5f0c9a12-7b3e-4c1d-9f4e-0a9d6e2b8c71@example.com>",
        text="Hi team,\n\nPlease create an account for our new hire:\n\n"
             "  Name: Ólafur Jónsson\n  Start: 1 December 2026\n  Team: Logistics – Warehouse B\n\n"
             "He needs e-mail, the ERP client and a badge for gate 4.\n\nThanks,\nHR",
        automatic=False,  # carries "Auto-Submitted: no", which marks a person's message
    ),
    "04-koi8r.eml": Expect(
        sender_email="s.kuznetsov@example.ru",
        sender_name="Сергей Кузнецов",
        subject="Не работает принтер на 3 этаже",
        message_id="<1732435512.271828@mail.example.ru>",
        text="Добрый день!\n\nПринтер HP на третьем этаже печатает пустые листы.\n"
             "Картридж меняли вчера, не помогло.\n\nСергей Кузнецов\nбухгалтерия, доб. 214",
    ),
    "05-windows-1251.eml": Expect(
        sender_email="i.petrov@example.ru",
        sender_name="Иван Петров",
        subject="Ошибка входа в 1С",
        message_id="<000601db3e4f$1a2b3c40$4e5f6a70$@example.ru>",
        text="Здравствуйте!\n\nНе могу войти в 1С: после ввода пароля появляется ошибка «Нет лицензии».\n"
             "Вчера всё работало.\n\nС уважением,\nИван Петров",
    ),
    # --- choosing and converting the body ------------------------------------------------------
    "06-alternative-text-wins.eml": Expect(
        sender_email="lena.fischer@example.de",
        sender_name="Lena Fischer",
        subject="Outlook keeps asking for my password",
        message_id="<AM0PR07MB4481C5E2A0D3F1B2@AM0PR07MB4481.eurprd07.prod.outlook.example>",
        text="Hi,\n\nMy Outlook keeps asking for the password every few minutes, even right after I type it in "
             "correctly.\n\nThanks,\nLena",
        text_lacks=("Hi team", "Preview: password prompt loop"),  # only in the HTML part
    ),
    "07-alternative-html-first.eml": Expect(
        sender_email="orders@shop.example",
        sender_name="Webshop Orders",
        subject="Cannot print shipping labels",
        message_id="<6fb1e2c0a9d34c8b@shop.example>",
        # The HTML part comes first here; text/plain must still be the one used.
        text="Hello,\n\nThe label printer in dispatch prints only half of each label.\n\nKai",
        text_lacks=("Dispatch", "<"),  # the HTML part's heading; the plain part says "dispatch" in lower case
    ),
    "08-html-only.eml": Expect(
        sender_email="priya.n@example.in",
        sender_name="Priya Natarajan",
        subject="Shared drive not mapping",
        message_id="<a3c9e51f.1c2b.4d55@example.in>",
        text_has=(
            "Hello support team,",
            "The shared drive (S:) is not mapping on my laptop since this morning.",
            "Our R&D folder is unreachable.",
            "the status page for incident 77",  # a link's text is kept
            "Thanks,",
            "Priya",
        ),
        text_lacks=(
            "<", "&amp;",
            "font-family", "display:none",  # style
            "trackingId", "tracking pixel loaded", "document.write",  # script
            "initTracker", "trackClick", "alert(", "onclick", "onmouseover",  # event handlers
        ),
    ),
    # --- attachments ---------------------------------------------------------------------------
    "09-pdf-and-png.eml": Expect(
        sender_email="tom.becker@example.com",
        sender_name="Tom Becker",
        subject="Toner order and screenshot of the error",
        message_id="<DB9PR10MB5723A1B2C3D4E5F6@DB9PR10MB5723.eurprd10.prod.outlook.example>",
        text="Hi,\n\nAttached is the toner order form and a screenshot of the driver error.\n\nTom",
        attachments=(
            Att("toner-order-2026-11.pdf", "application/pdf", 600, PDF),
            Att("driver-error.png", "image/png", 463, PNG),
        ),
    ),
    "10-rfc2231-filenames.eml": Expect(
        sender_email="o.smirnova@example.ru",
        sender_name="Olga Smirnova",
        subject="Reports for the monthly review",
        message_id="<b7e2c4a1-3f9d-4e8a-9c2b-1d5e6f7a8b9c@example.ru>",
        text="Three files for the monthly review are attached.",
        attachments=(
            # RFC 2231 with continuations (filename*0*, filename*1*), UTF-8
            Att("Отчёт об инцидентах — ноябрь 2026.xlsx",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", 507, ZIP),
            # RFC 2231, ISO-8859-1
            Att("Bestellbestätigung.pdf", "application/pdf", 600, PDF),
            # RFC 2047 encoded-word inside quotes, as Outlook and Gmail write it
            Att("Скан 24.11.2026.pdf", "application/pdf", 596, PDF),
        ),
    ),
    "11-path-traversal-filenames.eml": Expect(
        sender_email="billing@suspicious.example",
        sender_name="Invoice Desk",
        subject="Your invoice documents",
        message_id="<20261127021344.77e1@suspicious.example>",
        text="Please see the attached documents.",
        attachments=(
            Att("passwd", "text/plain", 32, b"root:"),  # "../../etc/passwd"
            Att("shell.php", "application/x-php", 29, b"<?php"),  # "/var/www/html/shell.php"
            Att("authorized_keys", "text/plain", 87, b"ssh-ed25519"),  # slashes hidden as %2F (RFC 2231)
            Att("boot.ini", "text/plain", 27, b"[boot loader]"),  # Windows separators, "..\..\boot.ini"
        ),
    ),
    "12-text-attachment-not-body.eml": Expect(
        sender_email="mark.olsen@example.no",
        sender_name="Mark Olsen",
        subject="VPN drops every few minutes (log attached)",
        message_id="<9c1e7d2b-olsen@example.no>",
        text="The VPN drops every few minutes. The client log is attached.",
        text_lacks=("vpnagent:",),  # the attached text/plain log is not the body
        attachments=(Att("vpnagent.log", "text/plain", 154, b"2026-11-24 09:12:03 ERROR"),),
    ),
    # --- replies: quoted history and threading -------------------------------------------------
    "13-gmail-reply.eml": Expect(
        sender_email="maria.rossi@gmail.example",
        sender_name="Maria Rossi",
        subject="Re: [HD-000031] Printer on floor 3",
        message_id="<CAJx8mK1q2w3E4r5T6y7U8i9O0p@mail.gmail.example>",
        text="Thanks, that fixed it. The printer on floor 3 works again.\n\nMaria",
        text_lacks=("wrote:", "switch the printer off"),
        in_reply_to=("<hd-000031.3@tierdesk.example>",),
        references=("<hd-000031.3@tierdesk.example>",),
    ),
    "14-gmail-reply-wrapped-attribution.eml": Expect(
        sender_email="d.okafor@gmail.example",
        sender_name="Daniel Okafor",
        subject="Re: [HD-000057] Laptop battery drains overnight",
        message_id="<CAK7pQ2z9Yx8Wv7Ut6Sr5Qp4On3@mail.gmail.example>",
        # Gmail wraps a long "On ... wrote:" line, leaving "wrote:" alone on the next line.
        text="Battery report attached earlier; it still drops 40% overnight.",
        text_lacks=("wrote:", "Tierdesk Support", "powercfg"),
        in_reply_to=("<hd-000057.2@tierdesk.example>",),
        references=("<hd-000057.2@tierdesk.example>",),
    ),
    "15-outlook-original-message.eml": Expect(
        sender_email="tom.becker@example.com",
        sender_name="Tom Becker",
        subject="RE: [HD-000042] Printer jams",
        message_id="<DB9PR10MB57230F1E2D3C4B5A@DB9PR10MB5723.eurprd10.prod.outlook.example>",
        text="Hi,\n\nIt is still jamming after the roller swap. It happens only with the\n"
             "recycled paper from tray 2.\n\nBest regards,\nTom Becker\nFinance",
        text_lacks=("Original Message", "Sent:", "pick-up roller"),
        in_reply_to=("<hd-000042.5@tierdesk.example>",),
    ),
    "16-outlook-header-block.eml": Expect(
        sender_email="anna.kowalska@example.pl",
        sender_name="Anna Kowalska",
        subject="RE: [HD-000050] Monitor flickers",
        message_id="<VI1PR02MB6128E4D5C6B7A8F9@VI1PR02MB6128.eurprd02.prod.outlook.example>",
        text="Yes, the new cable solved it. You can close the ticket.\n\nAnna",
        text_lacks=("Sent:", "DisplayPort"),
    ),
    "17-russian-reply.eml": Expect(
        sender_email="o.smirnova@example.ru",
        sender_name="Ольга Смирнова",
        subject="Re: [HD-000063] Не подключается VPN",
        message_id="<1732433465.817283@example.ru>",
        text="Спасибо, всё заработало.\n\nОльга",
        text_lacks=("написал", "перезапустить"),
        in_reply_to=("<hd-000063.1@tierdesk.example>",),
        references=("<hd-000063.1@tierdesk.example>",),
    ),
    "18-reply-threading.eml": Expect(
        sender_email="tom.becker@example.com",
        sender_name="Tom Becker",
        subject="Re: [HD-000042] Printer jams",
        message_id="<c0ffee42-0002@example.com>",
        text="No jams since yesterday afternoon. Thanks!",
        in_reply_to=("<hd-000042.7@tierdesk.example>",),
        references=("<hd-000042.1@tierdesk.example>", "<hd-000042.7@tierdesk.example>"),  # folded header
    ),
    "19-signature.eml": Expect(
        sender_email="john.smith@example.com",
        sender_name="John Smith",
        subject="VPN client disconnects",
        message_id="<20261126120000.GA1234@example.com>",
        # "--" inside a sentence is not a signature separator; "-- " on its own line is.
        text="Hi,\n\nThe VPN client disconnects every time the laptop wakes from sleep.\n"
             "I reinstalled it twice -- no luck.\n\nThanks\nJohn",
        text_lacks=("Accounts Payable", "555 0100"),
    ),
    # --- machines writing in: one signal each, except the two bounces (28, 29), kept as sent ----
    "20-out-of-office.eml": Expect(
        sender_email="lena.fischer@example.de",
        sender_name="Lena Fischer",
        subject="Automatic reply: [HD-000044] Outlook keeps asking for my password",
        message_id="<AM0PR07MB44810A1B2C3D4E5F@AM0PR07MB4481.eurprd07.prod.outlook.example>",
        text_has=("out of the office until 1 December 2026",),
        in_reply_to=("<hd-000044.2@tierdesk.example>",),
        references=("<hd-000044.2@tierdesk.example>",),
        automatic=True,  # Auto-Submitted: auto-replied
    ),
    "21-x-autoreply.eml": Expect(
        sender_email="p.orlov@example.ru",
        sender_name="Павел Орлов",
        subject="Автоответ: [HD-000063] Не подключается VPN",
        message_id="<autoreply-1732431900-5521@example.ru>",
        text="Я в отпуске до 30 ноября.",
        automatic=True,  # X-Autoreply: yes
    ),
    "22-x-autorespond.eml": Expect(
        sender_email="sales@hosting-customer.example",
        sender_name="Sales",
        subject="Thank you for contacting us",
        message_id="<E1tFz8K-0003Xa-2Q@server42.hosting-customer.example>",
        text="We have received your message and will reply within two business days.",
        automatic=True,  # X-Autorespond
    ),
    "23-precedence-auto-reply.eml": Expect(
        sender_email="facilities@example.org",
        sender_name="Facilities Desk",
        subject="Re: [HD-000070] Broken chair in room 2.08",
        message_id="<ack-20261125110000@example.org>",
        text="Your request has been logged by the facilities desk.",
        automatic=True,  # Precedence: auto_reply
    ),
    "24-precedence-bulk.eml": Expect(
        sender_email="no-reply@cloud.example",
        sender_name="Example Cloud",
        subject="Your monthly usage summary for November 2026",
        message_id="<usage-2026-11.8812@cloud.example>",
        text="Storage used: 412 GB of 500 GB.\nCompute hours: 1,204.",
        automatic=True,  # Precedence: bulk
    ),
    "25-mailing-list.eml": Expect(
        sender_email="greg@example.org",
        sender_name="Greg Novak",
        subject="[it-admins] Heads-up: DNS maintenance on Saturday",
        message_id="<87wmzp1k2x.fsf@example.org>",
        text="The internal resolvers will be restarted on Saturday between 06:00 and 06:30.",
        automatic=True,  # List-Id
    ),
    "26-list-unsubscribe.eml": Expect(
        sender_email="news@vendor.example",
        sender_name="Vendor News",
        subject="New firmware for your access points",
        message_id="<0100019377a1b2c3-newsletter@vendor.example>",
        text="Firmware 7.4.2 is available for the AP-300 series.",
        automatic=True,  # List-Unsubscribe
    ),
    "27-auto-generated-alert.eml": Expect(
        sender_email="zabbix@monitoring.example.com",
        sender_name="Zabbix",
        subject="Problem: Disk space is low on fileserver01 (used > 90%)",
        message_id="<zabbix.1732677255.40817@monitoring.example.com>",
        text="Problem started at 03:14:10 on 2026.11.27\nHost: fileserver01\nSeverity: Warning",
        automatic=True,  # Auto-Submitted: auto-generated
    ),
    "28-bounce-mailer-daemon.eml": Expect(
        sender_email="mailer-daemon@mx.tierdesk.example",
        sender_name=None,  # Postfix writes the name as an old-style comment: "(Mail Delivery System)"
        subject="Undelivered Mail Returned to Sender",
        message_id="<20261124100009.3B1F11C0412@mx.tierdesk.example>",
        text_has=("your message could not be delivered to one or more recipients",),
        attachments=None,
        automatic=True,  # MAILER-DAEMON, multipart/report, Auto-Submitted
    ),
    "29-dsn-postmaster.eml": Expect(
        sender_email="postmaster@contoso.example",
        sender_name="",
        subject="Undeliverable: [HD-000048] Password reset",
        message_id="<1e2f3a4b-5c6d-7e8f-9a0b-1c2d3e4f5a6b@contoso.example>",
        text_has=("Delivery has failed to these recipients or groups:", "mailbox is full"),
        attachments=None,
        automatic=True,  # postmaster, multipart/report
    ),
    "30-qmail-bounce.eml": Expect(
        sender_email="mailer-daemon@mail.example.org",
        sender_name="",
        subject="failure notice",
        message_id="<20261126073012.12345.qmail@mail.example.org>",
        text_has=("I'm afraid I wasn't able to deliver your message",),
        automatic=True,  # MAILER-DAEMON only: plain text, no other header gives it away
    ),
    "31-read-receipt.eml": Expect(
        sender_email="tom.becker@example.com",
        sender_name="Tom Becker",
        subject="Read: [HD-000042] Printer jams",
        message_id="<DB9PR10MB5723BEEF0001@DB9PR10MB5723.eurprd10.prod.outlook.example>",
        text_has=("was read on Tuesday, November 24, 2026 10:05 AM.",),
        attachments=None,
        automatic=True,  # multipart/report only: a person's address, no other header gives it away
    ),
    # --- headers -------------------------------------------------------------------------------
    "32-no-message-id.eml": Expect(
        sender_email="webform@intranet.example.com",
        sender_name="Intranet Form",
        subject="Hardware request from the intranet form",
        message_id="",
        text="Requester: Carla Mendes\nItem: USB-C docking station\nReason: new desk in room 1.12",
    ),
    "33-long-folded-subject.eml": Expect(
        sender_email="henrik.larsen@example.dk",
        sender_name="Henrik Larsen",
        subject="Since the Windows update on Monday the docking station in meeting room 4.02 no longer detects the "
                "second monitor, the USB keyboard only works in the left port and the network connection drops "
                "whenever the laptop lid is closed",
        message_id="<c2b1a0f9-long-subject@example.dk>",
        text="See subject. Affects every laptop we tried.",
    ),
    "34-long-encoded-subject.eml": Expect(
        sender_email="a.volkov@example.ru",
        sender_name="Алексей Волков",
        # Four encoded-words on four lines; the folding between them is not part of the subject.
        subject="Не приходят письма от поставщиков на общий ящик закупок после переноса почты",
        message_id="<4e5f6a7b-volkov@example.ru>",
        text="Проверьте, пожалуйста, правила пересылки.",
    ),
    # --- nothing but a file --------------------------------------------------------------------
    "35-attachment-only.eml": Expect(
        sender_email="scanner-2f@example.com",
        sender_name="Scanner 2nd Floor",
        subject="Scan from MFP-2F",
        message_id="<MFP2F.20261127101502.0001@example.com>",
        text="",
        attachments=(Att("scan_20261127_101502.pdf", "application/pdf", 595, PDF),),
    ),
    # --- body kept as written ------------------------------------------------------------------
    "36-pasted-traceback.eml": Expect(
        sender_email="wei.zhang@example.com",
        sender_name="Wei Zhang",
        subject="Nightly export script fails",
        message_id="<20261127080541.5d1c@example.com>",
        # Pasted output keeps its indentation: it is often the most useful part of a ticket.
        text="Hi,\n\nThe nightly export script fails since Monday. This is what it prints:\n\n"
             "Traceback (most recent call last):\n"
             '  File "C:\\Scripts\\export.py", line 42, in <module>\n'
             "    rows = fetch(conn)\n"
             '  File "C:\\Scripts\\export.py", line 17, in fetch\n'
             "    cur.execute(QUERY)\n"
             "pyodbc.OperationalError: ('08S01', '[08S01] Communication link failure')\n\n"
             "Could someone look at the database server?\n\nWei",
    ),
    # --- attachments where clients really put them ---------------------------------------------
    "37-apple-mail-inline-attachment.eml": Expect(
        sender_email="sara.lind@example.se",
        sender_name="Sara Lind",
        subject="Invoice template prints the logo twice",
        message_id="<4B7E9C21-8D3A-4F60-9E15-2C7A8B9D0E1F@example.se>",
        text="Hi,\n\nSince the update the invoice template prints our logo twice. Example:\n\n"
             "[invoice-template-v3.pdf]\n\nSara",
        # Apple Mail nests the file in a multipart/mixed inside the multipart/alternative.
        attachments=(Att("invoice-template-v3.pdf", "application/pdf", 600, PDF),),
    ),
    "38-smime-signed-attachment.eml": Expect(
        sender_email="anders.holm@example.se",
        sender_name="Anders Holm",
        subject="Firewall change FW-2211 for tonight",
        message_id="<AS8PR05MB7F3A1C2B3D4E5F60@AS8PR05MB7F3A.eurprd05.prod.outlook.example>",
        text="Please apply the attached firewall change in tonight's window.\n\nAnders Holm\nNetwork Security",
        # The file sits inside the signed part; the signature (smime.p7s) may be listed or not.
        attachments=(Att("FW-2211.pdf", "application/pdf", 612, PDF),),
        other_attachments_ok=True,
    ),
    "39-forwarded-as-attachment.eml": Expect(
        sender_email="nina.berg@example.com",
        sender_name="Nina Berg",
        subject="Fwd: Your mailbox is full",
        message_id="<c4d5e6f7-a8b9-40c1-92d3-e4f5a6b7c8d9@example.com>",
        text="This arrived this morning and looks like phishing. I did not click the link.\n\nNina",
        # The forwarded message is the evidence: it must arrive whole, not as an empty file.
        attachments=(Att("Your mailbox is full.eml", "message/rfc822", None, b"Received: from mailbox-quota.example"),),
    ),
    "40-single-part-attachment.eml": Expect(
        sender_email="backup-reports@example.com",
        sender_name="Backup Reports",
        subject="Weekly backup report",
        message_id="<173268720312.5521.9981234567890123456@backup01.example.com>",
        text="",
        # Scripts often send a file as the whole message, with no multipart around it.
        attachments=(Att("backup-report-2026-11-27.pdf", "application/pdf", 605, PDF),),
    ),
    # --- not usable ----------------------------------------------------------------------------
    "41-malformed-no-from.eml": MALFORMED,
    "42-malformed-from-garbage.eml": MALFORMED,  # "From: nobody" has no address
}

PARSED = sorted(name for name, expect in CASES.items() if expect is not MALFORMED)
REFUSED = sorted(name for name, expect in CASES.items() if expect is MALFORMED)


def load(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def lf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("name", PARSED)
def test_message_parses_as_expected(name):
    expect = CASES[name]
    p = parse(load(name))

    assert p.sender_email == expect.sender_email
    if expect.sender_name is not None:
        assert p.sender_name == expect.sender_name
    assert p.subject == expect.subject
    assert p.message_id == expect.message_id
    assert list(p.in_reply_to) == list(expect.in_reply_to)
    assert list(p.references) == list(expect.references)

    if expect.automatic:
        assert isinstance(p.automatic, str) and p.automatic.strip(), "an automatic message needs a reason"
        assert "\n" not in p.automatic and len(p.automatic) <= 120, "the reason should be short"
    else:
        assert p.automatic == ""

    if expect.attachments is not None:
        names = [att.filename for att in p.attachments]
        if not expect.other_attachments_ok:
            assert names == [want.filename for want in expect.attachments]
        found = {att.filename: att for att in p.attachments}
        for want in expect.attachments:
            assert want.filename in found, f"{want.filename} missing; got {names}"
            att = found[want.filename]
            assert att.content_type == want.content_type, want.filename
            if want.size is not None:
                assert len(att.content) == want.size, want.filename
            assert att.content.startswith(want.magic), want.filename

    if expect.text is not None:
        assert lf(p.text) == expect.text
    for wanted in expect.text_has:
        assert flat(wanted) in flat(p.text)
    for unwanted in expect.text_lacks:
        assert unwanted not in p.text


@pytest.mark.parametrize("name", REFUSED)
def test_message_without_a_usable_sender_is_refused(name):
    with pytest.raises(Malformed):
        parse(load(name))


@pytest.mark.parametrize("raw", [b"", b"\x00\xff\xfe garbage \x81\x82\r\n\r\n\xff"], ids=["empty", "binary"])
def test_bytes_that_are_not_mail_are_refused(raw):
    with pytest.raises(Malformed):
        parse(raw)


@pytest.mark.parametrize("name", PARSED)
def test_attachment_filenames_cannot_leave_the_folder(name):
    for att in parse(load(name)).attachments:
        assert "/" not in att.filename and "\\" not in att.filename and ".." not in att.filename, att.filename


def test_two_megabyte_message_keeps_its_text_whole():
    lines = [f"{n:06d} Überwachung: disk io wait {n % 97} ms on fileserver{n % 7:02d}, queue depth {n % 13}"
             for n in range(30_000)]
    body = "\n".join(lines)
    msg = EmailMessage()
    msg["From"] = "Monitoring Export <Export@Example.com>"
    msg["To"] = "support@tierdesk.example"
    msg["Subject"] = "Full I/O trace for the fileserver outage"
    msg["Message-ID"] = "<io-trace-20261127@example.com>"
    msg.set_content(body)
    raw = msg.as_bytes()
    assert len(raw) > 2_000_000  # about 2.1 MB

    p = parse(raw)

    assert p.sender_email == "export@example.com"
    assert p.subject == "Full I/O trace for the fileserver outage"
    assert lf(p.text).split("\n") == lines


def test_every_corpus_file_has_expectations():
    on_disk = {path.name for path in CORPUS.glob("*.eml")}
    assert len(on_disk) >= 25
    assert on_disk == set(CASES), {"no row": sorted(on_disk - set(CASES)), "no file": sorted(set(CASES) - on_disk)}
