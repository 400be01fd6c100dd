"""The customer portal: report, track, reply, confirm or reopen, "my tickets" links, abuse protection."""
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from tests.factories import CategoryFactory, make_ticket
from tickets import services
from tickets.models import Event, PortalLink, Ticket
from tickets.portal import signin, tokens

pytestmark = pytest.mark.django_db

REPORT = {"name": "Dana", "email": "dana@example.com", "subject": "Printer jams",
          "description": "Every page jams in tray 2.", "website": ""}


def report(client, **changes):
    return client.post(reverse("portal:report"), {**REPORT, **changes})


def track_url(ticket):
    return tokens.tracking_path(ticket)


# --- reporting ---------------------------------------------------------------------


def test_report_opens_a_web_ticket_and_shows_the_private_link(client):
    CategoryFactory(name="Hardware", slug="hardware")
    response = report(client, category="hardware", files=[SimpleUploadedFile("jam.png", b"\x89PNG\r\n\x1a\nxx")])
    assert response.status_code == 201
    ticket = Ticket.objects.get()
    page = response.content.decode()
    assert ticket.reference in page and track_url(ticket) in page
    assert (ticket.channel, ticket.category.slug, ticket.requester.email) == ("web", "hardware", "dana@example.com")
    assert ticket.requester.language == "en"
    assert ticket.attachments.get().original_name == "jam.png"
    assert len(tokens.tracking_token(ticket)) >= 22  # ≥ 128 bits, base64


def test_report_in_russian_remembers_the_customers_language(client):
    client.post(reverse("desk:language"), {"language": "ru"})
    assert report(client).status_code == 201
    assert Ticket.objects.get().requester.language == "ru"


@pytest.mark.parametrize(
    "changes,field",
    [
        ({"email": "not-an-email"}, "email"),
        ({"subject": ""}, "subject"),
        ({"description": ""}, "description"),
        ({"subject": "x" * 201}, "subject"),
        ({"description": "x" * 10001}, "description"),
    ],
)
def test_invalid_reports_are_refused_with_a_message_and_nothing_is_created(client, changes, field):
    response = report(client, **changes)
    assert response.status_code == 400
    assert 'class="field-error"' in response.content.decode()
    assert not Ticket.objects.exists()


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("virus.exe", b"MZ", "are not accepted"),
        ("page.html", b"<script>", "are not accepted"),
        ("photo.png", b"<?php", "does not match"),
    ],
)
def test_forbidden_uploads_are_refused(client, name, content, message):
    response = report(client, files=[SimpleUploadedFile(name, content)])
    assert response.status_code == 400 and message in response.content.decode()
    assert not Ticket.objects.exists()


def test_oversized_upload_is_refused(client, settings):
    settings.ATTACHMENT_MAX_BYTES = 100
    response = report(client, files=[SimpleUploadedFile("log.txt", b"x" * 101)])
    assert response.status_code == 400 and "at most 100" in response.content.decode()
    assert not Ticket.objects.exists()


def test_the_honeypot_pretends_success_and_opens_nothing(client):
    response = report(client, website="http://spam.example")
    assert response.status_code == 200 and "Thank you" in response.content.decode()
    assert not Ticket.objects.exists()


def test_reports_are_rate_limited_per_address_and_per_email(client, settings):
    settings.PORTAL_REPORT_RATE = "2/m"
    assert [report(client, subject=f"n{n}").status_code for n in range(2)] == [201, 201]
    limited = report(client, subject="third")
    assert limited.status_code == 429 and "wait a few minutes" in limited.content.decode()
    # Another address, the same e-mail: still limited.
    other_ip = client.post(reverse("portal:report"), {**REPORT, "subject": "fourth"}, REMOTE_ADDR="10.9.9.9")
    assert other_ip.status_code == 429
    assert Ticket.objects.count() == 2


def test_a_repeat_contact_is_linked(client):
    CategoryFactory(name="Network", slug="network")
    report(client, category="network")
    report(client, category="network", subject="VPN again")
    first, second = Ticket.objects.order_by("id")
    assert second.repeat_of == first


# --- the tracking page ------------------------------------------------------------------


def test_tracking_page_shows_status_and_the_public_thread_only(client, ticket, as_alice):
    services.comment_add(actor=as_alice, ticket_id=ticket.pk, body="Secret internal finding", internal=True)
    services.comment_add(actor=as_alice, ticket_id=ticket.pk, body="Please restart the printer")
    response = client.get(track_url(ticket))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Please restart the printer" in page and "Secret internal finding" not in page
    assert "Received — waiting for a support agent." in page
    assert response["Referrer-Policy"] == "same-origin"


def test_wrong_guessed_or_truncated_tokens_are_404(client, ticket):
    other = make_ticket(requester_email="erin@example.com")
    token = tokens.tracking_token(ticket)
    assert client.get(track_url(other)).status_code == 200
    for bad in (token[:-1], token[:20], "A" * len(token), token + "x", str(ticket.pk)):
        assert client.get(reverse("portal:track", args=[bad])).status_code == 404
    assert client.post(reverse("portal:track-action", args=[token[:-1], "reply"]), {"body": "hi"}).status_code == 404


