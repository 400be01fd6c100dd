"""Every notification template renders in every language, and the Russian catalogue covers them."""
import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from notifications import messages
from notifications.messages import build
from notifications.models import Notification
from tests.factories import make_ticket
from tests.helpdesk.test_i18n import parse_po
from tickets import services
from tickets.models import Event
from tickets.workflow import EventKind

pytestmark = pytest.mark.django_db

RU_DIR = Path(settings.LOCALE_PATHS[0]) / "ru" / "LC_MESSAGES"
TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates" / "notifications"


@pytest.fixture
def events(ticket, alice, as_alice, as_mona, dana):
    """One event for every template."""
    services.ticket_take(actor=as_alice, ticket_id=ticket.pk)
    services.ticket_assign(actor=as_mona, ticket_id=ticket.pk, assignee=alice)
    services.comment_add(actor=as_alice, ticket_id=ticket.pk, body="Please restart it.")
    services.comment_add(actor=dana, ticket_id=ticket.pk, body="Done, still broken.")
    services.ticket_wait(actor=as_alice, ticket_id=ticket.pk, reason="Which model?")
    services.ticket_resume(actor=as_alice, ticket_id=ticket.pk)
    services.ticket_resolve(actor=as_alice, ticket_id=ticket.pk, summary="Fixed", affected_item="a",
                            steps_before="b", findings="c")
    services.ticket_close(actor=dana, ticket_id=ticket.pk)
    timeline = Event.objects.filter(ticket=ticket)
    duplicate = make_ticket(subject="Printer problem again")
    services.ticket_merge(actor=as_alice, ticket_id=duplicate.pk, into_id=make_ticket(subject="Printer problem").pk)
    sla = {"clock": "response", "due_at": timezone.now().isoformat()}
    return {
        "customer_created": timeline.get(kind=EventKind.CREATED),
        "customer_reply": timeline.filter(kind=EventKind.COMMENTED, actor_role="agent").get(),
        "customer_waiting": timeline.get(kind=EventKind.WAITING),
        "customer_resolved": timeline.get(kind=EventKind.RESOLVED),
        "customer_closed": timeline.get(kind=EventKind.CLOSED),
        "customer_merged": Event.objects.get(ticket=duplicate, kind=EventKind.MERGED),
        "agent_assigned": timeline.get(kind=EventKind.ASSIGNED),
        "agent_customer_replied": timeline.filter(kind=EventKind.COMMENTED, actor_role="customer").get(),
        "sla_warning": Event.objects.create(ticket=ticket, kind=EventKind.SLA_WARNING, actor_role="system", data=sla),
        "sla_breached": Event.objects.create(ticket=ticket, kind=EventKind.SLA_BREACHED, actor_role="system",
                                             data=sla),
    }


def test_every_template_has_its_three_files():
    for name in messages.TEMPLATES:
        for suffix in ("_subject.txt", ".txt", ".html"):
            assert (TEMPLATES_DIR / f"{name}{suffix}").is_file(), name + suffix


@pytest.mark.parametrize("name", sorted(messages.TEMPLATES))
def test_every_template_renders_in_english_and_russian(events, name):
    rendered = {}
    for language in ("en", "ru"):
        notification = Notification.objects.create(event=events[name], recipient=f"{language}@example.com",
                                                   template=name, language=language)
        message = build(notification)
        html = message.alternatives[0][0]
        assert message.subject.startswith(f"[{events[name].ticket.reference}] ")
        assert "\n" not in message.subject
        assert f'<html lang="{language}">' in html
        rendered[language] = (message.subject, message.body, html)
    for en, ru in zip(rendered["en"], rendered["ru"], strict=True):
        assert en != ru
        assert re.search(r"[А-Яа-я]", ru)
    # No English sentence of the text part is left untranslated in the Russian one.
    english_lines = {line for line in rendered["en"][1].splitlines() if re.search(r"[a-z]{3,} [a-z]{3,}", line)}
    user_text = {"Please restart it.", "Done, still broken.", "Which model?"}
    sentences = [line for line in english_lines
                 if "Printer problem" not in line and "http" not in line and line not in user_text]
    assert not [line for line in sentences if line in rendered["ru"][1]]


def test_the_russian_catalogue_is_complete_and_compiled():
    entries = [e for e in parse_po(RU_DIR / "django.po") if e["msgid"]]
    assert len(entries) > 40
    untranslated = [e["msgid"] for e in entries if not e["msgstr"] or not all(e["msgstr"].values())]
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    assert not untranslated and not fuzzy
    with (RU_DIR / "django.mo").open("rb") as handle:
        mo = gettext.GNUTranslations(handle)
    for entry in entries:
        if entry["msgid_plural"] is None:
            got = mo.pgettext(entry["msgctxt"], entry["msgid"]) if entry["msgctxt"] else mo.gettext(entry["msgid"])
            assert got == entry["msgstr"][0], entry["msgid"]
        else:
            assert [mo.ngettext(entry["msgid"], entry["msgid_plural"], n) for n in (1, 2, 5)] == [
                entry["msgstr"][0], entry["msgstr"][1], entry["msgstr"][2]]


def test_template_messages_are_all_in_the_catalogue():
    """Each {% translate %} / {% blocktranslate %} in the templates has an entry (no forgotten msgid)."""
    ids = {e["msgid"] for e in parse_po(RU_DIR / "django.po")}
    missing = []
    for path in TEMPLATES_DIR.iterdir():
        for literal in re.findall(r'{% translate "([^"]+)" %}', path.read_text()):
            if literal not in ids:
                missing.append((path.name, literal))
    assert not missing
