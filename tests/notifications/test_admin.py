"""The admin lists notifications read-only, for managers: status, attempts, last error."""
import pytest
from django.urls import reverse

from notifications.models import Notification
from tickets.models import Event

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged(ticket):
    return Notification.objects.create(
        event=Event.objects.get(ticket=ticket), recipient="dana@example.com", template="customer_created",
        language="en", attempts=3, last_error="ConnectionRefusedError: Connection refused",
    )


@pytest.fixture
def mona_client(client, mona):
    client.force_login(mona)
    return client


def test_a_manager_sees_the_list_and_the_detail(mona_client, logged, ticket):
    listing = mona_client.get(reverse("admin:notifications_notification_changelist"))
    assert listing.status_code == 200
    page = listing.content.decode()
    for text in ("dana@example.com", "customer_created", ticket.reference, "ConnectionRefusedError"):
        assert text in page
    detail = mona_client.get(reverse("admin:notifications_notification_change", args=[logged.pk]))
    assert detail.status_code == 200
    assert "Connection refused" in detail.content.decode()
    assert 'name="_save"' not in detail.content.decode()


def test_search_by_ticket_reference_and_filter_by_status(mona_client, logged, ticket):
    url = reverse("admin:notifications_notification_changelist")
    assert "dana@example.com" in mona_client.get(url, {"q": ticket.reference.lower()}).content.decode()
    assert "dana@example.com" not in mona_client.get(url, {"q": "HD-999999"}).content.decode()
    assert "dana@example.com" in mona_client.get(url, {"status__exact": "pending"}).content.decode()
    assert "dana@example.com" not in mona_client.get(url, {"status__exact": "sent"}).content.decode()


def test_nothing_can_be_added_changed_or_deleted(mona_client, admin_client, logged):
    for client in (mona_client, admin_client):
        assert client.get(reverse("admin:notifications_notification_add")).status_code == 403
        change = reverse("admin:notifications_notification_change", args=[logged.pk])
        assert client.post(change, {"status": "sent", "recipient": "x@example.com"}).status_code == 403
        delete = reverse("admin:notifications_notification_delete", args=[logged.pk])
        assert client.post(delete, {"post": "yes"}).status_code == 403
    logged.refresh_from_db()
    assert (logged.status, logged.recipient) == ("pending", "dana@example.com")


def test_agents_have_no_access(client, alice, logged):
    client.force_login(alice)
    response = client.get(reverse("admin:notifications_notification_changelist"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
