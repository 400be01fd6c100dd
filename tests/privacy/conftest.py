"""A customer with a full file, built through the real paths: tickets from the portal and by e-mail, replies,
internal notes, a file, a rating with a comment, an edit, an escalation, reopens, notifications, a sign-in link,
an admin history entry and a knowledge article published from one of the tickets. Beside them, another customer
whose data must never appear in the first one's export nor change when the first one is anonymised.

Quentin Zephyrwood is the customer; every text that comes from or names him carries one of the NEEDLES, so a
scan of the database can tell whether anything of his is left.
"""
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from inbound.services import receive
from knowledge import services as knowledge
from tests.api.conftest import client_for
from tests.factories import CategoryFactory, make_ticket
from tickets import outbox, services
from tickets.models import Requester, Ticket
from tickets.policy import Actor
from tickets.portal import signin

EMAIL = "q.zephyrwood@example.org"
NAME = "Quentin Zephyrwood"
# Each comes from one place of Quentin's file (see `person`); none may survive his anonymisation.
NEEDLES = ("Zephyrwood", "Quentin", "Xylocarp", "QZ-4711", "Gracious", "Quillon", "Marmalade", "Brindlecrest")
# Olga's words: in her own file only.
OLGA_EMAIL = "olga.otherperson@example.net"
OLGA_NEEDLES = ("Otherperson", "Vermilion")
PNG = b"\x89PNG\r\n\x1a\n" + b"SECRETPIXELS" * 8


@dataclass
class Person:
    requester: Requester
    portal: Ticket  # from the portal: resolved, closed with a rating; an article was published from it
    vpn: Ticket  # edited, escalated, resolved at L2, reopened by the customer
    mailed: Ticket  # opened by e-mail, answered by e-mail (a reopen)
    olga: Ticket
    attachment_names: list = field(default_factory=list)


def mail(subject: str, body: str, *, sender=EMAIL, name=NAME, attachment=None) -> bytes:
    message = EmailMessage()
    message["From"] = f"{name} <{sender}>"
    message["To"] = "support@example.com"
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(idstring="zephyrwood", domain="mail.example.org")
    message.set_content(body)
    if attachment:
        filename, content = attachment
        message.add_attachment(content, maintype="application", subtype="octet-stream", filename=filename)
    return message.as_bytes()


@pytest.fixture
def person(db, alice, bob, mona, as_alice, as_bob, as_mona) -> Person:
    network = CategoryFactory(name="Network", slug="network")
    printing = CategoryFactory(name="Printing", slug="printing")

    # 1. From the portal: a file, public reply and internal note, quick fix, confirmed with a rating and comment.
    portal = make_ticket(subject="Zephyrwood dock is dead", description="The Xylocarp dock flickers since Tuesday.",
                         requester_email=EMAIL, requester_name=NAME, category=network)
    quentin = Actor.customer(portal.requester)
    services.attachment_add(actor=quentin, ticket_id=portal.pk,
                            upload=SimpleUploadedFile("zephyrwood-screen.png", PNG, "image/png"))
    services.ticket_take(actor=as_alice, ticket_id=portal.pk)
    services.comment_add(actor=as_alice, ticket_id=portal.pk, body="Hello Quentin, which dock model is it?")
    services.comment_add(actor=quentin, ticket_id=portal.pk, body="The one on desk QZ-4711.")
    services.comment_add(actor=as_alice, ticket_id=portal.pk, body="Quentin sits at QZ-4711", internal=True)
    services.ticket_resolve(actor=as_alice, ticket_id=portal.pk, summary="Replaced Quentin's dock power supply",
                            affected_item="Xylocarp dock at QZ-4711", steps_before="Quentin moved desks",
                            findings="Power supply dead")
    services.ticket_close(actor=quentin, ticket_id=portal.pk, csat=4, comment="Gracious help, thanks")

    # 2. Edited, escalated, resolved at L2, and reopened by the customer with a reason.
    vpn = make_ticket(subject="VPN drops for Zephyrwood", description="Brindlecrest office VPN drops hourly.",
                      requester_email=EMAIL, requester_name=NAME)
    services.ticket_take(actor=as_alice, ticket_id=vpn.pk)
    services.ticket_update(actor=as_alice, ticket_id=vpn.pk, subject="VPN drops in Brindlecrest (Zephyrwood)",
                           category=printing)
    services.ticket_escalate(actor=as_alice, ticket_id=vpn.pk, reason="Quentin needs a Brindlecrest tunnel")
    services.ticket_take(actor=as_bob, ticket_id=vpn.pk)
    services.ticket_resolve(actor=as_bob, ticket_id=vpn.pk, summary="New tunnel", affected_item="VPN",
                            steps_before="none", findings="MTU")
    services.ticket_reopen(actor=quentin, ticket_id=vpn.pk, reason="Still broken in Quillon room")

    # 3. By e-mail (with a file), resolved, then "still broken" by e-mail: a comment and a reopen.
    record, _new = receive(mail("Printer Marmalade jams", "Hi, the Marmalade printer jams. Quentin",
                                attachment=("zephyrwood.log", b"Marmalade log line")), source="command")
    mailed = record.ticket
    services.ticket_take(actor=as_alice, ticket_id=mailed.pk)
    services.ticket_resolve(actor=as_alice, ticket_id=mailed.pk, summary="Cleaned", affected_item="printer",
                            steps_before="-", findings="dust")
    receive(mail(f"Re: [{mailed.reference}] Printer Marmalade jams", "It is still broken, Marmalade again."),
            source="command")

    # Another customer, whose ticket an agent links to the article published from Quentin's first ticket.
    olga = make_ticket(subject="Vermilion printer offline", description="Olga Otherperson's Vermilion printer.",
                       requester_email=OLGA_EMAIL, requester_name="Olga Otherperson")
    services.comment_add(actor=Actor.customer(olga.requester), ticket_id=olga.pk, body="Otherperson again")
    article, _created = knowledge.article_from_ticket(user=mona, ticket_id=portal.pk)
    knowledge.suggestion_use(actor=as_alice, ticket_id=olga.pk, how="linked", article_id=article.pk)

    # The mails the events call for, a sign-in link to his portal page, and the admin's history of his row.
    outbox.drain()
    assert signin.send_link(EMAIL, "en")
    requester = Requester.objects.get(email=EMAIL)
    LogEntry.objects.create(user=mona, content_type=ContentType.objects.get_for_model(Requester),
                            object_id=str(requester.pk), object_repr=str(requester)[:200], action_flag=CHANGE,
                            change_message='[{"changed": {"fields": ["Name"]}}]')
    names = [a.file.name for t in (portal, mailed) for a in t.attachments.all()]
    assert len(names) == 2
    return Person(requester=requester, portal=portal, vpn=vpn, mailed=mailed, olga=olga, attachment_names=names)


@pytest.fixture
def mona_client(mona):
    client = Client()
    client.force_login(mona)
    return client


@pytest.fixture
def alice_client(alice):
    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture
def api_mona(mona):
    return client_for(mona)


@pytest.fixture
def api_alice(alice):
    return client_for(alice)
