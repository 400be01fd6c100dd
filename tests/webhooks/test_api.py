"""GET|POST|DELETE /api/v1/webhooks/: managers only, explicit input, SSRF-checked URLs, secret shown once."""
import socket

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.webhooks.conftest import make_webhook
from webhooks import delivery
from webhooks.models import Webhook

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.webhooks.urls")]

LIST = "/api/v1/webhooks/"
PUBLIC_URL = "https://hooks.example.com/tierdesk"


def client_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def public_dns(monkeypatch):
    """hooks.example.com resolves to a public address (no network needed); other names resolve for real."""
    real = socket.getaddrinfo

    def fake(host, port, *args, **kwargs):
        if host == "hooks.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(delivery.socket, "getaddrinfo", fake)


@pytest.fixture
def as_manager(mona):
    return client_for(mona)


def test_a_manager_registers_a_webhook_and_sees_the_secret_once(as_manager, mona, public_dns):
    response = as_manager.post(LIST, {"url": PUBLIC_URL, "kinds": ["escalated", "sla_breached"]}, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    webhook = Webhook.objects.get()
    assert body == {
        "id": webhook.pk,
        "url": PUBLIC_URL,
        "kinds": ["escalated", "sla_breached"],
        "is_active": True,
        "created_by": "mona",
        "created_at": body["created_at"],
        "secret": webhook.secret,
    }
    assert len(webhook.secret) >= 43  # 32 random bytes, URL-safe base64
    assert webhook.created_by == mona

    listed = as_manager.get(LIST).json()
    detail = as_manager.get(f"{LIST}{webhook.pk}/").json()
    assert [item["id"] for item in listed] == [webhook.pk]
    for shown in (listed[0], detail):
        assert "secret" not in shown
        assert webhook.secret not in str(shown)


def test_server_fields_cannot_be_set_by_the_caller(as_manager, alice, public_dns):
    response = as_manager.post(
        LIST, {"url": PUBLIC_URL, "secret": "chosen", "created_by": alice.pk, "id": 999}, format="json"
    )
    assert response.status_code == 201
    webhook = Webhook.objects.get()
    assert webhook.secret != "chosen"
    assert webhook.created_by.username == "mona"
    assert webhook.kinds == []  # omitted: every kind


def test_each_webhook_gets_its_own_secret(as_manager, public_dns):
    first = as_manager.post(LIST, {"url": PUBLIC_URL}, format="json").json()["secret"]
    second = as_manager.post(LIST, {"url": PUBLIC_URL}, format="json").json()["secret"]
    assert first != second


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1/", "http://169.254.169.254/", "http://10.0.0.1/", "ftp://example.com/", "http://localhost/"],
)
def test_private_or_non_http_targets_are_refused(as_manager, url, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    response = as_manager.post(LIST, {"url": url}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["detail"].startswith("url: ")
    assert "refused" in body["detail"] or "Only http and https" in body["detail"]
    assert set(body) == {"detail", "code", "errors"}
    assert not Webhook.objects.exists()


def test_private_targets_are_accepted_when_allowed(as_manager, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    assert as_manager.post(LIST, {"url": "http://127.0.0.1:9000/hook"}, format="json").status_code == 201


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"url": PUBLIC_URL, "kinds": ["created", "exploded"]}, "kinds"),
        ({"url": PUBLIC_URL, "kinds": "created"}, "kinds"),
        ({"url": "not a url"}, "url"),
        ({}, "url"),
    ],
)
def test_invalid_input_is_400(as_manager, payload, field, public_dns):
    response = as_manager.post(LIST, payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_repeated_kinds_are_stored_once(as_manager, public_dns):
    response = as_manager.post(LIST, {"url": PUBLIC_URL, "kinds": ["closed", "created", "closed"]}, format="json")
    assert response.json()["kinds"] == ["closed", "created"]


def test_a_manager_deletes_a_webhook(as_manager, mona):
    webhook = make_webhook(PUBLIC_URL, user=mona)
    assert as_manager.delete(f"{LIST}{webhook.pk}/").status_code == 204
    assert not Webhook.objects.exists()
    missing = as_manager.get(f"{LIST}{webhook.pk}/")
    assert missing.status_code == 404
    assert set(missing.json()) == {"detail", "code"}
    assert as_manager.delete(f"{LIST}{webhook.pk}/").status_code == 404


def test_an_agent_is_forbidden(alice, mona):
    webhook = make_webhook(PUBLIC_URL, user=mona)
    client = client_for(alice)
    for response in (
        client.get(LIST),
        client.post(LIST, {"url": PUBLIC_URL}, format="json"),
        client.get(f"{LIST}{webhook.pk}/"),
        client.delete(f"{LIST}{webhook.pk}/"),
    ):
        assert response.status_code == 403
        assert response.json() == {"detail": "Only managers can do this.", "code": "permission_denied"}
    assert Webhook.objects.count() == 1


def test_anonymous_is_401_with_a_challenge(mona):
    webhook = make_webhook(PUBLIC_URL, user=mona)
    client = client_for()
    for response in (
        client.get(LIST),
        client.post(LIST, {"url": PUBLIC_URL}, format="json"),
        client.delete(f"{LIST}{webhook.pk}/"),
    ):
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Token"
        assert set(response.json()) == {"detail", "code"}
    assert Webhook.objects.count() == 1


def test_the_schema_documents_the_endpoints_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--urlconf", "tests.webhooks.urls", "--validate", "--fail-on-warn", "--file", str(out))
    schema = out.read_text()
    assert "/api/v1/webhooks/{id}/" in schema
    assert "Register a webhook" in schema
