"""Who reaches what: every URL of the project × every kind of caller, with the exact answer expected.

The callers: an anonymous visitor; customer A and customer B, each holding the
tracking links of their own tickets and signed in to "my tickets" through a
link of their own; agents of L1, L2 and L3; a manager; and an integration
calling with an API token (its user is an L1 agent).

`MATRIX` is keyed by URL name. `test_every_url_has_a_row` walks the URL
resolver, so a page or endpoint added without a row fails the suite until
someone decides who may use it. Every request runs in a savepoint that is
rolled back, so one caller's write never changes what the next one meets; and
whatever the expected status, a caller without a staff account must never see
the other customer's ticket or anybody's internal note, nor change the other
customer's tickets.

Further tests look at ids: a ticket's or attachment's id must give no answer
that differs from an id that does not exist to anyone who may not list them,
and an attachment id of one ticket is not found through another ticket.
"""
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from rest_framework.authtoken.models import Token

from canned.models import CannedReply
from inbound.models import InboundMessage, MailboxState
from knowledge import services as knowledge_services
from knowledge.models import Article, Deflection, SuggestionUse, Tag, Use, Visibility
from notifications.models import Notification
from privacy import models as privacy
from privacy.models import AccessRecord
from tests.factories import CategoryFactory, make_ticket, staff_user
from tickets import services
from tickets.models import Attachment, Comment, Event, PortalLink, Requester, Ticket
from tickets.policy import Actor
from tickets.portal import tokens
from tiers.models import BusinessCalendar, SLAPolicy, StaffProfile, Tier
from tiers.roles import AGENTS_GROUP
from webhooks.models import Delivery, Webhook

pytestmark = [
    pytest.mark.django_db,
    # Anymail notes on every SendGrid request that it no longer supports the service; not this suite's concern.
    pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning"),
]

# --- the callers ---------------------------------------------------------------------------------------------

ANON, CUST_A, CUST_B = "anonymous", "customer_a", "customer_b"
L1, L2, L3, MANAGER, INTEGRATION = "l1", "l2", "l3", "manager", "integration"
ROLES = (ANON, CUST_A, CUST_B, L1, L2, L3, MANAGER, INTEGRATION)
STAFF_ROLES = (L1, L2, L3, MANAGER)
# Callers with no account at all: what they see and change is checked on every request.
ACCOUNTLESS = (ANON, CUST_A, CUST_B)

# Words that appear only in one customer's tickets, and in the internal notes.
A_SUBJECT, A_REPLY, A_NOTE, A_FILE = "Quokka printer fault", "Quokka public answer", "Quokka internal", "quokka.txt"
B_SUBJECT, B_REPLY, B_NOTE, B_FILE = "Narwhal laptop fault", "Narwhal public answer", "Narwhal internal", "narwhal.txt"
MARKERS = {"a": (A_SUBJECT, A_REPLY, A_NOTE, A_FILE), "b": (B_SUBJECT, B_REPLY, B_NOTE, B_FILE)}
INTERNAL_NOTES = (A_NOTE, B_NOTE)


# --- expected answers ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """An expected answer: the status code and, for a redirect, how the Location starts."""

    status: int
    location: str | None = None

    def problem(self, response) -> str | None:
        if response.status_code != self.status:
            where = f" → {response.get('Location')}" if response.has_header("Location") else ""
            return f"got {response.status_code}{where}, expected {self}"
        if self.location is not None and not response["Location"].startswith(self.location):
            return f"redirected to {response['Location']}, expected {self}"
        return None

    def __str__(self):
        return f"{self.status}{' → ' + self.location if self.location else ''}"


def redirect(prefix: str) -> Outcome:
    return Outcome(302, prefix)


OK, CREATED, NO_CONTENT = Outcome(200), Outcome(201), Outcome(204)
BAD_REQUEST, UNAUTHORIZED, FORBIDDEN, NOT_FOUND = Outcome(400), Outcome(401), Outcome(403), Outcome(404)
NOT_ALLOWED = Outcome(405)
LOGIN = redirect("/accounts/login/?next=")
ADMIN_LOGIN = redirect("/admin/login/?next=")
TO_TICKET = redirect("/desk/t/")
TO_TRACKING = redirect("/support/t/")


def everyone(outcome: Outcome) -> dict:
    return dict.fromkeys(ROLES, outcome)


def desk(l1: Outcome, l2: Outcome | None = None, l3: Outcome | None = None, manager: Outcome | None = None) -> dict:
    """A page of the agent workspace: staff sessions only (an API token opens no page: it is sent to sign in)."""
    return {**everyone(LOGIN), L1: l1, L2: l2 or l1, L3: l3 or l2 or l1, MANAGER: manager or l1}


def desk_l1_ticket(done: Outcome) -> dict:
    """A change of an L1 ticket from the desk: its tier's agents and managers; other tiers get 403."""
    return desk(done, FORBIDDEN, FORBIDDEN, done)


def manager_page(outcome: Outcome = OK) -> dict:
    return {**everyone(LOGIN), L1: FORBIDDEN, L2: FORBIDDEN, L3: FORBIDDEN, MANAGER: outcome}


def api(staff: Outcome) -> dict:
    """An API call any staff member may make (the token's user is an L1 agent)."""
    return {**dict.fromkeys(ACCOUNTLESS, UNAUTHORIZED), **dict.fromkeys((*STAFF_ROLES, INTEGRATION), staff)}


def api_l1_ticket(done: Outcome) -> dict:
    """A change of an L1 ticket through the API: L1 (and the L1 integration) and managers; other tiers 403."""
    return {**api(done), L2: FORBIDDEN, L3: FORBIDDEN}


def api_manager(outcome: Outcome) -> dict:
    return {**api(FORBIDDEN), MANAGER: outcome}


def own_link(outcome: Outcome, others: Outcome = NOT_FOUND) -> dict:
    """A page opened by a secret link: each customer with their own link; anyone else has only a guess."""
    return {**everyone(others), CUST_A: outcome, CUST_B: outcome}


def admin(outcome: Outcome) -> dict:
    """The admin: only staff accounts (here the manager) get in; everyone else is sent to its sign-in."""
    return {**everyone(ADMIN_LOGIN), MANAGER: outcome}


# --- the world every row runs against ------------------------------------------------------------------------


