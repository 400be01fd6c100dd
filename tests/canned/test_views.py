"""The desk's canned-reply pages, the ticket page's picker, and its JSON list."""
import pytest
from django.urls import reverse

from canned.models import CannedReply
from tests.canned.conftest import personal, tier_wide
from tests.factories import make_ticket
from tiers.models import Tier

pytestmark = pytest.mark.django_db

FORM = {"title": "Printer driver", "body": "Hello {{ requester.name }}, reinstall the driver.", "language": ""}


def test_an_agent_writes_edits_and_deletes_a_personal_reply(agent, alice):
    response = agent.post(reverse("canned:new"), FORM)
    assert response.status_code == 302 and response["Location"] == reverse("canned:list")
    reply = CannedReply.objects.get()
    assert (reply.owner, reply.tier, reply.title) == (alice, None, "Printer driver")
    page = agent.get(reverse("canned:list")).content.decode()
    assert "Printer driver" in page and reverse("canned:edit", args=[reply.pk]) in page

    form = agent.get(reverse("canned:edit", args=[reply.pk])).content.decode()
    assert "reinstall the driver" in form and 'name="tier"' not in form  # agents have no tier choice
    response = agent.post(reverse("canned:edit", args=[reply.pk]), {**FORM, "title": "Driver", "language": "en"})
    assert response.status_code == 302
    reply.refresh_from_db()
    assert (reply.title, reply.language) == ("Driver", "en")

    assert "Driver" in agent.get(reverse("canned:delete", args=[reply.pk])).content.decode()
    assert CannedReply.objects.exists()  # the GET only asks
    assert agent.post(reverse("canned:delete", args=[reply.pk])).status_code == 302
    assert not CannedReply.objects.exists()


def test_an_unknown_placeholder_is_refused_on_the_form_with_the_allowed_ones(agent):
    response = agent.post(reverse("canned:new"), {**FORM, "body": "Hi {{ requester.phone }}"})
    assert response.status_code == 400 and not CannedReply.objects.exists()
    page = response.content.decode()
    assert "Unknown placeholders: {{ requester.phone }}" in page and "{{ ticket.tracking_url }}" in page


def test_an_empty_form_is_refused_without_saving(agent):
    assert agent.post(reverse("canned:new"), {"title": "", "body": ""}).status_code == 400
    assert not CannedReply.objects.exists()


def test_the_list_shows_own_and_tier_replies_but_not_other_tiers_or_agents(agent, alice, bob):
    personal(alice, title="Alice reply")
    personal(bob, title="Bob reply")
    l1 = tier_wide("L1", title="L1 reply")
    tier_wide("L2", title="L2 reply")
    page = agent.get(reverse("canned:list")).content.decode()
    assert "Alice reply" in page and "L1 reply" in page
    assert "Bob reply" not in page and "L2 reply" not in page
    assert reverse("canned:edit", args=[l1.pk]) not in page  # used, not managed, by agents


def test_an_agent_cannot_change_a_tier_reply_and_does_not_find_others(agent, bob):
    l1 = tier_wide("L1")
    for name in ("canned:edit", "canned:delete"):
        assert agent.get(reverse(name, args=[l1.pk])).status_code == 403
        assert agent.post(reverse(name, args=[l1.pk]), FORM).status_code == 403
        for hidden in (personal(bob), tier_wide("L2")):
            assert agent.get(reverse(name, args=[hidden.pk])).status_code == 404
            assert agent.post(reverse(name, args=[hidden.pk]), FORM).status_code == 404
    assert CannedReply.objects.filter(pk=l1.pk, title="Tier reply").exists()
    assert agent.post(reverse("canned:new"), {**FORM, "tier": Tier.objects.get(code="L1").pk}).status_code == 302
    assert CannedReply.objects.get(title="Printer driver").tier is None  # a tier sent by an agent is ignored


def test_a_manager_writes_a_tier_wide_reply_that_the_tiers_agents_get(client, mona, alice, bob):
    client.force_login(mona)
    assert 'name="tier"' in client.get(reverse("canned:new")).content.decode()
    response = client.post(reverse("canned:new"), {**FORM, "tier": Tier.objects.get(code="L1").pk})
    assert response.status_code == 302
    reply = CannedReply.objects.get()
    assert (reply.owner, reply.tier.code) == (None, "L1")
    ticket = make_ticket(requester_name="Dana")
    client.force_login(alice)
    assert [r["title"] for r in client.get(reverse("canned:ticket", args=[ticket.pk])).json()] == ["Printer driver"]
    client.force_login(bob)
    assert client.get(reverse("canned:ticket", args=[ticket.pk])).json() == []


def test_customers_and_visitors_are_kept_out(client, django_user_model, alice):
    reply = personal(alice)
    ticket = make_ticket()
    paths = [reverse("canned:list"), reverse("canned:new"), reverse("canned:edit", args=[reply.pk]),
             reverse("canned:delete", args=[reply.pk]), reverse("canned:ticket", args=[ticket.pk])]
    for path in paths:
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    client.force_login(django_user_model.objects.create_user("visitor", password="pw"))
    assert [client.get(path).status_code for path in paths] == [403] * len(paths)


def test_the_ticket_list_is_rendered_for_the_ticket_as_json_text(agent, alice):
    ticket = make_ticket(requester_name='<b>Dana</b> {{ ticket.reference }} {% debug %}')
    reply = personal(alice, title="Greeting", body="Hi {{ requester.name }} — {{ ticket.reference }}")
    response = agent.get(reverse("canned:ticket", args=[ticket.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    text = f"Hi <b>Dana</b> {{{{ ticket.reference }}}} {{% debug %}} — {ticket.reference}"
    assert response.json() == [{"id": reply.pk, "title": "Greeting", "language": "", "scope": "personal",
                                "text": text}]


def test_the_ticket_list_of_an_unknown_ticket_is_404(agent):
    assert agent.get(reverse("canned:ticket", args=[999_999])).status_code == 404


def test_the_ticket_list_costs_a_constant_number_of_queries(agent, alice, django_assert_max_num_queries):
    ticket = make_ticket()
    for n in range(3):
        personal(alice, title=f"Mine {n}")
        tier_wide("L1", title=f"Tier {n}")
    agent.get(reverse("canned:ticket", args=[ticket.pk]))  # the session and role are warm
    with django_assert_max_num_queries(6) as few:
        agent.get(reverse("canned:ticket", args=[ticket.pk]))
    for n in range(3, 30):
        personal(alice, title=f"Mine {n}")
        tier_wide("L1", title=f"Tier {n}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(agent.get(reverse("canned:ticket", args=[ticket.pk])).json()) == 60


def test_the_ticket_page_offers_the_picker_with_its_shortcut_beside_the_reply_box(agent):
    ticket = make_ticket()
    page = agent.get(reverse("desk:ticket", args=[ticket.pk])).content.decode()
    assert f'data-url="{reverse("canned:ticket", args=[ticket.pk])}"' in page
    assert 'aria-keyshortcuts="Alt+R"' in page and "<kbd>Alt</kbd>+<kbd>R</kbd>" in page
    assert page.index('id="comment-body"') < page.index('id="canned"') < page.index("</form>", page.index(
        'id="comment-body"'))
    assert "js/canned.js" in page
