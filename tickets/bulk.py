"""Bulk actions on tickets selected in a queue: assign, tag, change priority, escalate.

Each selected ticket goes through its own service call — its own transaction,
row lock, workflow and policy check, version bump and event — so one refused
ticket (escalated from the top tier, changed since the agent looked, another
tier's) leaves the others done and itself untouched. The desk and the API
share this module; both answer with one result per ticket.
"""
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import TextChoices
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from tickets import services, tags
from tickets.exceptions import TicketError, not_found
from tickets.models import Priority, format_reference
from tickets.policy import Actor, tickets_visible_to

# Tickets one request may change: a page of a queue is 25; an integration gets a few pages at once.
MAX_TICKETS = 100
MAX_ID = 2**63 - 1


class BulkAction(TextChoices):
    ASSIGN = "assign", _("Assign to")
    TAG = "tag", _("Add tags")
    PRIORITY = "priority", _("Change priority to")
    ESCALATE = "escalate", _("Escalate")


class AssignData(serializers.Serializer):
    assignee = serializers.SlugRelatedField(
        slug_field="username", queryset=get_user_model().objects.filter(is_active=True),
        help_text="The username of the agent (or manager) who gets the tickets.",
    )


class TagData(serializers.Serializer):
    add = serializers.ListField(child=serializers.CharField(max_length=200, allow_blank=True), required=False,
                                default=list, max_length=tags.TAGS_PER_TICKET, help_text="Tag names to add.")
    remove = serializers.ListField(child=serializers.CharField(max_length=200, allow_blank=True), required=False,
                                   default=list, max_length=tags.TAGS_PER_TICKET, help_text="Tag names to remove.")

    def validate(self, attrs):
        # The names are checked once here, not once per ticket: a bad name refuses the whole request.
        try:
            add = tags.clean_names(attrs["add"], field="add")
            remove = tags.clean_names(attrs["remove"], field="remove")
        except TicketError as exc:
            raise serializers.ValidationError({exc.fields[0] if exc.fields else "add": [str(exc)]}) from None
        if not add and not remove:
            raise serializers.ValidationError({"add": [_("Name at least one tag to add or remove.")]})
        return {"add": add, "remove": remove}


class PriorityData(serializers.Serializer):
    priority = serializers.ChoiceField(choices=Priority.choices)


class EscalateData(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, help_text="Why the tickets go to the next tier.")


# Each action: the input it takes (`data`), and the service call that applies it to one ticket.
ACTIONS = {
    BulkAction.ASSIGN: (AssignData, lambda actor, pk, data, version: services.ticket_assign(
        actor=actor, ticket_id=pk, assignee=data["assignee"], version=version)),
    BulkAction.TAG: (TagData, lambda actor, pk, data, version: services.ticket_tag(
        actor=actor, ticket_id=pk, add=data["add"], remove=data["remove"], version=version)),
    BulkAction.PRIORITY: (PriorityData, lambda actor, pk, data, version: services.ticket_update(
        actor=actor, ticket_id=pk, priority=data["priority"], version=version)),
    BulkAction.ESCALATE: (EscalateData, lambda actor, pk, data, version: services.ticket_escalate(
        actor=actor, ticket_id=pk, reason=data["reason"], version=version)),
}


@dataclass(frozen=True)
class Result:
    """What happened to one ticket: done (with its version now) or refused (with the service's code and message)."""

    id: int
    ok: bool
    version: int | None = None
    code: str = ""
    detail: str = ""

    @property
    def reference(self) -> str:
        return format_reference(self.id)

    def as_json(self) -> dict:
        if self.ok:
            return {"id": self.id, "ok": True, "version": self.version}
        return {"id": self.id, "ok": False, "error": {"code": self.code, "detail": self.detail}}


def clean_ids(values) -> list[int]:
    """Ticket ids from user input: whole numbers, each once, in the order given; refuses anything else."""
    if not isinstance(values, (list, tuple)):
        raise serializers.ValidationError({"ids": [_("Give a list of ticket ids.")]})
    ids = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise serializers.ValidationError({"ids": [_("Ticket ids are whole numbers.")]})
        try:
            number = int(value)
        except ValueError:
            raise serializers.ValidationError({"ids": [_("Ticket ids are whole numbers.")]}) from None
        if not 0 < number <= MAX_ID:
            raise serializers.ValidationError({"ids": [_("Ticket ids are whole numbers.")]})
        if number not in ids:
            ids.append(number)
    if not ids:
        raise serializers.ValidationError({"ids": [_("Select at least one ticket.")]})
    if len(ids) > MAX_TICKETS:
        raise serializers.ValidationError(
            {"ids": [_("At most %(max)d tickets at once.") % {"max": MAX_TICKETS}]})
    return ids


def clean_data(action: str, data) -> dict:
    """The action's input, validated once for all the tickets (a DRF ValidationError when it is wrong)."""
    if action not in ACTIONS:
        raise serializers.ValidationError({"action": [_("Unknown action.")]})
    serializer = ACTIONS[action][0](data=data if data is not None else {})
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def bulk_run(*, actor: Actor, ids: list[int], action: str, data: dict,
             versions: dict[int, int] | None = None) -> list[Result]:
    """Apply `action` with its validated `data` to each ticket of `ids`, one transaction per ticket.

    `versions` maps a ticket id to the version the caller saw; a ticket changed since is refused as stale
    (without it, the ticket's current state is checked as usual). A ticket the actor may not see is "not
    found", exactly as an unknown id. Results come in the order of `ids`.
    """
    apply = ACTIONS[action][1]
    versions = versions or {}
    visible = set(tickets_visible_to(actor.user).filter(pk__in=ids).values_list("pk", flat=True))
    results = []
    for pk in ids:
        if pk not in visible:
            error = not_found()
            results.append(Result(pk, False, code=error.code, detail=str(error)))
            continue
        try:
            # Its own transaction (a savepoint inside a caller's): a refusal rolls back this ticket only, and a
            # done ticket is committed — its event handed to the outbox — before the next one is locked.
            with transaction.atomic():
                ticket = apply(actor, pk, data, versions.get(pk))
        except TicketError as exc:
            results.append(Result(pk, False, code=exc.code, detail=str(exc)))
        else:
            results.append(Result(pk, True, version=ticket.version))
    return results