class World:
    """The cast, their clients, and the tickets of customer A (Dana) and customer B (Erin), built on demand."""

    def __init__(self):
        self.users = {
            L1: staff_user("alice", tier="L1"),
            L2: staff_user("bob", tier="L2"),
            L3: staff_user("charlie", tier="L3"),
            MANAGER: staff_user("mona", manager=True),
        }
        self.integration_user = staff_user("monitor", tier="L1")
        self.api_token = Token.objects.create(user=self.integration_user).key
        self.alice = Actor.of_user(self.users[L1])
        self.a = self._ticket("a", A_SUBJECT, A_REPLY, A_NOTE)
        self.b = self._ticket("b", B_SUBJECT, B_REPLY, B_NOTE)
        self.a_file = self._attach(self.a, A_FILE)
        self.b_file = self._attach(self.b, B_FILE)
        self.missing_id = Ticket.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000
        self.requesters = {CUST_A: self.a.requester, CUST_B: self.b.requester}
        self._admin_objects = {}
        self.clients = {role: self._client(role, index) for index, role in enumerate(ROLES, start=1)}

    # The tickets -----------------------------------------------------------------------------------------

    @staticmethod
    def _email(customer: str) -> str:
        return {"a": "dana@example.com", "b": "erin@example.com"}[customer]

    def _ticket(self, customer: str, subject: str, reply: str = "", note: str = "") -> Ticket:
        ticket = make_ticket(subject=subject, requester_email=self._email(customer),
                             requester_name={"a": "Dana", "b": "Erin"}[customer])
        if note:
            services.comment_add(actor=self.alice, ticket_id=ticket.pk, body=note, internal=True)
        if reply:
            services.comment_add(actor=self.alice, ticket_id=ticket.pk, body=reply)
        return Ticket.objects.get(pk=ticket.pk)

    def _attach(self, ticket: Ticket, name: str) -> Attachment:
        upload = SimpleUploadedFile(name, f"log of {name}\n".encode(), content_type="text/plain")
        return services.attachment_add(actor=Actor.customer(ticket.requester), ticket_id=ticket.pk, upload=upload)

    def _diagnosed(self, customer: str, subject: str) -> Ticket:
        ticket = self._ticket(customer, subject)
        services.ticket_take(actor=self.alice, ticket_id=ticket.pk)
        return services.ticket_diagnose(actor=self.alice, ticket_id=ticket.pk, affected_item="Printer P3",
                                        steps_before="Changed the toner", findings="The fuser is worn")

    def _resolved(self, customer: str, subject: str) -> Ticket:
        ticket = self._diagnosed(customer, subject)
        return services.ticket_resolve(actor=self.alice, ticket_id=ticket.pk, summary="Replaced the fuser unit")

    @cached_property
    def a_work(self) -> Ticket:
        """Dana's ticket being diagnosed by Alice (L1), diagnosis complete."""
        return self._diagnosed("a", f"{A_SUBJECT} in diagnosis")

    @cached_property
    def a_wait(self) -> Ticket:
        ticket = self._diagnosed("a", f"{A_SUBJECT} waiting")
        return services.ticket_wait(actor=self.alice, ticket_id=ticket.pk, reason="Which tray?")

    @cached_property
    def a_done(self) -> Ticket:
        return self._resolved("a", f"{A_SUBJECT} resolved")

    @cached_property
    def b_done(self) -> Ticket:
        return self._resolved("b", f"{B_SUBJECT} resolved")

    @cached_property
    def a_l2(self) -> Ticket:
        """Dana's ticket escalated to L2."""
        ticket = self._ticket("a", f"{A_SUBJECT} at L2")
        return services.ticket_escalate(actor=self.alice, ticket_id=ticket.pk, reason="Needs L2")

    @cached_property
    def a_repeat(self) -> Ticket:
        ticket = make_ticket(subject=f"{A_SUBJECT} again", requester_email=self._email("a"), repeat_of=self.a)
        return Ticket.objects.get(pk=ticket.pk)

    def ticket(self, role: str, which: str) -> Ticket:
        """The ticket `which` names ("a", "a_done"); customer B reaches for their own counterpart ("b_done")."""
        return getattr(self, "b" + which[1:] if role == CUST_B else which)

    def link(self, role: str, which: str = "a") -> str:
        """The tracking link token a caller holds for `which`: customers their own; anyone else a guess."""
        if role in (CUST_A, CUST_B):
            return tokens.tracking_token(self.ticket(role, which))
        return secrets.token_urlsafe(32)

    # Knowledge, webhooks and other objects -------------------------------------------------------------------

    @cached_property
    def public_article(self) -> Article:
        return knowledge_services.article_save(user=self.users[MANAGER], data=knowledge_services.ArticleInput(
            title="Paper jams in tray 2", problem="The printer jams.", solution="Open tray 2 and clear it.",
            tags=("printer",), visibility=Visibility.PUBLIC))

    @cached_property
    def internal_article(self) -> Article:
        return knowledge_services.article_save(user=self.users[MANAGER], data=knowledge_services.ArticleInput(
            title="Print server restart", problem="Queue stuck.", solution="Restart the spooler on ps01.",
            visibility=Visibility.INTERNAL))

    @cached_property
    def webhook(self) -> Webhook:
        return Webhook.objects.create(url="https://hooks.example.com/tierdesk", created_by=self.users[MANAGER])

    @cached_property
    def inbound_message(self) -> InboundMessage:
        return InboundMessage.objects.create(key="sha256:matrix", source=InboundMessage.Source.COMMAND,
                                             sender="dana@example.com", subject="Printer",
                                             outcome=InboundMessage.Outcome.QUARANTINED,
                                             raw=b"Subject: Printer\r\n\r\nHello\r\n")

    def admin_object(self, model: str, find: Callable[["World"], int]) -> int:
        """The id of one object of an admin model, made once per world."""
        if model not in self._admin_objects:
            self._admin_objects[model] = find(self)
        return self._admin_objects[model]

    def first_event(self) -> Event:
        return Event.objects.filter(ticket=self.a).order_by("id").first()

    # The callers' clients ----------------------------------------------------------------------------------

    def _client(self, role: str, index: int) -> Client:
        headers = {"authorization": f"Token {self.api_token}"} if role == INTEGRATION else None
        # Each caller comes from an address of its own, as people do: rate limits count per address.
        client = Client(REMOTE_ADDR=f"10.20.0.{index}", headers=headers)
        if role in self.users:
            client.force_login(self.users[role])
        if role in self.requesters:
            signed_in = client.get(reverse("portal:mine-signin", args=[self.new_signin_link(role)]))
            assert signed_in.status_code == 302, signed_in
        return client

    def new_signin_link(self, role: str) -> str:
        token = secrets.token_urlsafe(32)
        PortalLink.objects.create(requester=self.requesters[role], token_hash=tokens.token_hash(token),
                                  expires_at=timezone.now() + timedelta(minutes=30))
        return token

    def footprint(self, customer: str):
        """Everything a change to one customer's tickets would move."""
        tickets = Ticket.objects.filter(requester__email=self._email(customer))
        return (
            sorted(tickets.values_list("pk", "version", "status", "tier_id", "assignee_id")),
            Event.objects.filter(ticket__in=tickets).count(),
            Comment.objects.filter(ticket__in=tickets).count(),
            Attachment.objects.filter(ticket__in=tickets).count(),
        )


@pytest.fixture
def world(tiers) -> World:
    return World()


# --- rows ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One request and the answer each caller must get. `path` and `data` take the world and the caller."""

    method: str
    path: Callable[[World, str], str]
    expect: dict
    data: Callable[[World, str], dict] | None = None
    json: bool = False
    headers: dict = field(default_factory=dict)
    check: Callable[[World, str, object], str | None] | None = None  # a further check of a 2xx answer
    label: str = ""


def GET(path, expect, **kwargs) -> Case:
    return Case("GET", path, expect, **kwargs)


def POST(path, expect, data=None, **kwargs) -> Case:
    return Case("POST", path, expect, data=data, **kwargs)


def url(name: str, *args) -> Callable[[World, str], str]:
    """A path whose arguments are computed from the world (callables) or given as they are."""
    return lambda w, role: reverse(name, args=[arg(w, role) if callable(arg) else arg for arg in args])


def pk(which: str) -> Callable[[World, str], int]:
    return lambda w, role: getattr(w, which).pk


def missing(w, role) -> int:
    return w.missing_id


def body(response) -> bytes:
    if getattr(response, "streaming", False):
        cached = getattr(response, "_matrix_body", None)
        if cached is None:
            cached = response._matrix_body = b"".join(response.streaming_content)
        return cached
    return response.content


def is_download(w, role, response) -> str | None:
    """Served as a file to save: never rendered by the browser."""
    expected = {"Content-Type": "application/octet-stream", "X-Content-Type-Options": "nosniff"}
    for header, value in expected.items():
        if response.get(header) != value:
            return f"{header} is {response.get(header)!r}"
    if not response.get("Content-Disposition", "").startswith("attachment;"):
        return f"Content-Disposition is {response.get('Content-Disposition')!r}"
    if "sandbox" not in response.get("Content-Security-Policy", ""):
        return "no sandbox CSP"
    return None


def shows(*words) -> Callable:
    def check(w, role, response):
        text = body(response).decode(errors="replace")
        missing_words = [word for word in words if word not in text]
        return f"does not show {missing_words}" if missing_words else None

    return check


def shows_own_ticket(w, role, response):
    return shows(A_SUBJECT if role == CUST_A else B_SUBJECT)(w, role, response)


def private_page(w, role, response):
    """Token pages never leak the URL as a Referer to another site, and are never cached."""
    if response.get("Referrer-Policy") not in ("same-origin", "no-referrer"):
        return f"Referrer-Policy is {response.get('Referrer-Policy')!r}"
    if "no-store" not in response.get("Cache-Control", ""):
        return f"Cache-Control is {response.get('Cache-Control')!r}"
    return shows_own_ticket(w, role, response)


