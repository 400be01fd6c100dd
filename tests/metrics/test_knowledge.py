"""The knowledge metrics, checked against the same numbers computed independently in plain Python."""
import random
import re
import statistics
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from knowledge import services as knowledge
from knowledge.models import Deflection, SuggestionUse, Use, Visibility
from metrics.knowledge import knowledge_summary
from metrics.rollups import midnight
from tests.factories import CategoryFactory, make_ticket
from tickets import services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db
# Whole local days, so that the dashboard's custom dates cover exactly [START, END).
START = midnight(timezone.localdate() - timedelta(days=20))
END = midnight(timezone.localdate() - timedelta(days=10))


@pytest.fixture
def history(alice, as_alice):
    """40 tickets over 20 days in two categories; some resolved, some with suggestions used before."""
    rng = random.Random(7)
    network, hardware = CategoryFactory(name="Network", slug="network"), CategoryFactory(name="Hardware",
                                                                                          slug="hardware")
    articles = [knowledge.article_save(user=alice, data=knowledge.ArticleInput(
        title=f"Article {n}", problem="p", solution="s", category=network if n % 2 else hardware,
        visibility=Visibility.PUBLIC)) for n in range(3)]
    done = []
    for n in range(40):
        created = START - timedelta(days=5) + timedelta(hours=rng.randrange(0, 20 * 24))
        with time_machine.travel(created, tick=False):
            ticket = make_ticket(subject=f"Problem number {n}", requester_email=f"r{n}@example.com",
                                 description=f"Something unusual {n}", category=rng.choice([network, hardware]))
            services.ticket_take(actor=as_alice, ticket_id=ticket.pk)
        uses = rng.choice([0, 0, 1, 2])
        for u in range(uses):
            with time_machine.travel(created + timedelta(hours=1 + u), tick=False):
                if done and u == 1:
                    knowledge.suggestion_use(actor=as_alice, ticket_id=ticket.pk, how=Use.LINKED,
                                             solved_ticket_id=done[0].pk)
                else:
                    knowledge.suggestion_use(actor=as_alice, ticket_id=ticket.pk, how=Use.PASTED,
                                             article_id=rng.choice(articles).pk)
        if rng.random() < 0.7:
            with time_machine.travel(created + timedelta(hours=rng.randrange(3, 120)), tick=False):
                services.ticket_resolve(actor=as_alice, ticket_id=ticket.pk, affected_item="x", steps_before="y",
                                        findings="z", summary="fixed")
            done.append(ticket)
    for n in range(12):
        with time_machine.travel(START - timedelta(days=3) + timedelta(days=n), tick=False):
            knowledge.deflect(article_id=articles[n % 3].pk, query="q")
    return {"network": network}


def expected(*, category=None) -> dict:
    tickets = [t for t in Ticket.objects.all() if category is None or t.category_id == category.pk]
    ids = {t.pk for t in tickets}
    uses = [u for u in SuggestionUse.objects.all() if u.ticket_id in ids and START <= u.at < END]
    resolved = [t for t in tickets if t.resolved_at and START <= t.resolved_at < END]
    used_on = {u.ticket_id for u in SuggestionUse.objects.all()}
    pairs = {(u.ticket_id, u.article_id) for u in SuggestionUse.objects.all()
             if u.article_id and u.ticket_id in {t.pk for t in resolved}}

    def ttr(group):
        seconds = [(t.resolved_at - t.created_at).total_seconds() for t in group]
        return {"count": len(seconds), "median": statistics.median(seconds) if seconds else None,
                "mean": statistics.fmean(seconds) if seconds else None}

    deflections = [d for d in Deflection.objects.select_related("article") if START <= d.at < END
                   and (category is None or d.article.category_id == category.pk)]
    return {
        "suggestions_used": len(uses),
        "tickets_with_suggestions": len({u.ticket_id for u in uses}),
        "resolved": len(resolved),
        "articles_per_resolution": len(pairs) / len(resolved) if resolved else None,
        "deflected_contacts": len(deflections),
        "time_to_resolve_with_suggestion": ttr([t for t in resolved if t.pk in used_on]),
        "time_to_resolve_without_suggestion": ttr([t for t in resolved if t.pk not in used_on]),
    }


