"""The admin shows every inbound message and the quarantine to managers, lets them download the raw message (as a
file, never rendered) and retry quarantined mail; agents have no access."""
from pathlib import Path

import pytest
from django.urls import reverse

from inbound.models import InboundMessage
from inbound.services import receive
from tickets.models import Ticket

pytestmark = pytest.mark.django_db
CORPUS = Path(__file__).parent / "corpus"
HOSTILE = (b"From: Eve <eve@example.com>\r\nSubject: <script>alert(1)</script>\r\nMessage-ID: <q1@example.com>\r\n"
           b"Content-Type: text/html\r\n\r\n<img src=x onerror=alert(2)>")


@pytest.fixture
def mona_client(client, mona):
    client.force_login(mona)
    return client


@pytest.fixture
def quarantined():
    receive(b"From: a@example.com\r\nSubject: opens\r\nMessage-ID: <o1@example.com>\r\n\r\nhello", source="command")
    record, _ = receive((CORPUS / "41-malformed-no-from.eml").read_bytes(), source="command")
    return record


def test_the_quarantine_lists_only_quarantined_mail_with_the_reason(mona_client, quarantined):
    url = reverse("admin:inbound_inboundmessage_changelist")
    page = mona_client.get(url, {"quarantine": "yes"}).content.decode()
    assert "no From header" in page and "Test from the new CRM integration" in page
    assert "opens" not in page
    everything = mona_client.get(url).content.decode()
    opened = InboundMessage.objects.get(message_id="<o1@example.com>")
    assert "opens" in everything and opened.ticket.reference in everything


def test_hostile_content_is_shown_as_text(mona_client):
    record, _ = receive(HOSTILE, source="command")
    for url in (reverse("admin:inbound_inboundmessage_changelist"),
                reverse("admin:inbound_inboundmessage_change", args=[record.pk])):
        page = mona_client.get(url).content.decode()
        assert "<script>alert(1)" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_raw_message_downloads_as_a_file(mona_client, quarantined):
    response = mona_client.get(reverse("admin:inbound_inboundmessage_raw", args=[quarantined.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == (CORPUS / "41-malformed-no-from.eml").read_bytes()
    assert response["Content-Disposition"] == f'attachment; filename="message-{quarantined.pk}.eml"'
    assert response["Content-Type"] == "application/octet-stream"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_retry_routes_quarantined_mail_once_the_reason_is_gone(mona_client, settings):
    settings.INBOUND_MAX_NEW_TICKETS_PER_SENDER_HOUR = 1
    raw = b"From: a@example.com\r\nSubject: second\r\nMessage-ID: <o2@example.com>\r\n\r\nagain"
    receive(b"From: a@example.com\r\nSubject: first\r\nMessage-ID: <o1@example.com>\r\n\r\nhello", source="command")
    held, _ = receive(raw, source="command")
    assert held.outcome == "quarantined"

    settings.INBOUND_MAX_NEW_TICKETS_PER_SENDER_HOUR = 10
    response = mona_client.post(reverse("admin:inbound_inboundmessage_changelist"),
                                {"action": "retry_selected", "_selected_action": [held.pk]}, follow=True)
    assert "1 of 1 message left the quarantine." in response.content.decode()
    held.refresh_from_db()
    assert held.outcome == "opened" and held.ticket.subject == "second"
    assert Ticket.objects.count() == 2


def test_messages_cannot_be_added_changed_or_deleted(mona_client, quarantined):
    assert mona_client.get(reverse("admin:inbound_inboundmessage_add")).status_code == 403
    assert mona_client.post(reverse("admin:inbound_inboundmessage_delete", args=[quarantined.pk])).status_code == 403
    assert InboundMessage.objects.filter(pk=quarantined.pk).exists()


def test_agents_have_no_access(client, alice, quarantined):
    client.force_login(alice)
    for url in (reverse("admin:inbound_inboundmessage_changelist"),
                reverse("admin:inbound_inboundmessage_raw", args=[quarantined.pk])):
        assert client.get(url).status_code in (302, 403)