def upload(name="screenshot.png", content=b"\x89PNG\r\n\x1a\n" + b"\0" * 32):
    return SimpleUploadedFile(name, content, content_type="image/png")


def searching(name: str, text: str) -> Callable[[World, str], str]:
    """A search of the public knowledge base, with one public and one internal article to find."""

    def path(w, role):
        w.public_article, w.internal_article  # noqa: B018 — made before the search
        return f"{reverse(name)}?q={text.replace(' ', '+')}"

    return path


def hides_internal_article(w, role, response):
    text = body(response).decode(errors="replace")
    return "shows the internal article" if "Print server restart" in text or "ps01" in text else None


def per_role_email(w, role) -> str:
    return {CUST_A: "dana@example.com", CUST_B: "erin@example.com"}.get(role, f"{role}@example.com")


def bulk_result_for_l1_ticket(w, role, response) -> str | None:
    """A bulk change of an L1 ticket is done for L1 (and the L1 integration) and managers, refused for the rest."""
    result = json.loads(body(response))[0]
    allowed = role in (L1, MANAGER, INTEGRATION)
    if result["ok"] != allowed or (not allowed and result["error"]["code"] != "forbidden"):
        return f"bulk result {result}"
    return None


def linked(name: str) -> Callable[[World, str], str]:
    """The path `name` for A's ticket and A's ticket in diagnosis, linked first (once) so there is a link to
    remove."""

    def path(w, role):
        from tickets.merge import link_between

        if link_between(w.a.pk, w.a_work.pk) is None:
            services.ticket_link(actor=w.alice, ticket_id=w.a.pk, other_id=w.a_work.pk)
        return reverse(name, args=[w.a.pk, w.a_work.pk])

    return path


def api_path(name: str, *args) -> Callable[[World, str], str]:
    return url(f"api:{name}", *args)


CALL = {"requester_email": "caller@example.com", "requester_name": "Caller", "subject": "Cannot print",
        "description": "Nothing comes out.", "priority": "P3", "call_started_at": "", "call_minutes": "5"}
ARTICLE_FORM = {"title": "Toner smudges", "problem": "Pages smudged.", "solution": "Replace the toner.",
                "visibility": "internal", "language": "", "tags": "printer"}
DIAGNOSIS = {"affected_item": "Printer P3", "steps_before": "Changed the toner", "findings": "The fuser is worn"}
CANNED_FORM = {"title": "Greeting", "body": "Hello {{ requester.name }}", "language": ""}


def canned(which: str) -> Callable[[World, str], int]:
    """The id of a canned reply made once per world: Alice's personal one ("alice") or L1's shared one ("l1")."""

    def find(w, role):
        made = w.__dict__.setdefault("_canned", {})
        if which not in made:
            owner = {"owner": w.users[L1]} if which == "alice" else {"tier": Tier.objects.get(code="L1")}
            made[which] = CannedReply.objects.create(title=f"Canned {which}", body="Hi {{ requester.name }}",
                                                     **owner).pk
        return made[which]

    return find