def close_to(actual: dict, wanted: dict) -> None:
    for key, value in wanted.items():
        if isinstance(value, dict):
            close_to(actual[key], value)
        elif isinstance(value, float):
            assert actual[key] == pytest.approx(value), key
        else:
            assert actual[key] == value, key


def test_the_knowledge_metrics_match_an_independent_count(history):
    numbers = knowledge_summary(start=START, end=END)
    wanted = expected()
    assert wanted["suggestions_used"] > 0 and wanted["time_to_resolve_with_suggestion"]["count"] > 0
    assert wanted["time_to_resolve_without_suggestion"]["count"] > 0 and wanted["deflected_contacts"] > 0
    close_to(numbers, wanted)
    assert sum(a["used"] for a in numbers["top_articles"]) == SuggestionUse.objects.filter(
        at__gte=START, at__lt=END, article__isnull=False).count()


def test_the_knowledge_metrics_for_one_category(history):
    close_to(knowledge_summary(start=START, end=END, category=history["network"]),
             expected(category=history["network"]))


def test_deflections_have_no_tier_or_agent(history, alice, tiers):
    assert knowledge_summary(start=START, end=END, agent=alice)["deflected_contacts"] is None
    assert knowledge_summary(start=START, end=END, tier=tiers["L1"])["deflected_contacts"] is None


def test_an_empty_period_has_no_rates():
    numbers = knowledge_summary(start=START, end=END)
    assert numbers["articles_per_resolution"] is None
    assert numbers["time_to_resolve_with_suggestion"] == {"count": 0, "median": None, "mean": None}


def test_the_api_and_the_dashboard_show_them(client, mona, history):
    client.force_login(mona)
    response = client.get(reverse("api:metrics-knowledge"), {"from": START.isoformat(), "to": END.isoformat()})
    assert response.status_code == 200
    close_to(response.json(), expected())
    page = client.get(reverse("dashboard:index"), {"period": "custom", "from": START.date().isoformat(),
                                                   "to": (END.date() - timedelta(days=1)).isoformat()})
    html = page.content.decode()
    assert 'id="knowledge"' in html and 'data-metric="ttr_with_suggestion"' in html and "Article" in html


def test_agents_cannot_read_the_knowledge_metrics_of_the_dashboard(client, alice):
    client.force_login(alice)
    assert client.get(reverse("dashboard:index")).status_code == 403


def test_each_knowledge_number_opens_what_it_counts(client, mona, history):
    client.force_login(mona)
    period = {"period": "custom", "from": START.date().isoformat(), "to": (END.date() - timedelta(days=1)).isoformat()}
    wanted = expected()
    used = set(SuggestionUse.objects.filter(at__gte=START, at__lt=END).values_list("ticket_id", flat=True))
    with_suggestion = [t for t in Ticket.objects.all() if t.resolved_at and START <= t.resolved_at < END
                       and t.suggestion_uses.exists()]

    def listed(metric):
        html = client.get("/dashboard/tickets/", {**period, "metric": metric}).content.decode()
        return {int(pk) for pk in re.findall(r'href="/desk/t/(\d+)/"', html)}

    assert listed("suggestions_used") == used
    assert listed("ttr_with_suggestion") == {t.pk for t in with_suggestion}
    assert len(listed("ttr_without_suggestion")) == wanted["time_to_resolve_without_suggestion"]["count"]
    assert len(listed("articles_per_resolution")) == wanted["resolved"]
    deflections = client.get("/admin/knowledge/deflection/", {"at__gte": START.isoformat(), "at__lt": END.isoformat()})
    assert deflections.status_code == 200
    assert deflections.content.decode().count('class="field-query"') == wanted["deflected_contacts"]


def test_with_rollups_the_others_are_every_resolution_less_the_suggested(history):
    """Read from the daily rollups (the way a year is read), "without a suggestion" is all the period's
    resolutions less the few that used one — still exactly the independent count."""
    from metrics import rollups
    from metrics.selectors import Plan

    with time_machine.travel(END + timedelta(days=11), tick=False):
        rollups.rebuild()
        assert Plan(START, END).uses_rollups
        close_to(knowledge_summary(start=START, end=END), expected())
        close_to(knowledge_summary(start=START, end=END, category=history["network"]),
                 expected(category=history["network"]))
