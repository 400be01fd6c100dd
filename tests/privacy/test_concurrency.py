"""Anonymisation against concurrent writers on PostgreSQL: separate connections, the same requester, the same
moment. Two managers anonymise once; a reply racing the anonymisation never brings the old text back."""
import pytest

from privacy import services
from privacy.models import AccessRecord, Action
from tests.concurrency import race
from tests.factories import make_ticket
from tickets import services as ticket_services
from tickets.models import Comment, Requester, Ticket
from tickets.policy import Actor

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

OLD = "Secret Quibbleton description"


def test_two_managers_anonymising_at_once_do_it_once(mona):
    from tests.factories import staff_user

    ticket = make_ticket(requester_email="quibbleton@example.org", requester_name="Q. Quibbleton", description=OLD)
    other = Actor.of_user(staff_user("max", manager=True))
    first, second = race(
        lambda: services.requester_anonymise(requester=ticket.requester, actor=Actor.of_user(mona), reason="A"),
        lambda: services.requester_anonymise(requester=ticket.requester, actor=other, reason="B"),
    )
    assert sorted([first.already, second.already]) == [False, True]
    assert AccessRecord.objects.filter(action=Action.ANONYMISED).count() == 1
    assert Requester.objects.get(pk=ticket.requester_id).email == services.placeholder_email(ticket.requester_id)


@pytest.mark.parametrize("trial", range(5))
def test_a_reply_racing_the_anonymisation_never_restores_the_old_text(mona, trial):
    ticket = make_ticket(requester_email="quibbleton@example.org", requester_name="Q. Quibbleton", description=OLD)
    customer = Actor.customer(ticket.requester)
    done, comment = race(
        lambda: services.requester_anonymise(requester=ticket.requester, actor=Actor.of_user(mona), reason="A"),
        lambda: ticket_services.comment_add(actor=customer, ticket_id=ticket.pk, body="My reply"),
    )
    assert done.already is False and isinstance(comment, Comment)
    final = Ticket.objects.get(pk=ticket.pk)
    assert "Quibbleton" not in final.search_text and final.description == services.ANONYMISED_TEXT
    body = Comment.objects.get(pk=comment.pk).body
    # Either the reply came first and was anonymised with the rest, or it came after, on the anonymised ticket.
    if body == services.ANONYMISED_TEXT:
        assert final.search_text == services.ANONYMISED_TEXT
    else:
        assert body == "My reply" and final.search_text == f"{services.ANONYMISED_TEXT}\nMy reply"