MATRIX: dict[str, list[Case]] = {
    # --- the front door and the agent workspace --------------------------------------------------------------
    "home": [GET(url("home"), {**desk(redirect("/desk/"))})],
    "login": [
        GET(url("login"), {**everyone(OK), **dict.fromkeys(STAFF_ROLES, redirect("/desk/"))}),
        POST(url("login"), {**everyone(OK), **dict.fromkeys(STAFF_ROLES, redirect("/desk/"))},
             data=lambda w, role: {"username": "nobody", "password": "wrong"}),
    ],
    "logout": [
        GET(url("logout"), everyone(NOT_ALLOWED)),
        POST(url("logout"), everyone(redirect("/accounts/login/"))),
    ],
    "set_language": [POST(url("set_language"), everyone(redirect("/support/")),
                          data=lambda w, role: {"language": "en", "next": "/support/"})],
    "desk:queue": [GET(url("desk:queue"), desk(OK))],
    "desk:new": [
        GET(url("desk:new"), desk(OK)),
        POST(url("desk:new"), desk(TO_TICKET), data=lambda w, role: CALL),
    ],
    "desk:requesters": [GET(lambda w, role: reverse("desk:requesters") + "?q=dana", desk(OK),
                            check=shows("dana@example.com"))],
    # Merge, links and tags (issue #12): changes of an L1 ticket, the autocomplete for all staff.
    "desk:tags": [GET(lambda w, role: reverse("desk:tags") + "?q=pr", desk(OK))],
    "desk:merge": [
        POST(url("desk:merge", pk("a_work")), desk_l1_ticket(TO_TICKET), data=lambda w, role: {"into": w.a.reference}),
        POST(url("desk:merge", missing), desk(NOT_FOUND), data=lambda w, role: {"into": "HD-1"}, label="unknown id"),
    ],
    "desk:link": [POST(url("desk:link", pk("a")), desk_l1_ticket(TO_TICKET),
                       data=lambda w, role: {"ticket": w.b.reference})],
    "desk:unlink": [POST(linked("desk:unlink"), desk_l1_ticket(TO_TICKET))],
    "desk:tag": [POST(url("desk:tag", pk("a")), desk_l1_ticket(TO_TICKET), data=lambda w, role: {"add": "printer"})],
    "desk:language": [
        POST(url("desk:language"), everyone(redirect("/desk/")), data=lambda w, role: {"language": "en"}),
        GET(url("desk:language"), everyone(NOT_ALLOWED)),
    ],
    "desk:away": [
        POST(url("desk:away"), desk(redirect("/desk/")), data=lambda w, role: {"away": "1"}),
        GET(url("desk:away"), desk(NOT_ALLOWED), label="GET"),
    ],
    "desk:bulk": [
        POST(url("desk:bulk"), desk(redirect("/desk/")),
             data=lambda w, role: {"ids": [w.a.pk], "action": "priority", "priority": "P2"}),
        GET(url("desk:bulk"), desk(NOT_ALLOWED), label="GET"),
    ],
    "presence:heartbeat": [
        POST(url("presence:heartbeat", pk("a")), desk(OK), json=True, data=lambda w, role: {"typing": True}),
        POST(url("presence:heartbeat", missing), desk(NOT_FOUND), json=True, label="unknown id"),
        GET(url("presence:heartbeat", pk("a")), desk(NOT_ALLOWED), label="GET"),
    ],
    "desk:ticket": [
        GET(url("desk:ticket", pk("a")), desk(OK), check=shows(A_SUBJECT, A_NOTE)),
        GET(url("desk:ticket", missing), desk(NOT_FOUND), label="unknown id"),
    ],
    "desk:attachment": [
        GET(url("desk:attachment", pk("a"), pk("a_file")), desk(OK), check=is_download),
        GET(url("desk:attachment", pk("a"), pk("b_file")), desk(NOT_FOUND), label="B's file through A"),
        GET(url("desk:attachment", missing, pk("a_file")), desk(NOT_FOUND), label="unknown ticket"),
    ],
    "desk:action": [
        POST(url("desk:action", pk("a"), "take"), desk_l1_ticket(TO_TICKET)),
        POST(url("desk:action", pk("a"), "comment"), desk_l1_ticket(TO_TICKET),
             data=lambda w, role: {"body": "Checked the spooler", "internal": "on"}),
        POST(url("desk:action", pk("a"), "attach"), desk_l1_ticket(TO_TICKET),
             data=lambda w, role: {"file": upload()}),
        POST(url("desk:action", pk("a_l2"), "de_escalate"), desk(FORBIDDEN, TO_TICKET, FORBIDDEN, TO_TICKET),
             data=lambda w, role: {"reason": "L1 can do this"}),
        POST(url("desk:action", pk("a"), "delete"), desk(NOT_FOUND), label="unknown action"),
        POST(url("desk:action", missing, "take"), desk(NOT_FOUND), label="unknown id"),
        GET(url("desk:action", pk("a"), "take"), desk(NOT_ALLOWED), label="GET"),
    ],
    # --- the knowledge base in the desk ---------------------------------------------------------------------
    "knowledge:list": [GET(url("knowledge:list"), desk(OK))],
    "knowledge:new": [
        GET(url("knowledge:new"), desk(OK)),
        POST(url("knowledge:new"), desk(redirect("/desk/kb/")), data=lambda w, role: ARTICLE_FORM),
    ],
    "knowledge:article": [
        GET(url("knowledge:article", pk("internal_article")), desk(OK)),
        GET(url("knowledge:article", missing), desk(NOT_FOUND), label="unknown id"),
    ],
    "knowledge:edit": [
        GET(url("knowledge:edit", pk("internal_article")), desk(OK)),
        POST(url("knowledge:edit", pk("internal_article")), desk(redirect("/desk/kb/")),
             data=lambda w, role: {**ARTICLE_FORM, "version": w.internal_article.version}),
    ],
    "knowledge:history": [GET(url("knowledge:history", pk("internal_article")), desk(OK))],
    "knowledge:suggestions": [
        GET(url("knowledge:suggestions", pk("a")), desk(OK)),
        GET(url("knowledge:suggestions", missing), desk(NOT_FOUND), label="unknown id"),
    ],
    "knowledge:use": [
        POST(url("knowledge:use", pk("a")), desk_l1_ticket(NO_CONTENT), headers={"X-Requested-With": "fetch"},
             data=lambda w, role: {"how": Use.LINKED, "article": w.public_article.pk}),
    ],
    "knowledge:publish": [POST(url("knowledge:publish", pk("a_done")), desk(redirect("/desk/kb/")))],
    # --- canned replies: personal ones are their owner's (and managers'), tier-wide ones the managers' ----------
    "canned:list": [GET(url("canned:list"), desk(OK))],
    "canned:new": [
        GET(url("canned:new"), desk(OK)),
        POST(url("canned:new"), desk(redirect("/desk/canned/")), data=lambda w, role: CANNED_FORM),
    ],
    "canned:edit": [
        GET(url("canned:edit", canned("alice")), desk(OK, NOT_FOUND)),
        POST(url("canned:edit", canned("alice")), desk(redirect("/desk/canned/"), NOT_FOUND),
             data=lambda w, role: CANNED_FORM),
        GET(url("canned:edit", canned("l1")), desk(FORBIDDEN, NOT_FOUND, manager=OK), label="L1's reply"),
        GET(url("canned:edit", missing), desk(NOT_FOUND), label="unknown id"),
    ],
    "canned:delete": [
        GET(url("canned:delete", canned("alice")), desk(OK, NOT_FOUND)),
        POST(url("canned:delete", canned("alice")), desk(redirect("/desk/canned/"), NOT_FOUND)),
        POST(url("canned:delete", canned("l1")), desk(FORBIDDEN, NOT_FOUND, manager=redirect("/desk/canned/")),
             label="L1's reply"),
    ],
    "canned:ticket": [
        GET(url("canned:ticket", pk("a")), desk(OK)),
        GET(url("canned:ticket", missing), desk(NOT_FOUND), label="unknown id"),
    ],
    # --- a requester's personal data (the desk's requester page; export and anonymisation for managers) ----
    "privacy:requester": [
        GET(url("privacy:requester", lambda w, role: w.a.requester_id), desk(OK)),
        GET(url("privacy:requester", missing), desk(NOT_FOUND), label="unknown id"),
    ],
    "privacy:export": [
        POST(url("privacy:export", lambda w, role: w.a.requester_id), desk(FORBIDDEN, manager=OK), check=is_download),
        GET(url("privacy:export", lambda w, role: w.a.requester_id), desk(NOT_ALLOWED), label="GET"),
    ],
    "privacy:anonymise": [
        GET(url("privacy:anonymise", lambda w, role: w.a.requester_id), desk(FORBIDDEN, manager=OK)),
        POST(url("privacy:anonymise", lambda w, role: w.a.requester_id), desk(FORBIDDEN, manager=BAD_REQUEST),
             data=lambda w, role: {"reason": "Request 12"}, label="unconfirmed"),
    ],
    # --- the manager dashboard ------------------------------------------------------------------------------
    "dashboard:index": [GET(url("dashboard:index"), manager_page())],
    "dashboard:export": [GET(url("dashboard:export", "summary"), manager_page())],
    "dashboard:tickets": [GET(lambda w, role: reverse("dashboard:tickets") + "?metric=created", manager_page())],
    # --- the public knowledge base ---------------------------------------------------------------------------
    "kb:index": [
        GET(url("kb:index"), everyone(OK)),
        GET(searching("kb:index", "spooler restart"), everyone(OK), check=hides_internal_article, label="search"),
    ],
    "kb:suggest": [
        GET(searching("kb:suggest", "tray jams"), everyone(OK), check=shows("Paper jams in tray 2")),
        GET(searching("kb:suggest", "spooler restart"), everyone(OK), check=hides_internal_article,
            label="internal words"),
    ],
    "kb:article": [
        GET(url("kb:article", pk("public_article")), everyone(OK)),
        GET(url("kb:article", pk("internal_article")), everyone(NOT_FOUND), label="internal article"),
    ],
    "kb:solved": [
        POST(url("kb:solved", pk("public_article")), everyone(OK)),
        POST(url("kb:solved", pk("internal_article")), everyone(NOT_FOUND), label="internal article"),
    ],
    # --- the customer portal ----------------------------------------------------------------------------------
    "portal:report": [
        GET(url("portal:report"), everyone(OK)),
        POST(url("portal:report"), everyone(CREATED), data=lambda w, role: {
            "name": "Someone", "email": per_role_email(w, role), "subject": "Scanner offline",
            "description": "It does not turn on.", "website": ""}),
    ],
    "portal:track": [GET(lambda w, role: reverse("portal:track", args=[w.link(role)]), own_link(OK),
                         check=private_page)],
    "portal:track-action": [
        POST(lambda w, role: reverse("portal:track-action", args=[w.link(role), "reply"]), own_link(TO_TRACKING),
             data=lambda w, role: {"body": "It still jams", "files": upload()}, label="reply"),
        POST(lambda w, role: reverse("portal:track-action", args=[w.link(role, "a_done"), "confirm"]),
             own_link(TO_TRACKING), data=lambda w, role: {"rating": "5", "comment": "Thanks"}, label="confirm"),
        POST(lambda w, role: reverse("portal:track-action", args=[w.link(role, "a_done"), "not-fixed"]),
             own_link(TO_TRACKING), data=lambda w, role: {"reason": "Jams again"}, label="not fixed"),
        POST(lambda w, role: reverse("portal:track-action", args=[w.link(role), "delete"]), everyone(NOT_FOUND),
             label="unknown action"),
        GET(lambda w, role: reverse("portal:track-action", args=[w.link(role), "reply"]), everyone(NOT_ALLOWED),
            label="GET"),
    ],
    "portal:mine": [GET(url("portal:mine"), own_link(OK, redirect("/support/mine/link/")), check=shows_own_ticket)],
    "portal:mine-request": [
        GET(url("portal:mine-request"), everyone(OK)),
        POST(url("portal:mine-request"), everyone(OK), data=lambda w, role: {"email": per_role_email(w, role)}),
    ],
    "portal:mine-signin": [
        GET(lambda w, role: reverse("portal:mine-signin", args=[
            w.new_signin_link(role) if role in w.requesters else secrets.token_urlsafe(32)]),
            own_link(redirect("/support/mine/"))),
    ],
    # --- probes ----------------------------------------------------------------------------------------------
    "healthz": [GET(url("healthz"), everyone(OK))],
    "readyz": [GET(url("readyz"), everyone(OK))],
    # Prometheus: served only when METRICS_TOKEN or METRICS_ALLOWED_IPS is set (neither is, here).
    "metrics": [GET(url("metrics"), everyone(NOT_FOUND))],
    # --- the REST API -----------------------------------------------------------------------------------------
    "api:ticket-list": [
        GET(api_path("ticket-list"), api(OK)),
        POST(api_path("ticket-list"), api(CREATED), json=True, data=lambda w, role: {
            "subject": "Disk full on fs01", "description": "98% used.",
            "requester": {"email": "monitoring@example.com", "name": "Monitoring"}}),
    ],
    "api:ticket-detail": [
        GET(api_path("ticket-detail", pk("a")), api(OK), check=shows(A_SUBJECT)),
        GET(api_path("ticket-detail", missing), api(NOT_FOUND), label="unknown id"),
        Case("PATCH", api_path("ticket-detail", pk("a")), api_l1_ticket(OK), json=True,
             data=lambda w, role: {"subject": "Printer on floor 3 jams"}),
        Case("DELETE", api_path("ticket-detail", pk("a")), api(NOT_ALLOWED)),
    ],
    "api:ticket-take": [
        POST(api_path("ticket-take", pk("a")), api_l1_ticket(OK), json=True),
        POST(api_path("ticket-take", missing), api(NOT_FOUND), json=True, label="unknown id"),
        GET(api_path("ticket-take", pk("a")), api(NOT_ALLOWED), label="GET"),
    ],
    "api:ticket-assign": [POST(api_path("ticket-assign", pk("a")), api_l1_ticket(OK), json=True,
                               data=lambda w, role: {"assignee": "alice"})],
    "api:ticket-diagnose": [POST(api_path("ticket-diagnose", pk("a_work")), api_l1_ticket(OK), json=True,
                                 data=lambda w, role: DIAGNOSIS)],
    "api:ticket-start-resolving": [POST(api_path("ticket-start-resolving", pk("a_work")), api_l1_ticket(OK),
                                        json=True)],
    "api:ticket-wait": [POST(api_path("ticket-wait", pk("a_work")), api_l1_ticket(OK), json=True,
                             data=lambda w, role: {"reason": "Which tray?"})],
    "api:ticket-resume": [POST(api_path("ticket-resume", pk("a_wait")), api_l1_ticket(OK), json=True)],
    "api:ticket-resolve": [POST(api_path("ticket-resolve", pk("a_work")), api_l1_ticket(OK), json=True,
                                data=lambda w, role: {"summary": "Replaced the fuser"})],
    "api:ticket-escalate": [POST(api_path("ticket-escalate", pk("a")), api_l1_ticket(OK), json=True,
                                 data=lambda w, role: {"reason": "Needs L2"})],
    "api:ticket-de-escalate": [
        POST(api_path("ticket-de-escalate", pk("a_l2")),
             {**api(OK), L1: FORBIDDEN, L3: FORBIDDEN, INTEGRATION: FORBIDDEN}, json=True,
             data=lambda w, role: {"reason": "L1 can do this"}),
    ],
    "api:ticket-reopen": [POST(api_path("ticket-reopen", pk("a_done")), api_l1_ticket(OK), json=True,
                               data=lambda w, role: {"reason": "Jams again"})],
    "api:ticket-close": [POST(api_path("ticket-close", pk("a_done")), api_l1_ticket(OK), json=True)],
    "api:ticket-unlink-repeat": [POST(api_path("ticket-unlink-repeat", pk("a_repeat")), api_l1_ticket(OK),
                                      json=True)],
    "api:ticket-merge": [POST(api_path("ticket-merge", pk("a_work")), api_l1_ticket(OK), json=True,
                              data=lambda w, role: {"into": w.a.reference})],
    "api:ticket-links": [
        GET(api_path("ticket-links", pk("a")), api(OK)),
        POST(api_path("ticket-links", pk("a")), api_l1_ticket(CREATED), json=True,
             data=lambda w, role: {"ticket": w.b.pk}),
    ],
    "api:ticket-link-detail": [Case("DELETE", linked("api:ticket-link-detail"), api_l1_ticket(NO_CONTENT))],
    "api:ticket-tags": [POST(api_path("ticket-tags", pk("a")), api_l1_ticket(OK), json=True,
                             data=lambda w, role: {"add": ["printer"]})],
    "api:ticket-comments": [
        GET(api_path("ticket-comments", pk("a")), api(OK), check=shows(A_NOTE)),
        POST(api_path("ticket-comments", pk("a")), api_l1_ticket(CREATED), json=True,
             data=lambda w, role: {"body": "Please try tray 1"}),
        GET(api_path("ticket-comments", missing), api(NOT_FOUND), label="unknown id"),
    ],
    "api:ticket-attachments": [
        GET(api_path("ticket-attachments", pk("a")), api(OK), check=shows(A_FILE)),
        POST(api_path("ticket-attachments", pk("a")), api_l1_ticket(CREATED), data=lambda w, role: {"file": upload()}),
        GET(api_path("ticket-attachments", missing), api(NOT_FOUND), label="unknown id"),
    ],
    "api:ticket-attachment-download": [
        GET(api_path("ticket-attachment-download", pk("a"), pk("a_file")), api(OK), check=is_download),
        GET(api_path("ticket-attachment-download", pk("a"), pk("b_file")), api(NOT_FOUND), label="B's file via A"),
        GET(api_path("ticket-attachment-download", missing, pk("a_file")), api(NOT_FOUND), label="unknown ticket"),
    ],
    "api:ticket-events": [
        GET(api_path("ticket-events", pk("a")), api(OK)),
        GET(api_path("ticket-events", missing), api(NOT_FOUND), label="unknown id"),
    ],
    # Any staff caller may send a bulk request; each ticket is then refused or done by the one policy.
    "api:ticket-bulk": [
        POST(api_path("ticket-bulk"), api(OK), json=True, check=bulk_result_for_l1_ticket,
             data=lambda w, role: {"ids": [w.a.pk], "action": "priority", "data": {"priority": "P2"}}),
        GET(api_path("ticket-bulk"), api(NOT_ALLOWED), label="GET"),
    ],
    "api:tier-list": [GET(api_path("tier-list"), api(OK))],
    "api:category-list": [GET(api_path("category-list"), api(OK))],
    "api:me": [
        GET(api_path("me"), api(OK)),
        Case("PATCH", api_path("me"), api(OK), json=True, data=lambda w, role: {"away": True}),
    ],
    # Metrics are computed from tickets and events every agent may read; the dashboard pages are the managers'.
    "api:metrics-summary": [GET(api_path("metrics-summary"), api(OK))],
    "api:metrics-breakdown": [GET(api_path("metrics-breakdown"), api(OK))],
    "api:metrics-trend": [GET(api_path("metrics-trend"), api(OK))],
    "api:metrics-knowledge": [GET(api_path("metrics-knowledge"), api(OK))],
    "api:webhook-list": [
        GET(api_path("webhook-list"), api_manager(OK)),
        POST(api_path("webhook-list"), api_manager(CREATED), json=True,
             data=lambda w, role: {"url": "https://93.184.215.14/tierdesk"}),
    ],
    "api:webhook-detail": [
        GET(api_path("webhook-detail", pk("webhook")), api_manager(OK)),
        Case("DELETE", api_path("webhook-detail", pk("webhook")), api_manager(NO_CONTENT)),
        GET(api_path("webhook-detail", missing), api_manager(NOT_FOUND), label="unknown id"),
    ],
    "privacy-api:requester-export": [
        GET(url("privacy-api:requester-export", lambda w, role: w.a.requester_id), api_manager(OK)),
        GET(url("privacy-api:requester-export", missing), api_manager(NOT_FOUND), label="unknown id"),
    ],
    "privacy-api:requester-anonymise": [
        POST(url("privacy-api:requester-anonymise", lambda w, role: w.a.requester_id), api_manager(BAD_REQUEST),
             json=True, label="no reason"),
    ],
    # The schema and its browser describe the API, not its data: public, as documentation is.
    "api:schema": [GET(api_path("schema"), everyone(OK))],
    "api:docs": [GET(api_path("docs"), everyone(OK))],
    "knowledge-api:article-list": [GET(url("knowledge-api:article-list"), api(OK))],
    "knowledge-api:article-detail": [
        GET(url("knowledge-api:article-detail", pk("internal_article")), api(OK)),
        GET(url("knowledge-api:article-detail", missing), api(NOT_FOUND), label="unknown id"),
    ],
    "knowledge-api:suggestions": [
        GET(url("knowledge-api:suggestions", pk("a")), api(OK)),
        GET(url("knowledge-api:suggestions", missing), api(NOT_FOUND), label="unknown id"),
    ],
    "knowledge-api:suggestion-use": [
        POST(url("knowledge-api:suggestion-use", pk("a")), api_l1_ticket(CREATED), json=True,
             data=lambda w, role: {"how": Use.LINKED, "article": w.public_article.pk}),
    ],
    "canned-api:reply-list": [GET(url("canned-api:reply-list"), api(OK))],
    "canned-api:ticket-replies": [
        GET(url("canned-api:ticket-replies", pk("a")), api(OK)),
        GET(url("canned-api:ticket-replies", missing), api(NOT_FOUND), label="unknown id"),
    ],
    # --- the admin (its per-model pages are added below from ADMIN_MODELS) -------------------------------------
    "admin:index": [GET(url("admin:index"), admin(OK))],
    # An agent is signed in but no staff member: the admin offers its sign-in form, as to anyone.
    "admin:login": [GET(url("admin:login"), {**everyone(OK), MANAGER: redirect("/admin/")})],
    # Signing out of the admin without being in it only leads to the admin's front page.
    "admin:logout": [
        GET(url("admin:logout"), {**everyone(redirect("/admin/")), MANAGER: NOT_ALLOWED}),
        POST(url("admin:logout"), {**everyone(redirect("/admin/")), MANAGER: redirect("/accounts/login/")}),
    ],
    "admin:password_change": [GET(url("admin:password_change"), admin(OK))],
    "admin:password_change_done": [GET(url("admin:password_change_done"), admin(OK))],
    "admin:autocomplete": [
        GET(lambda w, role: reverse("admin:autocomplete")
            + "?app_label=tiers&model_name=tiermembership&field_name=user&term=ali", admin(OK)),
    ],
    "admin:jsi18n": [GET(url("admin:jsi18n"), admin(OK))],
    "admin:view_on_site": [
        GET(lambda w, role: reverse("admin:view_on_site", args=[ContentType.objects.get_for_model(Ticket).pk,
                                                                w.a.pk]), admin(redirect("http://testserver/desk/t/"))),
    ],
    "admin:app_list": [GET(url("admin:app_list", "tickets"), admin(OK))],
    "admin:auth_user_password_change": [
        GET(url("admin:auth_user_password_change", pk("integration_user")), admin(OK)),
        # Regression: a manager could set a superuser's password, and so take over the administrator.
        GET(lambda w, role: reverse("admin:auth_user_password_change", args=[superuser().pk]), admin(FORBIDDEN),
            label="a superuser's password"),
        POST(lambda w, role: reverse("admin:auth_user_password_change", args=[superuser().pk]), admin(FORBIDDEN),
             data=lambda w, role: {"password1": "Taken-0ver-pass", "password2": "Taken-0ver-pass"},
             label="a superuser's password"),
    ],
    "admin:inbound_inboundmessage_raw": [
        GET(url("admin:inbound_inboundmessage_raw", pk("inbound_message")), admin(OK), check=is_download),
    ],
}


