import pytest

from canned.models import CannedReply
from tiers.models import Tier


@pytest.fixture
def agent(client, alice):
    """The test client, signed in as Alice (L1 agent)."""
    client.force_login(alice)
    return client


def personal(owner, title="Thanks", body="Hello {{ requester.name }}", **extra) -> CannedReply:
    return CannedReply.objects.create(owner=owner, title=title, body=body, **extra)


def tier_wide(code, title="Tier reply", body="Your ticket {{ ticket.reference }}", **extra) -> CannedReply:
    return CannedReply.objects.create(tier=Tier.objects.get(code=code), title=title, body=body, **extra)
