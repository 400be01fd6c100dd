"""`POST /api/v1/tickets/bulk/`: one action on up to MAX_TICKETS tickets, one result per ticket (tickets.bulk)."""
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from tickets.api.errors import error_responses
from tickets.bulk import MAX_ID, MAX_TICKETS, BulkAction, bulk_run, clean_data


class BulkInput(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID), allow_empty=False, max_length=MAX_TICKETS,
        help_text=f"The tickets to change (at most {MAX_TICKETS}); a repeated id counts once.",
    )
    action = serializers.ChoiceField(choices=BulkAction.choices)
    data = serializers.DictField(
        required=False, default=dict,
        help_text="The action's input: assign `{assignee}` (a username), tag `{add, remove}` (lists of names), "
        "priority `{priority}` (P1–P4), escalate `{reason}`.",
    )
    versions = serializers.DictField(
        child=serializers.IntegerField(min_value=1, max_value=2**31 - 1), required=False, default=dict,
        help_text="Optional: the version you last read, per ticket id (`{\"12\": 3}`); a ticket changed since is "
        "refused as stale_version.",
    )

    def validate(self, attrs):
        ids = list(dict.fromkeys(attrs["ids"]))
        try:
            data = clean_data(attrs["action"], attrs["data"])
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({"data": exc.detail}) from None
        versions = {}
        for key, version in attrs["versions"].items():
            if not str(key).isdigit():
                raise serializers.ValidationError({"versions": [_("Keys are ticket ids.")]})
            versions[int(key)] = version
        return {"ids": ids, "action": attrs["action"], "data": data, "versions": versions}


class BulkErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Why this ticket was refused: illegal_transition, stale_version, "
                                 "forbidden, not_found, invalid, missing_fields.")
    detail = serializers.CharField(help_text="The refusal, for a person.")


class BulkResultSerializer(serializers.Serializer):
    """One ticket's result: `version` when it was done, `error` when it was refused."""

    id = serializers.IntegerField()
    ok = serializers.BooleanField(help_text="True when the action was applied to this ticket.")
    version = serializers.IntegerField(required=False, help_text="The ticket's version now (when ok).")
    error = BulkErrorSerializer(required=False, help_text="Why it was refused (when not ok).")


SCHEMA = extend_schema(
    summary="Apply one action to many tickets",
    description=(
        f"Assign, tag, change the priority of, or escalate up to {MAX_TICKETS} tickets. Each ticket goes through "
        "the same service as its single action, in its own transaction: some may be refused while the others are "
        "done, and a refused ticket is left untouched. The answer is 200 with one result per ticket, in the order "
        "of `ids`; invalid input (no ids, too many, an unknown action, bad `data`) is a 400 and changes nothing."
    ),
    request=BulkInput,
    responses={200: BulkResultSerializer(many=True), **error_responses(400, 401, 403, 429)},
    examples=[
        OpenApiExample(
            "Escalate three tickets",
            value={"ids": [12, 13, 14], "action": "escalate", "data": {"reason": "Needs the network team"}},
            request_only=True,
        ),
        OpenApiExample(
            "Mixed results",
            value=[
                {"id": 12, "ok": True, "version": 5},
                {"id": 13, "ok": False, "error": {"code": "illegal_transition",
                                                  "detail": "L3 is the highest tier; the ticket cannot be "
                                                            "escalated further."}},
                {"id": 14, "ok": False, "error": {"code": "not_found", "detail": "No such ticket."}},
            ],
            response_only=True,
            status_codes=["200"],
        ),
    ],
    tags=["workflow"],
)


def respond(request, actor) -> Response:
    """Validate the request, run the action on each ticket, answer with the results."""
    serializer = BulkInput(data=request.data)
    serializer.is_valid(raise_exception=True)
    valid = serializer.validated_data
    results = bulk_run(actor=actor, ids=valid["ids"], action=valid["action"], data=valid["data"],
                       versions=valid["versions"])
    return Response([result.as_json() for result in results])
