"""The desk's requester page: reached from a ticket, for staff; export and anonymisation offered to, and allowed
for, managers only; the anonymisation asks for a reason and a confirmation. Pages are CSP-safe."""
import io
import json
import re
import zipfile

import pytest
from django.test import Client
from django.urls import reverse

from privacy import services
from privacy.models import AccessRecord, Action, Channel
from tests.privacy.conftest import EMAIL, NAME
from tickets.models import Requester, Ticket

pytestmark = pytest.mark.django_db


def page_of(requester) -> str:
    return reverse("privacy:requester", args=[requester.pk])


def assert_csp_safe(html: str) -> None:
    """No inline script or style: the CSP allows neither."""
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert " style=" not in html and "<style" not in html and " on" + "click=" not in html


def test_the_ticket_page_links_to_the_requester_page(alice_client, person):
    ticket_page = alice_client.get(reverse("desk:ticket", args=[person.portal.pk])).content.decode()
    assert f'href="{page_of(person.requester)}"' in ticket_page


def test_an_agent_sees_the_requester_but_no_export_or_anonymise(alice_client, person):
    response = alice_client.get(page_of(person.requester))
    page = response.content.decode()
    assert response.status_code == 200
    assert NAME in page and EMAIL in page and person.vpn.reference in page and person.olga.reference not in page
    assert 'id="export-form"' not in page and 'id="anonymise-link"' not in page
    assert_csp_safe(page)
    assert alice_client.post(reverse("privacy:export", args=[person.requester.pk])).status_code == 403
    assert alice_client.get(reverse("privacy:anonymise", args=[person.requester.pk])).status_code == 403
    forged = alice_client.post(reverse("privacy:anonymise", args=[person.requester.pk]),
                               {"reason": "because", "confirm": "yes"})
    assert forged.status_code == 403
    assert Requester.objects.get(pk=person.requester.pk).email == EMAIL
    assert not AccessRecord.objects.filter(action__in=[Action.EXPORTED, Action.ANONYMISED]).exists()


def test_people_without_a_staff_role_get_nothing(person, django_user_model):
    visitor = Client()
    assert visitor.get(page_of(person.requester)).status_code == 302  # to the sign-in page
    visitor.force_login(django_user_model.objects.create_user("visitor"))
    assert visitor.get(page_of(person.requester)).status_code == 403
    assert visitor.post(reverse("privacy:export", args=[person.requester.pk])).status_code == 403


def test_a_manager_exports_a_zip_from_the_page(mona_client, mona, person):
    page = mona_client.get(page_of(person.requester)).content.decode()
    assert 'id="export-form"' in page and 'id="anonymise-link"' in page
    assert_csp_safe(page)
    assert mona_client.get(reverse("privacy:export", args=[person.requester.pk])).status_code == 405
    response = mona_client.post(reverse("privacy:export", args=[person.requester.pk]), REMOTE_ADDR="10.9.8.7")
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="requester-{person.requester.pk}.zip"'
    assert response["X-Content-Type-Options"] == "nosniff"
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as zipped:
        document = json.loads(zipped.read("requester.json"))
    assert document["requester"]["email"] == EMAIL and len(document["tickets"]) == 3
    record = AccessRecord.objects.get(action=Action.EXPORTED)
    assert (record.user, record.channel, record.address, record.requester_id) == (
        mona, Channel.DESK, "10.9.8.7", person.requester.pk)


def test_anonymise_asks_for_a_reason_and_a_confirmation(mona_client, person):
    url = reverse("privacy:anonymise", args=[person.requester.pk])
    form = mona_client.get(url)
    page = form.content.decode()
    assert form.status_code == 200 and 'name="reason"' in page and 'name="confirm"' in page and "3 tickets" in page
    assert_csp_safe(page)
    unconfirmed = mona_client.post(url, {"reason": "Erasure request REQ-114"})
    assert unconfirmed.status_code == 400 and 'role="alert"' in unconfirmed.content.decode()
    assert "Erasure request REQ-114" in unconfirmed.content.decode()  # what was typed is kept
    no_reason = mona_client.post(url, {"reason": "  ", "confirm": "yes"})
    assert no_reason.status_code == 400 and "reason" in no_reason.content.decode().lower()
    assert Requester.objects.get(pk=person.requester.pk).email == EMAIL


def test_a_manager_anonymises_from_the_desk(mona_client, mona, person):
    url = reverse("privacy:anonymise", args=[person.requester.pk])
    done = mona_client.post(url, {"reason": "Erasure request REQ-114", "confirm": "yes"}, REMOTE_ADDR="10.9.8.7")
    assert done.status_code == 302 and done["Location"] == page_of(person.requester)
    requester = Requester.objects.get(pk=person.requester.pk)
    assert requester.email == services.placeholder_email(requester.pk)
    assert set(Ticket.objects.filter(requester=requester).values_list("description", flat=True)) == {
        services.ANONYMISED_TEXT}
    record = AccessRecord.objects.get(action=Action.ANONYMISED)
    assert (record.user, record.channel, record.address, record.reason) == (
        mona, Channel.DESK, "10.9.8.7", "Erasure request REQ-114")
    page = mona_client.get(done["Location"]).content.decode()
    assert 'id="anonymised-notice"' in page and "mona" in page and 'id="anonymise-link"' not in page
    assert "The requester is anonymised" in page and NAME not in page and EMAIL not in page
    # Asked again: nothing to do, back to the page.
    again = mona_client.get(url)
    assert again.status_code == 302 and again["Location"] == page_of(person.requester)
    assert mona_client.post(url, {"reason": "again", "confirm": "yes"}).status_code == 302
    assert AccessRecord.objects.filter(action=Action.ANONYMISED).count() == 1


def test_unknown_requesters_are_404(mona_client):
    for name in ("privacy:requester", "privacy:anonymise"):
        assert mona_client.get(reverse(name, args=[999999])).status_code == 404
        assert mona_client.get(reverse(name, args=[2**64])).status_code == 404
    assert mona_client.post(reverse("privacy:export", args=[999999])).status_code == 404


def test_a_long_history_shows_the_latest_tickets_and_says_so(alice_client, person, monkeypatch):
    monkeypatch.setattr("privacy.views.TICKETS_SHOWN", 2)
    page = alice_client.get(page_of(person.requester)).content.decode()
    assert page.count('<tr data-ticket-id="') == 2 and "Only the latest 2 tickets are shown." in page
    assert person.mailed.reference in page and person.portal.reference not in page  # newest first
