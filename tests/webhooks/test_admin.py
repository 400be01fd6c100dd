"""The admin shows webhooks and the delivery log read-only, and never the secret."""
import pytest
from django.urls import reverse

from tests.webhooks.conftest import make_webhook
from tickets.models import Event
from webhooks.models import Attempt, Delivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged(ticket, mona):
    webhook = make_webhook("https://hooks.example.com/in", user=mona)
    item = Delivery.objects.create(webhook=webhook, event=Event.objects.get(ticket=ticket))
    Attempt.objects.create(delivery=item, status_code=500, duration_ms=42, error="HTTP 500")
    return webhook, item


def test_pages_render_without_the_secret(admin_client, logged):
    webhook, item = logged
    pages = [
        reverse("admin:webhooks_webhook_changelist"),
        reverse("admin:webhooks_webhook_change", args=[webhook.pk]),
        reverse("admin:webhooks_delivery_changelist") + "?status__exact=pending",
        reverse("admin:webhooks_delivery_change", args=[item.pk]),
    ]
    for page in pages:
        response = admin_client.get(page)
        assert response.status_code == 200, page
        assert webhook.secret not in response.content.decode()
    detail = admin_client.get(reverse("admin:webhooks_delivery_change", args=[item.pk])).content.decode()
    assert "HTTP 500" in detail and "42" in detail


def test_nothing_can_be_added_changed_or_deleted(admin_client, logged):
    webhook, item = logged
    assert admin_client.get(reverse("admin:webhooks_webhook_add")).status_code == 403
    assert admin_client.get(reverse("admin:webhooks_delivery_add")).status_code == 403
    refused_posts = [
        (reverse("admin:webhooks_webhook_change", args=[webhook.pk]), {"url": "http://x/"}),
        (reverse("admin:webhooks_webhook_delete", args=[webhook.pk]), {"post": "yes"}),
        (reverse("admin:webhooks_delivery_delete", args=[item.pk]), {"post": "yes"}),
    ]
    for page, data in refused_posts:
        assert admin_client.post(page, data).status_code == 403, page
    webhook.refresh_from_db()
    assert webhook.url == "https://hooks.example.com/in"
