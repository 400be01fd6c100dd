"""The demo seeder: users that can sign in, tickets in every status and tier, real histories."""
from datetime import timedelta

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.test import RequestFactory

from tickets.models import Event, Ticket
from tickets.workflow import Status
from tiers.roles import Role, staff_role, tier_ids_of

pytestmark = pytest.mark.django_db


def test_seed_demo_refuses_with_debug_off(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("seed_demo")
    assert not Ticket.objects.exists()


def test_seed_demo_creates_staff_and_tickets_with_histories(settings, tiers):
    settings.DEBUG = True
    call_command("seed_demo")
    for name, role, tier in [("l1", Role.AGENT, "L1"), ("l2", Role.AGENT, "L2"), ("l3", Role.AGENT, "L3")]:
        user = authenticate(RequestFactory().post("/accounts/login/"), username=name, password="demo")
        assert staff_role(user) == role and tier_ids_of(user) == {tiers[tier].pk}
    manager = authenticate(RequestFactory().post("/accounts/login/"), username="manager", password="demo")
    assert staff_role(manager) == Role.MANAGER and manager.is_staff

    assert Ticket.objects.count() >= 30
    assert set(Ticket.objects.values_list("status", flat=True)) == set(Status.values)
    assert set(Ticket.objects.values_list("tier__code", flat=True)) == {"L1", "L2", "L3"}
    assert Ticket.objects.filter(repeat_of__isnull=False).exists()
    assert Ticket.objects.filter(reopen_count__gt=0).exists()
    assert Ticket.objects.filter(csat_rating__isnull=False).exists()
    for ticket in Ticket.objects.all():
        events = list(Event.objects.filter(ticket=ticket).order_by("at", "id"))
        assert events[0].kind == "created"
        assert events[-1].to_status == ticket.status and events[-1].to_tier_id == ticket.tier_id
        assert [e.at for e in events] == sorted(e.at for e in events)
        assert ticket.version == 1 + sum(1 for e in events[1:] if e.kind != "repeat_linked")

    urgent = Ticket.objects.get(subject="VPN down for the whole sales office")
    assert (urgent.priority, urgent.tier.code, urgent.status) == ("P1", "L1", Status.NEW)
    assert urgent.escalation_due_at - urgent.created_at == timedelta(minutes=30)

    call_command("seed_demo")  # a second run changes nothing
    assert Ticket.objects.count() == 37
