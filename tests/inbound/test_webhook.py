"""Inbound mail posted by a hosted mail service (django-anymail's inbound webhooks) takes the same path as IMAP.

The requests are shaped as Postmark and Mailgun send them; anymail checks the basic-auth secret and Mailgun's
signature before any message is read.
"""
import base64
import hashlib
import hmac
import importlib
import json
from pathlib import Path

import pytest
from django.test import override_settings
from django.urls import clear_url_caches

from inbound.models import InboundMessage
from tickets.models import Attachment, Ticket

CORPUS = Path(__file__).parent / "corpus"
POSTMARK = "/inbound/postmark/inbound/"
MAILGUN = "/inbound/mailgun/inbound_mime/"


def basic_auth(secret="mailservice:test-webhook-secret"):
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(secret.encode()).decode()}


def postmark(client, name, **auth):
    payload = {"RawEmail": (CORPUS / name).read_bytes().decode("ascii"), "Headers": []}
    return client.post(POSTMARK, json.dumps(payload), content_type="application/json", **(auth or basic_auth()))


def test_a_postmark_inbound_post_opens_a_ticket_with_its_files(client, db):
    response = postmark(client, "09-pdf-and-png.eml")
    assert response.status_code == 200
    record = InboundMessage.objects.get()
    assert (record.source, record.mailbox, record.outcome) == ("webhook", "webhook:Postmark", "opened")
    ticket = Ticket.objects.select_related("requester").get()
    assert (ticket.subject, ticket.channel, ticket.requester.email) == (
        "Toner order and screenshot of the error", "email", "tom.becker@example.com")
    assert sorted(Attachment.objects.values_list("original_name", flat=True)) == [
        "driver-error.png", "toner-order-2026-11.pdf"]


def test_a_second_post_of_the_same_message_changes_nothing(client, db):
    assert postmark(client, "05-windows-1251.eml").status_code == 200
    assert postmark(client, "05-windows-1251.eml").status_code == 200
    assert InboundMessage.objects.count() == 1 and Ticket.objects.count() == 1
    assert Ticket.objects.get().subject == "Ошибка входа в 1С"


def test_a_post_without_the_secret_is_refused_and_reads_nothing(client, db):
    for auth in ({}, basic_auth("mailservice:wrong")):
        payload = {"RawEmail": (CORPUS / "01-plain-ascii.eml").read_text(), "Headers": []}
        response = client.post(POSTMARK, json.dumps(payload), content_type="application/json", **auth)
        assert response.status_code == 400
    assert not InboundMessage.objects.exists() and not Ticket.objects.exists()


def mailgun_fields(name, key="test-mailgun-signing-key", timestamp="1764000000", token="a" * 50):
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {"body-mime": (CORPUS / name).read_text(), "timestamp": timestamp, "token": token,
            "signature": signature, "recipient": "support@localhost", "sender": "x@example.com"}


def test_a_signed_mailgun_post_is_processed_and_an_unsigned_one_is_not(client, db):
    forged = mailgun_fields("01-plain-ascii.eml", key="not-the-key")
    assert client.post(MAILGUN, forged, **basic_auth()).status_code == 400
    assert not InboundMessage.objects.exists()

    response = client.post(MAILGUN, mailgun_fields("20-out-of-office.eml"), **basic_auth())
    assert response.status_code == 200
    record = InboundMessage.objects.get()
    assert (record.mailbox, record.outcome) == ("webhook:Mailgun", "ignored")
    assert not Ticket.objects.exists()


@pytest.fixture
def urls_without_webhook_secret():
    with override_settings(INBOUND_WEBHOOK_SECRET=""):
        import helpdesk.urls

        clear_url_caches()
        importlib.reload(helpdesk.urls)
        yield
    clear_url_caches()
    importlib.reload(helpdesk.urls)


def test_without_a_webhook_secret_the_endpoints_do_not_exist(client, db, urls_without_webhook_secret):
    assert postmark(client, "01-plain-ascii.eml").status_code == 404
    assert not InboundMessage.objects.exists()
