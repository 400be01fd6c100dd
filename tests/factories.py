"""Builders for test data. Tickets are always made through the services, so their events are real."""
import itertools

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from tickets import services
from tickets.models import Category
from tiers.models import Tier, TierMembership
from tiers.roles import AGENTS_GROUP, MANAGERS_GROUP

_numbers = itertools.count(1)


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


def staff_user(username: str, *, tier: str | None = None, manager: bool = False):
    """An agent in `tier`, or a manager."""
    user = get_user_model().objects.create_user(username=username, password="pw", email=f"{username}@example.com")
    user.groups.add(Group.objects.get(name=MANAGERS_GROUP if manager else AGENTS_GROUP))
    if manager:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    if tier:
        TierMembership.objects.create(user=user, tier=Tier.objects.get(code=tier))
    return user


def make_ticket(**overrides):
    """A ticket opened by the customer through the service (Dana unless told otherwise)."""
    values = {
        "subject": f"Printer problem {next(_numbers)}",
        "description": "The printer on floor 3 jams on every page.",
        "requester_email": "dana@example.com",
        "requester_name": "Dana",
    }
    values.update(overrides)
    return services.ticket_create(**values)