def superuser():
    user, _created = get_user_model().objects.get_or_create(
        username="root", defaults={"is_superuser": True, "is_staff": True, "email": "root@example.com"})
    return user


# The admin's model pages. What the manager may do in each (the Managers group's permissions; "view" also
# opens the change page and the history read-only), and how to find one object to open.
ADMIN_MODELS: dict[str, tuple[set, Callable[[World], object]]] = {
    "auth_group": ({"view"}, lambda w: Group.objects.get(name=AGENTS_GROUP).pk),
    "auth_user": ({"view", "add", "change"}, lambda w: w.users[L1].pk),
    "authtoken_tokenproxy": (set(), lambda w: w.integration_user.pk),
    "axes_accessattempt": (set(), lambda w: AccessAttempt.objects.create(
        username="x", ip_address="10.9.9.9", user_agent="", http_accept="", path_info="/", get_data="",
        post_data="", failures_since_start=1).pk),
    "axes_accesslog": (set(), lambda w: AccessLog.objects.create(
        username="x", ip_address="10.9.9.9", user_agent="", http_accept="", path_info="/").pk),
    "axes_accessfailurelog": (set(), lambda w: AccessFailureLog.objects.create(
        username="x", ip_address="10.9.9.9", user_agent="", http_accept="", path_info="/").pk),
    "tiers_tier": ({"view", "change"}, lambda w: Tier.objects.get(code="L1").pk),
    "tiers_businesscalendar": ({"view", "add", "change"}, lambda w: BusinessCalendar.objects.first().pk),
    "tiers_slapolicy": ({"view", "add", "change"}, lambda w: SLAPolicy.objects.first().pk),
    "tiers_staffprofile": ({"view", "add", "change"}, lambda w: StaffProfile.objects.create(user=w.users[L1]).pk),
    "tickets_category": ({"view", "add", "change"}, lambda w: CategoryFactory().pk),
    "tickets_requester": ({"view", "change"}, lambda w: w.a.requester_id),
    "tickets_ticket": ({"view"}, lambda w: w.a.pk),
    "tickets_event": ({"view"}, lambda w: w.first_event().pk),
    "webhooks_webhook": ({"view"}, lambda w: w.webhook.pk),
    "webhooks_delivery": ({"view"}, lambda w: Delivery.objects.create(webhook=w.webhook, event=w.first_event()).pk),
    "notifications_notification": ({"view"}, lambda w: Notification.objects.create(
        event=w.first_event(), recipient="dana@example.com", language="en", template="created").pk),
    "inbound_inboundmessage": ({"view"}, lambda w: w.inbound_message.pk),
    "inbound_mailboxstate": ({"view"}, lambda w: MailboxState.objects.create(mailbox="INBOX").pk),
    "knowledge_article": ({"view"}, lambda w: w.public_article.pk),
    "knowledge_tag": ({"view"}, lambda w: Tag.objects.create(name="matrix").pk),
    "knowledge_suggestionuse": ({"view"}, lambda w: SuggestionUse.objects.create(
        ticket=w.a, article=w.public_article, how=Use.LINKED, actor=w.users[L1]).pk),
    "knowledge_deflection": ({"view"}, lambda w: Deflection.objects.create(article=w.public_article).pk),
    "privacy_accessrecord": ({"view"}, lambda w: AccessRecord.objects.create(
        user=w.users[MANAGER], action=privacy.Action.VIEWED_TICKET, channel=privacy.Channel.DESK, ticket=w.a).pk),
}


