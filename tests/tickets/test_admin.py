"""The admin shows tickets with their whole timeline, read-only; events cannot be edited or deleted."""
import pytest
from django.urls import reverse

from tests.factories import make_ticket
from tickets import services
from tickets.models import Event

pytestmark = pytest.mark.django_db


@pytest.fixture
def mona_client(client, mona):
    client.force_login(mona)
    return client


def test_manager_sees_ticket_list_and_searches_by_reference(mona_client, ticket):
    other = make_ticket(subject="VPN drops")
    response = mona_client.get(reverse("admin:tickets_ticket_changelist"))
    assert response.status_code == 200
    assert ticket.reference in response.content.decode() and other.reference in response.content.decode()
    found = mona_client.get(reverse("admin:tickets_ticket_changelist"), {"q": other.reference.lower()})
    assert other.reference in found.content.decode()
    assert ticket.reference not in found.content.decode()


def test_ticket_list_query_count_does_not_grow_with_tickets(mona_client, django_assert_max_num_queries):
    for _ in range(3):
        make_ticket()
    with django_assert_max_num_queries(12) as few:
        mona_client.get(reverse("admin:tickets_ticket_changelist"))
    for _ in range(20):
        make_ticket()
    with django_assert_max_num_queries(len(few.captured_queries)):
        mona_client.get(reverse("admin:tickets_ticket_changelist"))


def test_ticket_page_shows_the_timeline_read_only(mona_client, diagnosed, as_alice):
    services.ticket_escalate(actor=as_alice, ticket_id=diagnosed.pk, reason="Needs domain admin rights")
    response = mona_client.get(reverse("admin:tickets_ticket_change", args=[diagnosed.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    for kind in ("Created", "Taken", "Diagnosis saved", "Escalated"):
        assert kind in page or kind.lower() in page
    assert "Needs domain admin rights" in page
    assert 'name="_save"' not in page  # nothing to save: state changes only through the workflow


def test_ticket_cannot_be_changed_added_or_deleted_in_the_admin(mona_client, ticket):
    change = reverse("admin:tickets_ticket_change", args=[ticket.pk])
    mona_client.post(change, {"subject": "rewritten", "status": "closed"})
    ticket.refresh_from_db()
    assert (ticket.subject, ticket.status) != ("rewritten", "closed")
    assert mona_client.get(reverse("admin:tickets_ticket_add")).status_code == 403
    delete_url = reverse("admin:tickets_ticket_delete", args=[ticket.pk])
    assert mona_client.post(delete_url, {"post": "yes"}).status_code == 403


def test_events_are_view_only_in_the_admin(mona_client, ticket):
    event = Event.objects.get(ticket=ticket)
    assert mona_client.get(reverse("admin:tickets_event_change", args=[event.pk])).status_code == 200
    assert mona_client.post(reverse("admin:tickets_event_delete", args=[event.pk]), {"post": "yes"}).status_code == 403
    assert mona_client.get(reverse("admin:tickets_event_add")).status_code == 403
    assert Event.objects.filter(pk=event.pk).exists()


def test_manager_edits_tier_membership_on_the_user_page(mona_client, alice, tiers):
    response = mona_client.get(reverse("admin:auth_user_change", args=[alice.pk]))
    assert response.status_code == 200
    assert "tier_memberships-0-tier" in response.content.decode()


def test_agents_cannot_enter_the_admin(client, alice):
    client.force_login(alice)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_ticket_admin_shows_deadlines_and_breach_state(mona_client, tiers):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    with time_machine.travel(timezone.now() - timedelta(days=30)):
        late = make_ticket(priority="P1")  # 15 minutes to respond, long gone
    on_time = make_ticket(priority="P4")
    page = mona_client.get(reverse("admin:tickets_ticket_changelist")).content.decode()
    late_row = page.split(late.reference)[1].split("</tr>")[0]
    on_time_row = page.split(on_time.reference)[1].split("</tr>")[0]
    assert "breached: first response, resolution" in late_row
    assert "on time" in on_time_row
    detail = mona_client.get(reverse("admin:tickets_ticket_change", args=[late.pk])).content.decode()
    assert "Escalation due at" in detail and "breached" in detail


def test_sla_policies_are_editable_in_the_admin(mona_client, tiers):
    from tiers.models import SLAPolicy

    policy = SLAPolicy.objects.get(tier__code="L1", priority="P2")
    response = mona_client.get(reverse("admin:tiers_slapolicy_changelist"))
    assert response.status_code == 200 and "L1" in response.content.decode()
    change = reverse("admin:tiers_slapolicy_change", args=[policy.pk])
    form = {
        "tier": policy.tier_id, "priority": "P2", "calendar": policy.calendar_id,
        "response_time": "00:01:00", "escalation_time": "00:01:00", "resolution_time": "01:00:00",
    }
    assert mona_client.post(change, form).status_code == 302
    policy.refresh_from_db()
    assert policy.escalation_time.total_seconds() == 60
    form["escalation_time"] = "00:00:00"
    assert "Must be longer than zero" in mona_client.post(change, form).content.decode()
