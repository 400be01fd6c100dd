"""Who sees and manages which canned replies, the personal-or-tier rule in the database, and the services."""
import pytest
from django.db import IntegrityError, transaction

from canned import services
from canned.models import CannedReply
from canned.selectors import canned_replies_visible_to, may_manage, rendered_for_ticket
from tests.canned.conftest import personal, tier_wide
from tests.factories import make_ticket
from tickets.exceptions import TicketError
from tiers.models import Tier

pytestmark = pytest.mark.django_db


@pytest.fixture
def replies(alice, bob, mona):
    return {
        "alice": personal(alice, title="Alice's own"),
        "bob": personal(bob, title="Bob's own"),
        "mona": personal(mona, title="Mona's own"),
        "l1": tier_wide("L1", title="For L1"),
        "l2": tier_wide("L2", title="For L2"),
        "l3": tier_wide("L3", title="For L3"),
    }


def titles(user) -> set[str]:
    return set(canned_replies_visible_to(user).values_list("title", flat=True))


def test_an_agent_sees_their_own_and_their_tiers_replies_only(replies, alice, bob):
    assert titles(alice) == {"Alice's own", "For L1"}
    assert titles(bob) == {"Bob's own", "For L2"}


def test_an_agent_of_two_tiers_sees_both_tiers_replies(replies, alice):
    alice.tier_memberships.create(tier=Tier.objects.get(code="L2"))
    assert titles(alice) == {"Alice's own", "For L1", "For L2"}


def test_a_manager_sees_every_reply(replies, mona):
    assert titles(mona) == {r.title for r in replies.values()}


def test_a_user_without_a_staff_role_sees_none(replies, django_user_model):
    assert titles(django_user_model.objects.create_user("visitor", password="pw")) == set()


def test_only_the_owner_or_a_manager_may_manage_a_reply(replies, alice, bob, mona):
    assert may_manage(alice, replies["alice"]) and not may_manage(alice, replies["l1"])
    assert not may_manage(bob, replies["alice"])
    assert all(may_manage(mona, reply) for reply in replies.values())


@pytest.mark.parametrize("fields", ["both", "neither"])
def test_a_reply_is_either_personal_or_tier_wide_in_the_database(alice, fields):
    values = {"owner": alice, "tier": Tier.objects.get(code="L1")} if fields == "both" else {}
    with pytest.raises(IntegrityError), transaction.atomic():
        CannedReply.objects.create(title="Broken", body="x", **values)


def test_the_ticket_list_renders_the_visible_replies_customer_language_first(alice, replies):
    ticket = make_ticket(requester_name="Dana")
    ticket.requester.language = "ru"
    personal(alice, title="Answer in English", body="Hello {{ requester.name }}", language="en")
    personal(alice, title="Answer in Russian", body="Здравствуйте, {{ requester.name }}", language="ru")
    listed = rendered_for_ticket(alice, ticket)
    assert [r["title"] for r in listed] == ["Alice's own", "Answer in Russian", "For L1", "Answer in English"]
    assert listed[1] == {"id": listed[1]["id"], "title": "Answer in Russian", "text": "Здравствуйте, Dana",
                         "language": "ru", "scope": "personal"}
    assert listed[2]["scope"] == "tier" and listed[2]["text"] == f"Your ticket {ticket.reference}"


# --- services ------------------------------------------------------------------------------------------------


def test_an_agent_creates_and_changes_a_personal_reply(alice):
    reply = services.canned_reply_save(user=alice, data=services.ReplyInput(title=" Hi ", body=" Hello \n"))
    assert (reply.owner, reply.tier, reply.title, reply.body) == (alice, None, "Hi", "Hello")
    changed = services.canned_reply_save(user=alice, reply_id=reply.pk,
                                         data=services.ReplyInput(title="Hi", body="Hi {{ agent.name }}",
                                                                  language="en"))
    assert changed.pk == reply.pk and changed.updated_at > reply.created_at
    assert CannedReply.objects.get().body == "Hi {{ agent.name }}"


def test_an_agent_may_not_write_a_tier_wide_reply(alice):
    with pytest.raises(TicketError) as refused:
        services.canned_reply_save(user=alice, data=services.ReplyInput(title="T", body="B",
                                                                        tier=Tier.objects.get(code="L1")))
    assert refused.value.code == TicketError.FORBIDDEN and not CannedReply.objects.exists()


def test_an_agent_may_not_change_or_delete_a_tier_reply_nor_reach_anothers_personal(replies, alice):
    data = services.ReplyInput(title="Mine now", body="x")
    for reply_id, code in ((replies["l1"].pk, TicketError.FORBIDDEN), (replies["bob"].pk, TicketError.NOT_FOUND),
                           (replies["l2"].pk, TicketError.NOT_FOUND)):
        with pytest.raises(TicketError) as refused:
            services.canned_reply_save(user=alice, reply_id=reply_id, data=data)
        assert refused.value.code == code
        with pytest.raises(TicketError) as refused:
            services.canned_reply_delete(user=alice, reply_id=reply_id)
        assert refused.value.code == code
    assert CannedReply.objects.count() == len(replies)


def test_a_manager_moves_replies_between_personal_and_tier_wide(replies, mona):
    l2 = Tier.objects.get(code="L2")
    moved = services.canned_reply_save(user=mona, reply_id=replies["alice"].pk,
                                       data=services.ReplyInput(title="Shared", body="x", tier=l2))
    assert (moved.owner, moved.tier) == (None, l2)
    back = services.canned_reply_save(user=mona, reply_id=moved.pk, data=services.ReplyInput(title="Mine", body="x"))
    assert (back.owner, back.tier) == (mona, None)
    edited = services.canned_reply_save(user=mona, reply_id=replies["bob"].pk,
                                        data=services.ReplyInput(title="Bob's, fixed", body="y"))
    assert edited.owner == replies["bob"].owner  # a manager's edit leaves a personal reply with its owner
    services.canned_reply_delete(user=mona, reply_id=replies["l3"].pk)
    assert not CannedReply.objects.filter(pk=replies["l3"].pk).exists()


@pytest.mark.parametrize(("title", "body"), [("", "text"), ("Title", "   "), ("x" * 201, "text"),
                                             ("Title", "x" * 10_001)])
def test_empty_or_oversized_replies_are_refused(alice, title, body):
    with pytest.raises(TicketError) as refused:
        services.canned_reply_save(user=alice, data=services.ReplyInput(title=title, body=body))
    assert refused.value.code == TicketError.INVALID


def test_a_stored_reply_with_an_unknown_placeholder_shows_it_as_written(alice):
    """Written before a placeholder was withdrawn (or by hand): the rest is filled in, the unknown name stays."""
    CannedReply.objects.create(owner=alice, title="Old", body="Hi {{ requester.name }}, call {{ requester.phone }}")
    ticket = make_ticket(requester_name="Dana")
    assert rendered_for_ticket(alice, ticket)[0]["text"] == "Hi Dana, call {{ requester.phone }}"