def _admin_rows() -> dict[str, list[Case]]:
    rows = {}
    for model, (may, find) in ADMIN_MODELS.items():
        def page(name, model=model, find=find):
            return lambda w, role: reverse(f"admin:{model}_{name}", args=[w.admin_object(model, find)])

        def allowed(what, may=may):
            return admin(OK if what & may else FORBIDDEN)

        rows[f"admin:{model}_changelist"] = [GET(url(f"admin:{model}_changelist"), allowed({"view", "change"}))]
        rows[f"admin:{model}_add"] = [
            GET(url(f"admin:{model}_add"), allowed({"add"})),
            # An empty form: refused outright, or shown again with what is missing; nothing is saved either way.
            POST(url(f"admin:{model}_add"), allowed({"add"})),
        ]
        rows[f"admin:{model}_change"] = [
            GET(page("change"), allowed({"view", "change"})),
            POST(page("change"), allowed({"change"})),
        ]
        rows[f"admin:{model}_history"] = [GET(page("history"), allowed({"view", "change"}))]
        rows[f"admin:{model}_delete"] = [
            GET(page("delete"), allowed({"delete"})),
            POST(page("delete"), allowed({"delete"}), data=lambda w, role: {"post": "yes"}),
        ]
    return rows


ADMIN_MODEL_ROWS = _admin_rows()
MATRIX.update(ADMIN_MODEL_ROWS)