def test_a_reply_while_waiting_resumes_the_ticket(client, ticket, as_alice):
    services.ticket_take(actor=as_alice, ticket_id=ticket.pk)
    services.ticket_wait(actor=as_alice, ticket_id=ticket.pk, reason="Which tray?")
    response = client.post(reverse("portal:track-action", args=[tokens.tracking_token(ticket), "reply"]),
                           {"body": "Tray 2", "files": [SimpleUploadedFile("tray.jpg", b"\xff\xd8\xffjpeg")]})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == "diagnosing"
    assert ticket.comments.get().body == "Tray 2" and ticket.attachments.count() == 1
    assert "Tray 2" in client.get(response["Location"]).content.decode()


def test_confirm_with_a_rating_closes(client, diagnosed, as_alice):
    services.ticket_resolve(actor=as_alice, ticket_id=diagnosed.pk, summary="New fuser")
    token = tokens.tracking_token(diagnosed)
    response = client.post(reverse("portal:track-action", args=[token, "confirm"]), {"rating": "4", "comment": "Good"})
    assert response.status_code == 302
    diagnosed.refresh_from_db()
    assert (diagnosed.status, diagnosed.csat_rating, diagnosed.csat_comment) == ("closed", 4, "Good")
    page = client.get(track_url(diagnosed)).content.decode()
    assert "Closed. Thank you!" in page and 'id="reply-form"' not in page


def test_still_not_fixed_reopens_as_a_repeat_contact(client, diagnosed, as_alice):
    services.ticket_resolve(actor=as_alice, ticket_id=diagnosed.pk, summary="New fuser")
    token = tokens.tracking_token(diagnosed)
    assert client.post(reverse("portal:track-action", args=[token, "not-fixed"]), {"reason": ""}).status_code == 400
    client.post(reverse("portal:track-action", args=[token, "not-fixed"]), {"reason": "Jams again"})
    diagnosed.refresh_from_db()
    assert (diagnosed.status, diagnosed.reopen_count) == ("diagnosing", 1)
    assert Event.objects.filter(ticket=diagnosed, kind="reopened").get().actor_role == "customer"


def test_confirming_a_ticket_that_is_not_resolved_is_refused_politely(client, ticket):
    response = client.post(reverse("portal:track-action", args=[tokens.tracking_token(ticket), "confirm"]),
                           {"rating": "5"})
    assert response.status_code == 409 and 'role="alert"' in response.content.decode()


def test_customer_text_is_escaped(client):
    report(client, subject="<script>alert(1)</script>", description="<img src=x onerror=alert(2)>")
    page = client.get(track_url(Ticket.objects.get())).content.decode()
    assert "<script>alert(1)" not in page and "<img src=x" not in page


# --- my tickets ---------------------------------------------------------------------------


def test_the_sign_in_link_answer_is_the_same_for_known_and_unknown_addresses(client, ticket):
    known = client.post(reverse("portal:mine-request"), {"email": "dana@example.com"})
    unknown = client.post(reverse("portal:mine-request"), {"email": "nobody@example.com"})
    strip = lambda r: r.content.decode().replace("dana@example.com", "").replace("nobody@example.com", "")  # noqa
    assert known.status_code == unknown.status_code == 200
    assert strip(known).split('name="csrfmiddlewaretoken"')[0] == strip(unknown).split('name="csrfmiddlewaretoken"')[0]
    assert [m.to for m in mail.outbox] == [["dana@example.com"]]  # only the known address gets a mail


def test_the_sign_in_link_works_once_and_lists_every_ticket(client, ticket):
    second = make_ticket(subject="Second problem")
    client.post(reverse("portal:mine-request"), {"email": "dana@example.com"})
    link = next(line for line in mail.outbox[0].body.splitlines() if "/support/mine/" in line).strip()
    path = link.split("127.0.0.1:8000", 1)[1]
    response = client.get(path)
    assert response.status_code == 302 and response["Location"] == reverse("portal:mine")
    page = client.get(reverse("portal:mine")).content.decode()
    assert ticket.reference in page and second.reference in page and track_url(second) in page
    assert client.__class__().get(path).status_code == 404  # used up


def test_an_expired_link_does_not_work(client, ticket):
    signin.send_link("dana@example.com", "en")
    path = next(line for line in mail.outbox[0].body.splitlines() if "/support/mine/" in line).split("8000", 1)[1]
    with time_machine.travel(timezone.now() + timedelta(minutes=31)):
        assert client.get(path).status_code == 404
    assert PortalLink.objects.get().used_at is None


def test_my_tickets_needs_a_link(client):
    assert client.get(reverse("portal:mine"))["Location"] == reverse("portal:mine-request")


def test_sign_in_links_are_rate_limited(client, settings, ticket):
    settings.PORTAL_SIGNIN_RATE = "1/m"
    client.post(reverse("portal:mine-request"), {"email": "dana@example.com"})
    assert client.post(reverse("portal:mine-request"), {"email": "dana@example.com"}).status_code == 429
