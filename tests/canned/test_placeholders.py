"""The placeholder engine: known names filled in, unknown ones kept, and customer data never interpreted."""
import pytest

from canned import placeholders, services
from canned.placeholders import render, unknown_placeholders, values_for
from canned.selectors import rendered_for_ticket
from tests.canned.conftest import personal
from tests.factories import make_ticket
from tickets.exceptions import TicketError
from tickets.portal import tokens

pytestmark = pytest.mark.django_db


def test_every_placeholder_is_filled_in_from_the_ticket_and_the_agent(alice, settings):
    settings.SITE_URL = "https://help.example.com/"
    alice.first_name, alice.last_name = "Alice", "Archer"
    ticket = make_ticket(subject="Printer jams", requester_email="dana@example.com", requester_name="Dana Doe")
    text = ("{{ requester.name }}|{{requester.email}}|{{ ticket.reference }}|{{ ticket.subject }}|"
            "{{ ticket.tracking_url }}|{{ portal.url }}|{{ agent.name }}|{{ agent.email }}|{{ tier.name }}")
    rendered = render(text, values_for(ticket, alice))
    assert rendered.split("|") == [
        "Dana Doe", "dana@example.com", ticket.reference, "Printer jams",
        f"https://help.example.com/support/t/{tokens.tracking_token(ticket)}/", "https://help.example.com/support/",
        "Alice Archer", "alice@example.com", "First line",
    ]


def test_the_tracking_link_opens_the_ticket_on_the_portal(client, alice):
    ticket = make_ticket()
    url = values_for(ticket, alice)["ticket.tracking_url"]
    page = client.get(url.removeprefix("http://127.0.0.1:8000"))
    assert page.status_code == 200 and ticket.subject in page.content.decode()


def test_an_agent_without_a_full_name_is_named_by_username(alice):
    assert values_for(make_ticket(), alice)["agent.name"] == "alice"


def test_unknown_placeholders_are_left_as_written():
    values = {"requester.name": "Dana"}
    assert render("Hi {{ requester.name }}, {{ requester.phone }} {{ }} {{ a b }}", values) == (
        "Hi Dana, {{ requester.phone }} {{ }} {{ a b }}")


def test_spacing_inside_the_braces_does_not_matter_and_extra_braces_stay():
    values = {"ticket.reference": "HD-000007"}
    assert render("{{ticket.reference}} {{   ticket.reference\t}} {{{ ticket.reference }}}", values) == (
        "HD-000007 HD-000007 {HD-000007}")


def test_django_template_syntax_in_a_reply_is_plain_text():
    text = "{% if 1 %}yes{% endif %} {# note #} {{ ticket.reference|upper }} {% debug %}"
    assert render(text, {"ticket.reference": "HD-000001"}) == text


@pytest.mark.parametrize("hostile", [
    "{{ ticket.reference }}",
    "{{ agent.email }}{{ requester.email }}",
    "{% debug %}",
    "{% load static %}{% static 'x' %}",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "{{ requester.name }}",
    "\\1 \\g<0> $1",
])
def test_hostile_customer_data_stays_literal(alice, hostile):
    """A customer's name and subject are inserted exactly as typed: no second pass, no template, no HTML."""
    ticket = make_ticket(requester_email="mallory@example.com", requester_name=hostile, subject=f"Re {hostile}")
    reply = personal(alice, body="Dear {{ requester.name }}, about “{{ ticket.subject }}” ({{ ticket.reference }})")
    [rendered] = rendered_for_ticket(alice, ticket)
    assert rendered["id"] == reply.pk
    assert rendered["text"] == f"Dear {hostile}, about “Re {hostile}” ({ticket.reference})"


def test_a_value_naming_another_placeholder_is_not_expanded(alice):
    ticket = make_ticket(requester_name="{{ agent.email }}", subject="{{ requester.name }}")
    assert render("{{ ticket.subject }}", values_for(ticket, alice)) == "{{ requester.name }}"
    assert render("{{ requester.name }}", values_for(ticket, alice)) == "{{ agent.email }}"


def test_unknown_placeholders_are_listed_once_in_order():
    text = "{{ ticket.id }} {{ requester.name }} {{ user.password }} {{ ticket.id }} {{ settings.SECRET_KEY }}"
    assert unknown_placeholders(text) == ["ticket.id", "user.password", "settings.SECRET_KEY"]
    assert unknown_placeholders("Hello {{ requester.name }}, { not } a {placeholder}") == []


def test_a_reply_with_an_unknown_placeholder_is_refused_with_the_allowed_ones_listed(alice):
    with pytest.raises(TicketError) as refused:
        services.canned_reply_save(user=alice, data=services.ReplyInput(
            title="Bad", body="Hi {{ customer.name }} and {{ ticket.secret }}"))
    assert refused.value.code == TicketError.INVALID
    message = str(refused.value)
    assert "{{ customer.name }}, {{ ticket.secret }}" in message
    assert all(f"{{{{ {name} }}}}" in message for name in placeholders.PLACEHOLDERS)