# The mail services' inbound webhooks (those these settings can serve) authenticate the service by basic auth
# or its signature, never a user: without it every caller is refused alike, whatever session or token they bring.
MATRIX.update({
    f"anymail:{service}_inbound_webhook": [POST(url(f"anymail:{service}_inbound_webhook"), everyone(BAD_REQUEST))]
    for service in ("mailgun", "mailjet", "postmark", "sendgrid", "sparkpost")
})

# URL names with no row, and why. Keep this list short: everything else must be in the matrix.
NOT_IN_MATRIX: dict[str, str] = {}

# Patterns without a name (nothing can link to them by name), as regular expressions over the full route.
UNNAMED = (
    # Each admin model's "<object_id>/" → "<object_id>/change/" redirect.
    r"admin/\w+/\w+/<path:object_id>/",
    # The admin's catch-all: unknown admin paths go to its sign-in (or a 404 for staff).
    r"admin/\(\?P<url>\.\*\)\$",
)


# --- running the matrix --------------------------------------------------------------------------------------


class _Undo(Exception):
    pass


@dataclass
class Answer:
    response: object
    footprints_after: dict


def ask(w: World, role: str, case: Case, path: str, data: dict) -> Answer:
    """Send the case's request as `role`, and roll back whatever it changed."""
    client = w.clients[role]
    captured = {}
    try:
        with transaction.atomic():
            if case.method == "GET":
                response = client.get(path, data, headers=case.headers)
            elif case.json:
                response = client.generic(case.method, path, json.dumps(data), content_type="application/json",
                                          headers=case.headers)
            elif case.method == "POST":
                response = client.post(path, data, headers=case.headers)
            else:
                response = client.generic(case.method, path, headers=case.headers)
            body(response)  # a streamed file is read while it exists
            captured["answer"] = Answer(response, {side: w.footprint(side) for side in ("a", "b")})
            raise _Undo
    except _Undo:
        pass
    return captured["answer"]


def problems_of(w: World, role: str, case: Case, answer: Answer, before: dict) -> list[str]:
    response = answer.response
    found = []
    problem = case.expect[role].problem(response)
    if problem:
        found.append(problem)
    elif case.check and 200 <= response.status_code < 300:
        problem = case.check(w, role, response)
        if problem:
            found.append(problem)
    if role in ACCOUNTLESS:
        text = body(response).decode(errors="replace")
        foreign = {ANON: ("a", "b"), CUST_A: ("b",), CUST_B: ("a",)}[role]
        leaked = [word for side in foreign for word in MARKERS[side] if word in text]
        leaked += [note for note in INTERNAL_NOTES if note in text and note not in leaked]
        if leaked:
            found.append(f"shows {leaked}")
        changed = [side for side in foreign if answer.footprints_after[side] != before[side]]
        if changed:
            found.append(f"changed the tickets of customer {changed}")
    return found


def run_rows(w: World, name: str) -> list[str]:
    failures = []
    for case in MATRIX[name]:
        assert set(case.expect) == set(ROLES), f"{name}: the row must name every caller"
        for role in ROLES:
            where = f"{name} {case.method} {case.label or ''} as {role}".replace("  ", " ")
            try:
                # What the request names is made first, outside the request's savepoint and before the
                # footprints (in a savepoint of its own, so a failure here cannot spoil the rows after it).
                with transaction.atomic():
                    path, data = case.path(w, role), case.data(w, role) if case.data else {}
                before = {side: w.footprint(side) for side in ("a", "b")}
                answer = ask(w, role, case, path, data)
            except Exception as exc:  # a crash is a finding like any other: report it with the rest
                failures.append(f"{where}: raised {exc!r}")
                continue
            failures += [f"{where}: {problem}" for problem in problems_of(w, role, case, answer, before)]
    return failures


def _groups() -> dict[str, list[str]]:
    """The rows run per test: one URL each, except a model's five admin pages, which share one world."""
    groups = {}
    for name in sorted(MATRIX):
        model = next((m for m in ADMIN_MODELS if name.startswith(f"admin:{m}_")), None)
        key = f"admin:{model} pages" if name in ADMIN_MODEL_ROWS else name
        groups.setdefault(key, []).append(name)
    return groups


GROUPS = _groups()


@pytest.mark.parametrize("group", GROUPS)
def test_access(world, group):
    failures = [failure for name in GROUPS[group] for failure in run_rows(world, name)]
    assert not failures, "\n".join(failures)


# --- the matrix covers every URL -----------------------------------------------------------------------------


def _patterns(resolver=None, namespace=(), prefix=""):
    """Every URL pattern of the project: (full name or None, full route) for each."""
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _patterns(pattern, namespace + ((pattern.namespace,) if pattern.namespace else ()), route)
        elif isinstance(pattern, URLPattern):
            yield (":".join((*namespace, pattern.name)) if pattern.name else None), route


def test_every_url_has_a_row():
    names = {name for name, _route in _patterns() if name}
    without_row = sorted(names - set(MATRIX) - set(NOT_IN_MATRIX))
    assert not without_row, f"URLs nobody decided about — add them to MATRIX: {without_row}"
    gone = sorted((set(MATRIX) | set(NOT_IN_MATRIX)) - names)
    assert not gone, f"rows for URLs that no longer exist: {gone}"
    assert all(MATRIX[name] for name in MATRIX), "every row has at least one request"


def test_every_unnamed_url_is_known():
    routes = [route for name, route in _patterns() if name is None]
    unknown = [route for route in routes if not any(re.fullmatch(known, route) for known in UNNAMED)]
    assert not unknown, f"URL patterns without a name and without a decision: {unknown}"
    assert routes, "the admin's unnamed patterns are found (the walk reaches them)"


# --- ids give nothing away ------------------------------------------------------------------------------------

VISITOR = "visitor"  # signed in, but neither agent nor manager


def _caller(w: World, role: str) -> Client:
    if role != VISITOR:
        return w.clients[role]
    client = Client(REMOTE_ADDR="10.20.0.99")
    client.force_login(get_user_model().objects.create_user("visitor", password="pw"))
    return client


# Paths that carry an id, as (method, URL name, the path's arguments for an id).
TICKET_ID_PATHS = [
    ("GET", "desk:ticket", lambda w, i: [i]),
    ("POST", "desk:action", lambda w, i: [i, "take"]),
    ("POST", "presence:heartbeat", lambda w, i: [i]),
    ("GET", "knowledge:suggestions", lambda w, i: [i]),
    ("POST", "knowledge:use", lambda w, i: [i]),
    ("POST", "knowledge:publish", lambda w, i: [i]),
    ("GET", "api:ticket-detail", lambda w, i: [i]),
    ("GET", "api:ticket-events", lambda w, i: [i]),
    ("GET", "api:ticket-comments", lambda w, i: [i]),
    ("GET", "api:ticket-attachments", lambda w, i: [i]),
    ("POST", "api:ticket-take", lambda w, i: [i]),
    ("GET", "knowledge-api:suggestions", lambda w, i: [i]),
    ("GET", "canned:ticket", lambda w, i: [i]),
    ("GET", "canned-api:ticket-replies", lambda w, i: [i]),
    ("GET", "admin:tickets_ticket_change", lambda w, i: [i]),
    ("GET", "admin:view_on_site", lambda w, i: [ContentType.objects.get_for_model(Ticket).pk, i]),
]
ATTACHMENT_ID_PATHS = [
    ("GET", "desk:attachment", lambda w, i: [w.a.pk, i]),
    ("GET", "api:ticket-attachment-download", lambda w, i: [w.a.pk, i]),
]
REQUESTER_ID_PATHS = [
    ("GET", "privacy:requester", lambda w, i: [i]),
    ("POST", "privacy:export", lambda w, i: [i]),
    ("GET", "privacy-api:requester-export", lambda w, i: [i]),
    ("GET", "admin:tickets_requester_change", lambda w, i: [i]),
]


