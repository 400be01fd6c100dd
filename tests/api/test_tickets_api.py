"""The ticket API: the contract's paths, shapes, status codes and error body."""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api.conftest import client_for
from tests.factories import CategoryFactory, make_ticket, staff_user
from tickets import services
from tickets.models import Event, Ticket

pytestmark = pytest.mark.django_db

TICKET_KEYS = {
    "id", "reference", "subject", "description", "status", "tier", "priority", "category", "channel", "requester",
    "assignee", "version", "created_at", "updated_at", "first_response_at", "resolved_at", "closed_at",
    "response_due_at", "escalation_due_at", "resolution_due_at", "diagnosis", "resolution", "reopen_count",
    "repeat_of", "csat", "sla", "merged_into", "tags",
}
NEW = {"subject": "VPN drops", "description": "Every ten minutes.", "requester": {"email": "dana@example.com",
                                                                              "name": "Dana"}}


def url(ticket=None, action=None):
    base = "/api/v1/tickets/"
    if ticket is None:
        return base
    return f"{base}{getattr(ticket, 'pk', ticket)}/" + (f"{action}/" if action else "")


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code and body["detail"], body


# --- create, read, list ----------------------------------------------------------


def test_create_returns_the_ticket_in_the_contract_shape(api_alice):
    CategoryFactory(name="Network", slug="network")
    response = api_alice.post(url(), {**NEW, "priority": "P2", "category": "network"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == TICKET_KEYS
    assert (body["status"], body["tier"], body["priority"], body["category"], body["channel"]) == (
        "new", "L1", "P2", "network", "api")
    assert body["reference"] == f"HD-{body['id']:06d}"
    assert body["requester"] == {"email": "dana@example.com", "name": "Dana"}
    assert body["diagnosis"] == {"affected_item": "", "steps_before": "", "findings": ""}
    assert body["sla"]["breached"] == [] and body["escalation_due_at"]
    created = Event.objects.get(ticket_id=body["id"], kind="created")
    assert created.actor_role == "integration" and created.actor.username == "alice"


def test_the_created_ticket_is_shown_exactly_as_it_reads_back(api_alice):
    """The creation answers from the ticket it just wrote, without reading it again: the answer must equal
    what a read returns, a repeat contact's link included."""
    CategoryFactory(name="Network", slug="network")
    first = api_alice.post(url(), {**NEW, "category": "network"}, format="json").json()
    with CaptureQueriesContext(connection) as queries:
        response = api_alice.post(url(), {**NEW, "priority": "P1", "category": "network"}, format="json")
    body = response.json()
    assert body["repeat_of"] == first["id"]
    assert body == api_alice.get(url(body["id"])).json()
    read_back = f'"tickets_ticket"."id" = {body["id"]}'
    assert not [q for q in queries if q["sql"].startswith("SELECT") and read_back in q["sql"]]


@pytest.mark.parametrize(
    "payload,field",
    [
        ({**NEW, "subject": ""}, "subject"),
        ({**NEW, "requester": {"email": "nope"}}, "requester"),
        ({**NEW, "priority": "P9"}, "priority"),
        ({**NEW, "category": "no-such"}, "category"),
        ({"subject": "x"}, "description"),
    ],
)
def test_create_with_bad_input_is_400_and_creates_nothing(api_alice, payload, field):
    response = api_alice.post(url(), payload, format="json")
    assert_error(response, 400, "invalid")
    assert field in response.json()["errors"]
    assert not Ticket.objects.exists()


def test_malformed_json_is_400_not_500(api_alice):
    response = api_alice.generic("POST", url(), "{not json", content_type="application/json")
    assert_error(response, 400, "parse_error")


def test_idempotency_key_replays_the_first_ticket(api_alice):
    first = api_alice.post(url(), NEW, format="json", HTTP_IDEMPOTENCY_KEY="abc-123")
    again = api_alice.post(url(), NEW, format="json", HTTP_IDEMPOTENCY_KEY="abc-123")
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert Ticket.objects.count() == 1
    different = api_alice.post(url(), {**NEW, "subject": "Other"}, format="json", HTTP_IDEMPOTENCY_KEY="abc-123")
    assert_error(different, 400, "invalid")
    other = api_alice.post(url(), NEW, format="json", HTTP_IDEMPOTENCY_KEY="other-key")
    assert other.json()["id"] != first.json()["id"]


def test_retrieve_and_unknown_ticket(api_bob, ticket):
    assert api_bob.get(url(ticket)).json()["id"] == ticket.pk  # agents read every tier
    assert_error(api_bob.get(url(999999)), 404, "not_found")


def test_list_filters_orders_and_paginates(api_mona, as_mona):
    network = CategoryFactory(name="Network", slug="network")
    a = make_ticket(subject="Printer jams", category=network, priority="P1")
    b = make_ticket(subject="VPN drops", description="Remote access fails", requester_email="erin@example.com")
    c = make_ticket(subject="Printer offline")
    services.ticket_escalate(actor=as_mona, ticket_id=c.pk, reason="Needs L2")

    def ids(**params):
        return [t["id"] for t in api_mona.get(url(), params).json()["results"]]

    assert ids() == [c.pk, b.pk, a.pk]
    assert ids(tier="L2") == [c.pk]
    assert ids(category="network") == [a.pk]
    assert ids(priority="P1") == [a.pk]
    assert ids(requester_email="ERIN@example.com") == [b.pk]
    assert ids(q="printer") == [c.pk, a.pk]
    assert ids(ordering="created_at") == [a.pk, b.pk, c.pk]
    assert ids(status=["new"]) == [c.pk, b.pk, a.pk]
    first = api_mona.get(url(), {"page_size": 2}).json()
    assert [t["id"] for t in first["results"]] == [c.pk, b.pk]
    second = api_mona.get(first["next"]).json()
    assert [t["id"] for t in second["results"]] == [a.pk] and second["next"] is None


def test_list_rejects_bad_filters(api_mona):
    assert_error(api_mona.get(url(), {"status": "bogus"}), 400, "invalid")
    assert_error(api_mona.get(url(), {"created_after": "yesterday"}), 400, "invalid")
    assert_error(api_mona.get(url(), {"created_after": "0001-01-01T00:00:00+23:00"}), 400, "invalid")
    # An offset PostgreSQL would not take is just another way to write an instant.
    assert api_mona.get(url(), {"created_before": "0257-02-24T06:53:08+21:52"}).status_code == 200
    assert api_mona.get(url(), {"ordering": "password"}).status_code == 200  # unknown ordering is ignored


def test_list_query_count_does_not_grow_with_the_page(api_mona, as_mona):
    for _ in range(3):
        services.ticket_take(actor=as_mona, ticket_id=make_ticket(category=CategoryFactory()).pk)
    with CaptureQueriesContext(connection) as few:
        api_mona.get(url())
    for _ in range(20):
        services.ticket_take(actor=as_mona, ticket_id=make_ticket(category=CategoryFactory()).pk)
    with CaptureQueriesContext(connection) as many:
        assert len(api_mona.get(url()).json()["results"]) == 23
    assert len(many) == len(few)


# --- editing ---------------------------------------------------------------------


def test_patch_edits_and_a_new_priority_restarts_the_clocks(api_alice, ticket):
    response = api_alice.patch(url(ticket), {"priority": "P1", "subject": "Printer on fire", "version": 1},
                               format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["priority"], body["subject"], body["version"]) == ("P1", "Printer on fire", 2)
    assert body["escalation_due_at"] != ticket.escalation_due_at.isoformat()
    updated = Event.objects.get(ticket=ticket, kind="updated")
    assert updated.data["priority"] == {"from": "P3", "to": "P1"}


def test_patch_with_a_stale_version_is_409(api_alice, ticket):
    api_alice.patch(url(ticket), {"priority": "P2"}, format="json")
    assert_error(api_alice.patch(url(ticket), {"priority": "P1", "version": 1}, format="json"), 409, "stale_version")
    assert Ticket.objects.get(pk=ticket.pk).priority == "P2"


# --- workflow actions --------------------------------------------------------------


def test_a_ticket_goes_through_its_whole_life_by_api(api_alice, api_bob, alice, ticket):
    def post(client, action, **body):
        response = client.post(url(ticket, action), body, format="json")
        assert response.status_code == 200, response.content
        return response.json()

    assert post(api_alice, "take")["assignee"] == "alice"
    post(api_alice, "diagnose", affected_item="Printer", steps_before="Toner change", findings="Fuser error")
    assert post(api_alice, "escalate", reason="Fuser needs L2")["tier"] == "L2"
    post(api_bob, "take")
    assert post(api_bob, "start-resolving")["status"] == "resolving"
    assert post(api_bob, "wait", reason="Is it plugged in?")["status"] == "waiting"
    assert post(api_bob, "resume")["status"] == "resolving"
    resolved = post(api_bob, "resolve", summary="Replaced the fuser")
    assert resolved["resolution"] == {"summary": "Replaced the fuser"} and resolved["resolved_at"]
    assert post(api_bob, "reopen", reason="Jams again")["reopen_count"] == 1
    post(api_bob, "resolve", summary="Replaced the pickup roller too")
    closed = post(api_bob, "close", csat=5, comment="Thanks")  # an integration relays the customer's rating
    assert closed["status"] == "closed" and closed["csat"] == {"rating": 5, "comment": "Thanks"}
    kinds = [e["kind"] for e in api_alice.get(url(ticket, "events")).json()["results"]]
    assert kinds == ["created", "taken", "diagnosed", "escalated", "taken", "resolving_started", "waiting",
                     "resumed", "resolved", "reopened", "resolved", "closed"]


def test_de_escalate_and_assign(api_bob, api_mona, alice, as_mona, ticket):
    services.ticket_escalate(actor=as_mona, ticket_id=ticket.pk, reason="up")
    back = api_bob.post(url(ticket, "de-escalate"), {"reason": "L1 fix", "defect": True}, format="json")
    assert back.json()["tier"] == "L1"
    assigned = api_mona.post(url(ticket, "assign"), {"assignee": "alice"}, format="json")
    assert assigned.json()["assignee"] == "alice"
    assert_error(api_mona.post(url(ticket, "assign"), {"assignee": "nobody"}, format="json"), 400, "invalid")


def test_illegal_transition_is_409_with_the_error_shape(api_alice, ticket):
    response = api_alice.post(url(ticket, "resolve"), {"summary": "x"}, format="json")
    assert_error(response, 409, "illegal_transition")
    assert "new" in response.json()["detail"]


def test_missing_required_fields_is_409(api_alice, ticket):
    api_alice.post(url(ticket, "take"), {}, format="json")
    response = api_alice.post(url(ticket, "start-resolving"), {}, format="json")
    assert_error(response, 409, "missing_fields")
    assert set(response.json()["errors"]) == {"affected_item", "steps_before", "findings"}


def test_stale_version_on_an_action_is_409(api_alice, ticket):
    assert_error(api_alice.post(url(ticket, "take"), {"version": 7}, format="json"), 409, "stale_version")


def test_action_input_is_validated(api_alice, ticket):
    assert_error(api_alice.post(url(ticket, "escalate"), {}, format="json"), 400, "invalid")
    assert_error(api_alice.post(url(ticket, "take"), {"version": "x"}, format="json"), 400, "invalid")
    assert_error(api_alice.post(url(ticket, "close"), {"csat": 9}, format="json"), 400, "invalid")


def test_actions_need_post(api_alice, ticket):
    assert_error(api_alice.get(url(ticket, "take")), 405, "method_not_allowed")


# --- permissions ---------------------------------------------------------------------


def test_permission_matrix(api_alice, api_mona, anonymous, as_mona, django_user_model, ticket):
    services.ticket_escalate(actor=as_mona, ticket_id=ticket.pk, reason="L2 please")
    # L1 token on an L2 ticket: reads it, may not act.
    assert api_alice.get(url(ticket)).status_code == 200
    assert_error(api_alice.post(url(ticket, "take"), {}, format="json"), 403, "forbidden")
    assert_error(api_alice.post(url(ticket, "comments"), {"body": "hi"}, format="json"), 403, "forbidden")
    # The manager does everything.
    assert api_mona.post(url(ticket, "take"), {}, format="json").status_code == 200
    # Anonymous: 401 everywhere, nothing leaks.
    for path in (url(), url(ticket), url(ticket, "events"), "/api/v1/tiers/", "/api/v1/metrics/summary/"):
        assert_error(anonymous.get(path), 401, "not_authenticated")
    # Signed in but not staff.
    visitor = client_for(django_user_model.objects.create_user("visitor"))
    assert_error(visitor.get(url()), 403, "permission_denied")


def test_another_agents_ticket_in_my_tier_can_be_worked_on(api_alice, ticket):
    other = staff_user("alex", tier="L1")
    services.ticket_take(actor=services.Actor.of_user(other), ticket_id=ticket.pk)
    response = api_alice.post(url(ticket, "comments"), {"body": "I can help", "internal": True}, format="json")
    assert response.status_code == 201
    assert api_alice.post(url(ticket, "assign"), {"assignee": "alice"}, format="json").json()["assignee"] == "alice"


def test_session_auth_needs_csrf(alice, ticket):
    from rest_framework.test import APIClient

    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(alice)
    assert browser.get(url(ticket)).status_code == 200
    assert_error(browser.post(url(ticket, "take"), {}, format="json"), 403, "permission_denied")


def test_throttling_is_429(api_alice, monkeypatch):
    from rest_framework.throttling import UserRateThrottle

    monkeypatch.setattr(UserRateThrottle, "rate", "2/min", raising=False)
    codes = [api_alice.get("/api/v1/tiers/").status_code for _ in range(3)]
    assert codes[:2] == [200, 200]
    assert_error(api_alice.get("/api/v1/tiers/"), 429, "throttled")


# --- comments, attachments, events, reference data -----------------------------------


def test_comments(api_alice, ticket):
    created = api_alice.post(url(ticket, "comments"), {"body": "Please restart", "internal": False}, format="json")
    assert created.status_code == 201
    assert created.json()["author"] == "alice" and created.json()["author_role"] == "integration"
    listed = api_alice.get(url(ticket, "comments")).json()["results"]
    assert [c["body"] for c in listed] == ["Please restart"]
    assert_error(api_alice.post(url(ticket, "comments"), {"body": ""}, format="json"), 400, "invalid")


def test_attachments_upload_list_and_download_as_a_file(api_alice, ticket):
    upload = SimpleUploadedFile("Report <b>.pdf", b"%PDF-1.4 hello", content_type="application/pdf")
    created = api_alice.post(url(ticket, "attachments"), {"file": upload}, format="multipart")
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["name"], body["size"]) == ("Report <b>.pdf", 14)
    assert [a["id"] for a in api_alice.get(url(ticket, "attachments")).json()["results"]] == [body["id"]]
    download = api_alice.get(body["download_url"])
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["Content-Type"] == "application/octet-stream"
    assert download["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in download["Content-Security-Policy"]
    assert b"".join(download.streaming_content) == b"%PDF-1.4 hello"
    assert Event.objects.filter(ticket=ticket, kind="attached").count() == 1


@pytest.mark.parametrize(
    "name,content,status,code",
    [
        ("page.html", b"<script>alert(1)</script>", 400, "invalid"),
        ("logo.svg", b"<svg onload=alert(1)>", 400, "invalid"),
        ("fake.png", b"<script>", 400, "invalid"),
        ("README", b"no extension", 400, "invalid"),
    ],
)
def test_dangerous_or_mislabelled_uploads_are_refused(api_alice, ticket, name, content, status, code):
    response = api_alice.post(url(ticket, "attachments"), {"file": SimpleUploadedFile(name, content)},
                              format="multipart")
    assert_error(response, status, code)


def test_too_large_upload_is_413(api_alice, ticket, settings):
    settings.ATTACHMENT_MAX_BYTES = 10
    response = api_alice.post(url(ticket, "attachments"), {"file": SimpleUploadedFile("a.txt", b"x" * 11)},
                              format="multipart")
    assert_error(response, 413, "too_large")


def test_attachment_of_another_ticket_is_404(api_alice, ticket):
    other = make_ticket()
    upload = SimpleUploadedFile("a.txt", b"secret")
    attachment = api_alice.post(url(other, "attachments"), {"file": upload}, format="multipart").json()
    assert_error(api_alice.get(f"{url(ticket)}attachments/{attachment['id']}/download/"), 404, "not_found")


def test_events_are_the_timeline_in_the_contract_shape(api_alice, ticket):
    api_alice.post(url(ticket, "take"), {}, format="json")
    events = api_alice.get(url(ticket, "events")).json()["results"]
    assert [set(e) for e in events] == [
        {"id", "kind", "at", "actor", "actor_role", "from_status", "to_status", "from_tier", "to_tier", "reason",
         "data"}] * 2
    assert (events[1]["kind"], events[1]["actor"], events[1]["from_status"], events[1]["to_status"]) == (
        "taken", "alice", "new", "diagnosing")


def test_tiers_and_categories(api_alice):
    CategoryFactory(name="Access", slug="access")
    assert [t["code"] for t in api_alice.get("/api/v1/tiers/").json()] == ["L1", "L2", "L3"]
    assert [c["slug"] for c in api_alice.get("/api/v1/categories/").json()] == ["access"]


def test_metrics_summary_has_every_key(api_mona, ticket):
    body = api_mona.get("/api/v1/metrics/summary/").json()
    assert set(body) == {
        "created", "resolution_rate", "time_to_resolve", "first_response", "repeat_contacts", "repeat_contact_rate",
        "flr_rate", "fcr_rate", "escalation_rate", "escalation_defects", "sla_compliance", "csat", "backlog"}
    assert body["created"] == 1 and body["backlog"]["total"] == 1
    assert set(body["time_to_resolve"]) == {"median", "p90", "mean", "business_median"}
    assert_error(api_mona.get("/api/v1/metrics/summary/", {"from": "2026-02-01", "to": "2026-01-01"}), 400,
                 "invalid")
    assert_error(api_mona.get("/api/v1/metrics/summary/", {"tier": "L9"}), 400, "invalid")


def test_schema_and_docs_are_served_locally(api_alice):
    schema = api_alice.get("/api/v1/schema/")
    assert schema.status_code == 200 and b"/api/v1/tickets/{id}/start-resolving/" in schema.content
    docs = api_alice.get("/api/v1/docs/")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower() and b"/static/drf_spectacular_sidecar/" in docs.content


def test_unknown_api_paths_and_impossible_ids_are_json_404(api_alice):
    assert_error(api_alice.get("/api/v1/no-such-thing/"), 404, "not_found")
    assert_error(api_alice.get(url(2**70)), 404, "not_found")
    assert_error(api_alice.post(url(2**70, "take"), {}, format="json"), 404, "not_found")


def test_text_that_is_not_unicode_is_400_not_500(api_alice):
    body = '{"subject": "\\ud800", "description": "x", "requester": {"email": "a@example.com"}}'
    assert_error(api_alice.generic("POST", url(), body, content_type="application/json"), 400, "parse_error")
    assert not Ticket.objects.exists()
