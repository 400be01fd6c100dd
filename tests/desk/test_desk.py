"""The agent workspace: sign-in, queues, the ticket page and its actions, logging a call, language."""
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories import CategoryFactory, make_ticket, staff_user
from tickets import services
from tickets.models import Comment, Event, Ticket
from tiers.models import StaffProfile

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


def queue(client, **params):
    return client.get(reverse("desk:queue"), params)


def ids_in(response):
    return [int(part.split('"')[0]) for part in response.content.decode().split('data-ticket-id="')[1:]]


def action(client, ticket, name, **data):
    return client.post(reverse("desk:action", args=[ticket.pk, name]), data)


# --- sign-in, home, language ---------------------------------------------------------


def test_sign_in_lands_on_the_queues(client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": "pw"})
    assert response.status_code == 302 and response["Location"] == reverse("desk:queue")
    assert client.get("/").headers["Location"] == reverse("desk:queue")


def test_repeated_failures_lock_the_sign_in(client, alice, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": "alice", "password": "wrong"}, REMOTE_ADDR="10.0.0.9")
    locked = client.post(reverse("login"), {"username": "alice", "password": "pw"}, REMOTE_ADDR="10.0.0.9")
    assert locked.status_code == 429
    assert "Sign-in locked" in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_user_without_a_role_gets_no_desk(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("visitor"))
    assert "no support role" in client.get("/").content.decode()
    assert client.get(reverse("desk:queue")).status_code == 403


def test_anonymous_is_sent_to_sign_in(client, ticket):
    response = client.get(reverse("desk:ticket", args=[ticket.pk]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_language_is_remembered_for_the_user(alice_client, alice, client):
    response = alice_client.post(reverse("desk:language"), {"language": "ru", "next": "https://evil.example/"})
    assert response["Location"] == reverse("desk:queue")  # no open redirect
    assert StaffProfile.objects.get(user=alice).language == "ru"
    assert 'lang="ru"' in alice_client.get(reverse("desk:queue")).content.decode()
    alice_client.logout()
    fresh = client.__class__()
    fresh.post(reverse("login"), {"username": "alice", "password": "pw"})
    assert 'lang="ru"' in fresh.get(reverse("desk:queue")).content.decode()


# --- queues --------------------------------------------------------------------------


def test_queues(alice_client, alice, as_alice, as_mona):
    mine = make_ticket(subject="Mine")
    services.ticket_take(actor=as_alice, ticket_id=mine.pk)
    unassigned = make_ticket(subject="Unassigned")
    waiting = make_ticket(subject="Waiting")
    services.ticket_take(actor=as_alice, ticket_id=waiting.pk)
    services.ticket_wait(actor=as_alice, ticket_id=waiting.pk)
    l2 = make_ticket(subject="At L2")
    services.ticket_escalate(actor=as_mona, ticket_id=l2.pk, reason="up")
    urgent = make_ticket(subject="Urgent", priority="P1")  # 15 minutes to respond: breaching soon
    assert ids_in(queue(alice_client, queue="mine")) == [waiting.pk, mine.pk]
    assert ids_in(queue(alice_client, queue="unassigned")) == [urgent.pk, unassigned.pk]  # L2's is not alice's tier
    assert ids_in(queue(alice_client, queue="waiting")) == [waiting.pk]
    assert ids_in(queue(alice_client, queue="breaching"))[0] == urgent.pk
    assert set(ids_in(queue(alice_client))) == {mine.pk, unassigned.pk, waiting.pk, l2.pk, urgent.pk}


def test_filters_search_sort_and_pages(alice_client, as_alice, monkeypatch):
    network = CategoryFactory(name="Network", slug="network")
    a = make_ticket(subject="VPN drops", category=network, priority="P1")
    b = make_ticket(subject="Printer jams")
    services.comment_add(actor=as_alice, ticket_id=b.pk, body="The fuser unit is worn")
    assert ids_in(queue(alice_client, category="network")) == [a.pk]
    assert ids_in(queue(alice_client, priority="P1")) == [a.pk]
    assert ids_in(queue(alice_client, q="fuser")) == [b.pk]  # comments are searched too
    assert ids_in(queue(alice_client, sort="created_at")) == [a.pk, b.pk]
    assert "not understood" in queue(alice_client, status="bogus").content.decode()
    monkeypatch.setattr("tickets.desk.views.PAGE_SIZE", 1)
    first = queue(alice_client)
    assert ids_in(first) == [b.pk] and 'rel="next"' in first.content.decode()
    assert ids_in(queue(alice_client, page=2)) == [a.pk]


def test_partial_refresh_renders_only_the_rows(alice_client, ticket):
    response = queue(alice_client, partial=1, q="printer")
    body = response.content.decode()
    assert ids_in(response) == [ticket.pk]
    assert "<html" not in body and 'id="filters"' not in body


def test_queue_page_runs_the_same_queries_for_5_or_50_tickets(alice_client, as_alice):
    network = CategoryFactory(name="Network", slug="network")

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert queue(alice_client).status_code == 200
        return len(queries)

    for _ in range(5):
        services.ticket_take(actor=as_alice, ticket_id=make_ticket(category=network).pk)
    few = count()
    for _ in range(45):
        services.ticket_take(actor=as_alice, ticket_id=make_ticket(category=network).pk)
    assert count() == few


def test_subjects_are_escaped(alice_client):
    make_ticket(subject='<img src=x onerror="alert(1)">')
    body = queue(alice_client).content.decode()
    assert "<img src=x" not in body and "&lt;img src=x" in body


# --- the ticket page -----------------------------------------------------------------


def test_ticket_page_shows_the_timeline_and_only_allowed_actions(alice_client, diagnosed, as_alice, dana):
    services.comment_add(actor=as_alice, ticket_id=diagnosed.pk, body="Checking the dock", internal=True)
    services.comment_add(actor=dana, ticket_id=diagnosed.pk, body="Thanks!")
    page = alice_client.get(reverse("desk:ticket", args=[diagnosed.pk])).content.decode()
    assert diagnosed.reference in page
    assert page.count('data-kind="commented"') == 2
    assert "event kind-commented internal" in page and "Checking the dock" in page
    forms = {part.split('"')[0] for part in page.split('data-action="')[1:]}
    assert forms == {"comment", "diagnose", "start_resolving", "wait", "resolve", "escalate", "assign", "attach",
                     "merge", "link", "tag"}


def test_an_l1_agent_gets_no_buttons_on_an_l2_ticket_and_a_forged_post_is_refused(alice_client, ticket, as_mona):
    services.ticket_escalate(actor=as_mona, ticket_id=ticket.pk, reason="L2 please")
    page = alice_client.get(reverse("desk:ticket", args=[ticket.pk])).content.decode()
    assert "data-action=" not in page
    forged = action(alice_client, ticket, "take", version=2)
    assert forged.status_code == 403
    assert Ticket.objects.get(pk=ticket.pk).status == "new"


def test_work_a_ticket_from_new_to_resolved(alice_client, ticket):
    assert action(alice_client, ticket, "take", version=1).status_code == 302
    assert action(alice_client, ticket, "diagnose", version=2, affected_item="Printer", steps_before="Toner",
                  findings="Fuser").status_code == 302
    assert action(alice_client, ticket, "comment", version=3, body="On it", internal="true").status_code == 302
    assert action(alice_client, ticket, "start_resolving", version=4).status_code == 302
    done = action(alice_client, ticket, "resolve", version=5, summary="Replaced the fuser")
    assert done.status_code == 302 and done["Location"] == reverse("desk:ticket", args=[ticket.pk])
    final = Ticket.objects.get(pk=ticket.pk)
    assert (final.status, final.findings, final.resolution_summary) == ("resolved", "Fuser", "Replaced the fuser")
    assert Event.objects.filter(ticket=ticket, kind="commented").get().data["internal"] is True
    followed = alice_client.get(done["Location"]).content.decode()
    assert "Resolved; the customer is asked to confirm." in followed


def test_escalate_needs_a_reason(alice_client, ticket):
    response = action(alice_client, ticket, "escalate", version=1, reason="")
    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).tier.code == "L1"


def test_a_stale_form_is_refused_and_keeps_what_was_typed(alice_client, ticket, as_mona):
    action(alice_client, ticket, "take", version=1)
    services.comment_add(actor=as_mona, ticket_id=ticket.pk, body="I had a look")  # version 3 now
    response = action(alice_client, ticket, "diagnose", version=2, affected_item="Printer", steps_before="",
                      findings="My careful findings")
    page = response.content.decode()
    assert response.status_code == 409
    assert "alert-stale" in page and "My careful findings" in page
    assert 'name="version" value="3"' in page
    assert Ticket.objects.get(pk=ticket.pk).findings == ""


def test_unknown_actions_and_gets_are_refused(alice_client, ticket):
    assert action(alice_client, ticket, "explode").status_code == 404
    assert alice_client.get(reverse("desk:action", args=[ticket.pk, "take"])).status_code == 405
    assert alice_client.get(reverse("desk:ticket", args=[999999])).status_code == 404


def test_attachments_upload_and_download(alice_client, ticket):
    upload = SimpleUploadedFile("error.log", b"segfault at 0x0")
    assert action(alice_client, ticket, "attach", version=1, file=upload).status_code == 302
    attachment = ticket.attachments.get()
    page = alice_client.get(reverse("desk:ticket", args=[ticket.pk])).content.decode()
    assert "error.log" in page
    download = alice_client.get(reverse("desk:attachment", args=[ticket.pk, attachment.pk]))
    assert download["Content-Disposition"].startswith("attachment") and download["X-Content-Type-Options"] == "nosniff"
    bad = action(alice_client, ticket, "attach", version=2, file=SimpleUploadedFile("x.html", b"<script>"))
    assert bad.status_code == 400


def test_ticket_page_runs_the_same_queries_for_5_or_50_timeline_entries(alice_client, ticket, as_alice):
    def count():
        with CaptureQueriesContext(connection) as queries:
            assert alice_client.get(reverse("desk:ticket", args=[ticket.pk])).status_code == 200
        return len(queries)

    for n in range(4):
        services.comment_add(actor=as_alice, ticket_id=ticket.pk, body=f"note {n}", internal=n % 2 == 0)
    few = count()
    for n in range(45):
        services.comment_add(actor=as_alice, ticket_id=ticket.pk, body=f"more {n}", internal=n % 2 == 0)
    services.attachment_add(actor=as_alice, ticket_id=ticket.pk, upload=SimpleUploadedFile("a.txt", b"a"))
    assert count() == few


# --- log a call --------------------------------------------------------------------------


def test_log_a_call_for_a_known_caller(alice_client, ticket):
    found = alice_client.get(reverse("desk:requesters"), {"q": "dan"}).json()["results"]
    assert found == [{"email": "dana@example.com", "name": "Dana"}]
    response = alice_client.post(reverse("desk:new"), {
        "requester_email": "dana@example.com", "requester_name": "", "subject": "Phone dead",
        "description": "No dial tone", "priority": "P2", "category": "",
    })
    created = Ticket.objects.get(subject="Phone dead")
    assert response["Location"] == reverse("desk:ticket", args=[created.pk])
    assert (created.channel, created.requester_id, created.created_by.username) == ("phone", ticket.requester_id,
                                                                                    "alice")


def test_a_logged_call_is_the_first_response_and_keeps_its_time_and_notes(alice_client, alice, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    started = timezone.localtime(timezone.now() - timedelta(minutes=20)).replace(second=0, microsecond=0)
    page = alice_client.get(reverse("desk:new")).content.decode()
    assert 'name="call_started_at"' in page and 'name="call_notes"' in page
    response = alice_client.post(reverse("desk:new"), {
        "requester_email": "erin@example.com", "requester_name": "Erin", "subject": "Cannot print",
        "description": "The printer says offline.", "priority": "P3",
        "call_started_at": started.strftime("%Y-%m-%dT%H:%M"), "call_minutes": "7",
        "call_notes": "Caller sounded stressed; <b>deadline</b> at 5 pm.",
    })
    assert response.status_code == 302
    ticket = Ticket.objects.get(subject="Cannot print")
    # The agent talked to the customer: the response clock is met when the ticket is opened.
    assert ticket.first_response_at == ticket.created_at
    created = Event.objects.get(ticket=ticket, kind="created")
    assert created.data["call"] == {"started_at": started.isoformat(), "minutes": 7, "notes": True}
    assert created.call == {"started_at": started, "minutes": 7}
    note = Comment.objects.get(ticket=ticket)
    assert (note.internal, note.author, note.body) == (True, alice, "Caller sounded stressed; <b>deadline</b> at 5 pm.")
    assert Event.objects.filter(ticket=ticket, kind="commented", data__comment_id=note.pk).exists()

    page = alice_client.get(reverse("desk:ticket", args=[ticket.pk])).content.decode()
    assert "Phone call" in page and "7 minutes" in page
    assert "&lt;b&gt;deadline&lt;/b&gt;" in page and "<b>deadline</b>" not in page


@pytest.mark.parametrize("fields, problem", [
    ({"call_started_at": "yesterday"}, "Enter the call's start as a date and time."),
    ({"call_started_at": "2999-01-01T10:00"}, "The call cannot start in the future."),
    ({"call_started_at": "2001-01-01T10:00"}, "Log a call within a week of taking it."),
    ({"call_minutes": "-3"}, "Enter the call's length as whole minutes."),
    ({"call_minutes": "601"}, "The call's length must be 0 to 600 minutes."),
])
def test_a_call_with_a_bad_time_or_length_is_refused_and_nothing_is_written(alice_client, fields, problem):
    response = alice_client.post(reverse("desk:new"), {
        "requester_email": "erin@example.com", "subject": "Kept", "description": "x", **fields})
    assert response.status_code == 400
    assert problem.replace("'", "&#x27;") in response.content.decode()
    assert not Ticket.objects.exists() and not Comment.objects.exists()


def test_a_call_without_a_start_time_started_now(alice_client):
    alice_client.post(reverse("desk:new"), {"requester_email": "erin@example.com", "subject": "S",
                                            "description": "x", "call_started_at": ""})
    ticket = Ticket.objects.get()
    assert ticket.first_response_at == ticket.created_at
    assert Event.objects.get(ticket=ticket, kind="created").call["minutes"] is None
    assert not Comment.objects.exists()


def test_log_a_call_with_bad_input_keeps_the_form(alice_client):
    response = alice_client.post(reverse("desk:new"), {"requester_email": "nope", "subject": "Kept subject",
                                                       "description": ""})
    assert response.status_code == 400
    assert 'value="Kept subject"' in response.content.decode()
    assert not Ticket.objects.exists()


def test_pages_carry_a_strict_csp_and_no_inline_script(alice_client, ticket):
    response = alice_client.get(reverse("desk:ticket", args=[ticket.pk]))
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert "<script>" not in response.content.decode()


def test_agents_of_another_tier_can_be_assigned_only_within_the_tier(alice_client, ticket):
    staff_user("bob", tier="L2")
    page = alice_client.get(reverse("desk:ticket", args=[ticket.pk])).content.decode()
    assignee_options = page.split('id="assignee"')[1].split("</select>")[0]
    assert "alice" in assignee_options and "bob" not in assignee_options
