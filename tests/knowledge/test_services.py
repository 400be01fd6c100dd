"""Articles and their revisions, publishing a resolved ticket, recording suggestions used and deflections."""
import pytest

from knowledge import services
from knowledge.models import Article, Deflection, Revision, SuggestionUse, Use, Visibility
from tests.factories import CategoryFactory, make_ticket
from tickets import services as ticket_services
from tickets.exceptions import TicketError
from tickets.models import Event
from tickets.workflow import EventKind

pytestmark = pytest.mark.django_db


def article_input(**overrides) -> services.ArticleInput:
    values = {"title": "Outlook asks for the password again", "problem": "A password prompt every few minutes.",
              "solution": "1. Remove the saved credentials.\n2. Sign in again.", "tags": ("outlook", "password")}
    values.update(overrides)
    return services.ArticleInput(**values)


@pytest.fixture
def resolved(diagnosed, as_alice):
    """Dana's ticket, diagnosed and resolved by Alice."""
    return ticket_services.ticket_resolve(actor=as_alice, ticket_id=diagnosed.pk,
                                          summary="Rolled back the dock driver to 1.2.")


def test_a_new_article_keeps_its_first_revision(alice):
    article = services.article_save(user=alice, data=article_input())
    assert (article.version, article.author, article.updated_by) == (1, alice, alice)
    assert article.visibility == Visibility.INTERNAL
    assert sorted(article.tags.values_list("name", flat=True)) == ["outlook", "password"]
    revision = Revision.objects.get(article=article)
    assert (revision.version, revision.editor, revision.title) == (1, alice, "Outlook asks for the password again")
    assert revision.changed == list(services.TRACKED)


def test_an_edit_records_who_changed_which_fields(alice, bob):
    article = services.article_save(user=alice, data=article_input())
    category = CategoryFactory(name="E-mail", slug="e-mail")
    edited = services.article_save(user=bob, article_id=article.pk, version=1, data=article_input(
        solution="Remove the saved credentials, then sign in.", category=category, visibility=Visibility.PUBLIC))
    assert (edited.version, edited.updated_by, edited.author) == (2, bob, alice)
    latest = Revision.objects.get(article=article, version=2)
    assert latest.editor == bob
    assert latest.changed == ["solution", "category_name", "visibility"]
    assert latest.category_name == "E-mail"
    assert Revision.objects.get(article=article, version=1).solution.startswith("1. Remove")


def test_saving_without_a_change_keeps_the_version(alice):
    article = services.article_save(user=alice, data=article_input())
    again = services.article_save(user=alice, article_id=article.pk, version=1, data=article_input())
    assert again.version == 1
    assert Revision.objects.filter(article=article).count() == 1


def test_an_edit_made_on_an_old_version_is_refused_and_loses_nothing(alice, bob):
    article = services.article_save(user=alice, data=article_input())
    services.article_save(user=bob, article_id=article.pk, version=1, data=article_input(title="Bob's title"))
    with pytest.raises(TicketError) as refused:
        services.article_save(user=alice, article_id=article.pk, version=1, data=article_input(title="Alice's"))
    assert refused.value.code == TicketError.STALE_VERSION
    article.refresh_from_db()
    assert (article.title, article.version) == ("Bob's title", 2)


@pytest.mark.parametrize(("overrides", "field"), [
    ({"title": "  "}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"problem": ""}, "problem"),
    ({"solution": " \n"}, "solution"),
    ({"visibility": "everyone"}, "visibility"),
    ({"language": "xx"}, "language"),
    ({"tags": tuple(f"t{n}" for n in range(11))}, "tags"),
    ({"tags": ("x" * 51,)}, "tags"),
])
def test_bad_input_is_refused_with_the_field_named(alice, overrides, field):
    with pytest.raises(TicketError) as refused:
        services.article_save(user=alice, data=article_input(**overrides))
    assert refused.value.code == TicketError.INVALID
    assert refused.value.fields == [field]
    assert not Article.objects.exists()


def test_customers_and_strangers_cannot_write_articles(django_user_model):
    stranger = django_user_model.objects.create_user("eve", password="pw")
    with pytest.raises(TicketError) as refused:
        services.article_save(user=stranger, data=article_input())
    assert refused.value.code == TicketError.FORBIDDEN


def test_tags_are_parsed_lower_case_distinct_in_order():
    assert services.parse_tags("VPN, Windows  11; vpn,, dock ") == ("vpn", "windows 11", "dock")