def _answer(response, path: str):
    """What a caller learns from an answer, with the path it asked for taken out (redirects repeat it)."""
    return (
        response.status_code,
        response.get("Location", "").replace(path, "<path>"),
        body(response).decode(errors="replace").replace(path, "<path>"),
    )


def _answers(w: World, client: Client, paths, ids) -> list[str]:
    different = []
    for method, name, args in paths:
        seen = {}
        for i in ids:
            path = reverse(name, args=args(w, i))
            response = client.get(path) if method == "GET" else client.post(path, {})
            seen.setdefault(_answer(response, path), []).append(i)
        if len(seen) != 1:
            different.append(f"{method} {name}: {[(answer[:2], ids) for answer, ids in seen.items()]}")
    return different


@pytest.mark.parametrize("role", [ANON, CUST_A, CUST_B, VISITOR])
def test_ids_tell_nothing_to_a_caller_who_may_not_list(world, role):
    """Existing and unknown ids, tried one after another, all get the very same answer."""
    for made in ("a_done", "b_done", "a_l2"):  # a few more tickets, events and requesters to walk over
        getattr(world, made)
    client = _caller(world, role)
    tickets = sorted(Ticket.objects.values_list("pk", flat=True))
    files = sorted(Attachment.objects.values_list("pk", flat=True))
    requesters = sorted(Requester.objects.values_list("pk", flat=True))
    before = {side: world.footprint(side) for side in ("a", "b")}
    different = (
        _answers(world, client, TICKET_ID_PATHS, [*tickets, tickets[-1] + 1, world.missing_id])
        + _answers(world, client, ATTACHMENT_ID_PATHS, [*files, files[-1] + 1, world.missing_id])
        + _answers(world, client, REQUESTER_ID_PATHS, [*requesters, requesters[-1] + 1, world.missing_id])
    )
    assert not different, "\n".join(different)
    assert {side: world.footprint(side) for side in ("a", "b")} == before


@pytest.mark.parametrize("role", [*STAFF_ROLES, INTEGRATION])
def test_a_file_of_another_ticket_is_not_found_exactly_like_no_file(world, role):
    """Staff read every ticket, but a ticket's file is reached through that ticket only: 404, never 403."""
    client = world.clients[role]
    unknown = Attachment.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000
    names = ["api:ticket-attachment-download"] + (["desk:attachment"] if role != INTEGRATION else [])
    for name in names:
        other = reverse(name, args=[world.a.pk, world.b_file.pk])
        nothing = reverse(name, args=[world.a.pk, unknown])
        answers = [_answer(client.get(path), path) for path in (other, nothing)]
        assert answers[0][0] == 404 and answers[0] == answers[1], (name, answers)


def test_the_public_knowledge_base_hides_internal_articles_exactly_like_missing_ones(world):
    client = world.clients[ANON]
    internal = reverse("kb:article", args=[world.internal_article.pk])
    unknown = reverse("kb:article", args=[world.missing_id])
    assert _answer(client.get(internal), internal) == _answer(client.get(unknown), unknown)
    assert client.get(internal).status_code == 404


# --- one customer never reaches another's ticket ----------------------------------------------------------------


def _flip(token: str) -> str:
    return token[:-1] + ("A" if token[-1] != "A" else "B")


def test_customer_b_opens_nothing_of_ticket_a_with_anything_they_hold_or_could_derive(world):
    client = world.clients[CUST_B]
    a_token, b_token = tokens.tracking_token(world.a), tokens.tracking_token(world.b)
    guesses = [
        str(world.a.pk), world.a.reference, tokens.token_hash(a_token),  # the id, the reference, the stored hash
        _flip(a_token), a_token[:-1], a_token + "A", a_token.swapcase(),  # near misses of A's link
        _flip(b_token), b_token + "A",  # B's own link, altered
        "A" * 101,  # longer than any token
    ]
    before = world.footprint("a")
    for guess in guesses:
        track = reverse("portal:track", args=[guess])
        assert client.get(track).status_code == 404, guess
        for action, data in (("reply", {"body": "hello"}), ("confirm", {"rating": "1"}),
                             ("not-fixed", {"reason": "no"})):
            response = client.post(reverse("portal:track-action", args=[guess, action]), data)
            assert response.status_code == 404, (guess, action)
    assert world.footprint("a") == before
    # B's own link opens B's ticket only.
    own = client.get(reverse("portal:track", args=[b_token])).content.decode()
    assert B_SUBJECT in own and not any(word in own for word in MARKERS["a"])


def test_a_tracking_link_is_no_sign_in_link(world):
    """A ticket's link opens that ticket only; it never signs anyone in to the customer's other tickets."""
    client = Client(REMOTE_ADDR="10.20.0.77")
    assert client.get(reverse("portal:mine-signin", args=[tokens.tracking_token(world.a)])).status_code == 404
    assert client.get(reverse("portal:mine")).status_code == 302


def test_my_tickets_links_only_the_signed_in_customers_own_tickets(world):
    world.a_done, world.b_done  # noqa: B018 — more tickets on both sides
    for role in (CUST_A, CUST_B):
        page = world.clients[role].get(reverse("portal:mine")).content.decode()
        linked = set(re.findall(r'href="(/support/t/[^"]+)"', page))
        own = Ticket.objects.filter(requester=world.requesters[role])
        assert linked == {tokens.tracking_path(ticket) for ticket in own}, role


def test_the_tracking_page_names_the_files_but_links_no_agent_only_download(world):
    page = world.clients[CUST_A].get(reverse("portal:track", args=[tokens.tracking_token(world.a)])).content.decode()
    assert A_FILE in page
    hrefs = re.findall(r'(?:href|action|src)="([^"]*)"', page)
    assert not [href for href in hrefs if re.search(r"/attachments?/|/download", href)], hrefs


# --- the admin: a manager cannot raise themselves to superuser ---------------------------------------------------


def _user_form(user, **changes) -> dict:
    """The admin's change form for `user`, as the browser would send it back."""
    data = {
        "username": user.username, "first_name": user.first_name, "last_name": user.last_name,
        "email": user.email, "is_active": "on", "is_staff": "on" if user.is_staff else "",
        "groups": [group.pk for group in user.groups.all()],
        "last_login_0": "", "last_login_1": "", "date_joined_0": "2026-01-05", "date_joined_1": "09:00:00",
        "tier_memberships-TOTAL_FORMS": "0", "tier_memberships-INITIAL_FORMS": "0",
        "tier_memberships-MIN_NUM_FORMS": "0", "tier_memberships-MAX_NUM_FORMS": "1000",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value != ""}


def test_a_manager_cannot_make_themselves_superuser_nor_grant_single_permissions(world):
    """Regression: the user form let a manager tick "superuser" on their own account (and then read every
    API token); it let them grant any permission one by one, too."""
    from django.contrib.auth.models import Permission

    mona, client = world.users[MANAGER], world.clients[MANAGER]
    change = reverse("admin:auth_user_change", args=[mona.pk])
    page = client.get(change).content.decode()
    assert 'name="is_superuser"' not in page and 'name="user_permissions"' not in page
    tokens_perm = Permission.objects.get(codename="view_tokenproxy")
    response = client.post(change, _user_form(mona, first_name="Mona", is_superuser="on",
                                              user_permissions=[tokens_perm.pk]))
    assert response.status_code == 302  # the form was taken: the name changed, the rest was not offered
    mona.refresh_from_db()
    assert mona.first_name == "Mona"
    assert not mona.is_superuser and not mona.user_permissions.exists()
    assert client.get(reverse("admin:authtoken_tokenproxy_changelist")).status_code == 403
    # A superuser still gives both.
    root = Client()
    root.force_login(superuser())
    assert 'name="is_superuser"' in root.get(change).content.decode()


def test_a_manager_sees_a_superusers_account_but_cannot_change_it(world):
    client, root = world.clients[MANAGER], superuser()
    change = reverse("admin:auth_user_change", args=[root.pk])
    assert client.get(change).status_code == 200  # view only
    response = client.post(change, _user_form(root, email="mine@example.com"))
    assert response.status_code == 403
    root.refresh_from_db()
    assert root.email == "root@example.com" and root.is_superuser