def test_a_resolved_ticket_becomes_an_internal_article_prefilled_from_its_diagnosis(resolved, alice):
    article, created = services.article_from_ticket(user=alice, ticket_id=resolved.pk)
    assert created
    assert (article.title, article.source_ticket, article.visibility) == (
        resolved.subject, resolved, Visibility.INTERNAL)
    assert article.solution == "Rolled back the dock driver to 1.2."
    for part in (resolved.description, "Laptop T14", "Installed the monthly updates", "The driver update broke"):
        assert part in article.problem
    again, created_again = services.article_from_ticket(user=alice, ticket_id=resolved.pk)
    assert (again, created_again) == (article, False)
    assert Article.objects.count() == 1


def test_an_open_ticket_cannot_be_published(diagnosed, alice):
    with pytest.raises(TicketError) as refused:
        services.article_from_ticket(user=alice, ticket_id=diagnosed.pk)
    assert refused.value.code == TicketError.ILLEGAL_TRANSITION
    assert not Article.objects.exists()


def test_using_a_suggestion_is_on_the_timeline_and_leaves_the_version(resolved, diagnosed, alice, as_alice):
    other = make_ticket(subject="Dock disconnects", requester_email="erin@example.com")
    ticket_services.ticket_take(actor=as_alice, ticket_id=other.pk)
    other.refresh_from_db()
    version = other.version
    article = services.article_save(user=alice, data=article_input())

    pasted = services.suggestion_use(actor=as_alice, ticket_id=other.pk, how=Use.PASTED, article_id=article.pk)
    linked = services.suggestion_use(actor=as_alice, ticket_id=other.pk, how=Use.LINKED,
                                     solved_ticket_id=resolved.pk)

    other.refresh_from_db()
    assert other.version == version
    assert (pasted.article, pasted.how, pasted.actor) == (article, Use.PASTED, alice)
    assert (linked.solved_ticket, linked.how) == (resolved, Use.LINKED)
    events = list(Event.objects.filter(ticket=other, kind=EventKind.SUGGESTION_USED).order_by("id"))
    assert [e.data for e in events] == [
        {"article_id": article.pk, "title": article.title, "how": "pasted"},
        {"ticket_id": resolved.pk, "reference": resolved.reference, "how": "linked"},
    ]
    assert all(e.actor == alice and e.from_status == e.to_status == "diagnosing" for e in events)


@pytest.mark.parametrize("target", ["open ticket", "itself", "archived article", "nothing", "both"])
def test_a_suggestion_must_be_a_resolved_ticket_or_a_live_article(diagnosed, resolved, alice, as_alice, target):
    other = make_ticket(subject="Dock disconnects", requester_email="erin@example.com")
    archived = services.article_save(user=alice, data=article_input(archived=True))
    live = services.article_save(user=alice, data=article_input(title="Another"))
    still_open = make_ticket(subject="Still open", requester_email="finn@example.com")
    arguments = {
        "open ticket": {"solved_ticket_id": still_open.pk},
        "itself": {"solved_ticket_id": other.pk},
        "archived article": {"article_id": archived.pk},
        "nothing": {},
        "both": {"article_id": live.pk, "solved_ticket_id": resolved.pk},
    }[target]
    with pytest.raises(TicketError):
        services.suggestion_use(actor=as_alice, ticket_id=other.pk, how=Use.LINKED, **arguments)
    assert not SuggestionUse.objects.exists()
    assert not Event.objects.filter(kind=EventKind.SUGGESTION_USED).exists()


def test_an_agent_of_another_tier_cannot_use_suggestions_on_the_ticket(resolved, alice, as_bob):
    other = make_ticket(subject="Dock disconnects", requester_email="erin@example.com")
    article = services.article_save(user=alice, data=article_input())
    with pytest.raises(TicketError) as refused:
        services.suggestion_use(actor=as_bob, ticket_id=other.pk, how=Use.PASTED, article_id=article.pk)
    assert refused.value.code == TicketError.FORBIDDEN
    assert not SuggestionUse.objects.exists()


def test_a_resolved_ticket_takes_no_more_suggestions(resolved, alice, as_alice):
    article = services.article_save(user=alice, data=article_input())
    with pytest.raises(TicketError) as refused:
        services.suggestion_use(actor=as_alice, ticket_id=resolved.pk, how=Use.PASTED, article_id=article.pk)
    assert refused.value.code == TicketError.ILLEGAL_TRANSITION


def test_a_deflection_counts_only_for_a_public_live_article(alice):
    public = services.article_save(user=alice, data=article_input(visibility=Visibility.PUBLIC))
    internal = services.article_save(user=alice, data=article_input(title="Internal"))
    deflection = services.deflect(article_id=public.pk, query="  outlook   password ", language="ru")
    assert (deflection.article, deflection.query, deflection.language) == (public, "outlook password", "ru")
    with pytest.raises(TicketError):
        services.deflect(article_id=internal.pk)
    assert Deflection.objects.count() == 1
