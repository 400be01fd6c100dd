"""Each workflow action: the input it takes and the service that performs it (shared by the API and the desk)."""
from tickets import services
from tickets.api.serializers import (
    AssignInput,
    CloseInput,
    CommentInput,
    DeEscalateInput,
    DiagnoseInput,
    OptionalReasonInput,
    ReasonInput,
    ResolveInput,
    TicketUpdateInput,
    VersionInput,
)
from tickets.workflow import Action

ACTIONS = {
    Action.TAKE: (VersionInput, services.ticket_take),
    Action.DIAGNOSE: (DiagnoseInput, services.ticket_diagnose),
    Action.START_RESOLVING: (VersionInput, services.ticket_start_resolving),
    Action.WAIT: (OptionalReasonInput, services.ticket_wait),
    Action.RESUME: (VersionInput, services.ticket_resume),
    Action.RESOLVE: (ResolveInput, services.ticket_resolve),
    Action.ESCALATE: (ReasonInput, services.ticket_escalate),
    Action.DE_ESCALATE: (DeEscalateInput, services.ticket_de_escalate),
    Action.REOPEN: (ReasonInput, services.ticket_reopen),
    Action.CLOSE: (CloseInput, services.ticket_close),
    Action.ASSIGN: (AssignInput, services.ticket_assign),
    Action.COMMENT: (CommentInput, services.comment_add),
    Action.UPDATE: (TicketUpdateInput, services.ticket_update),
    Action.UNLINK_REPEAT: (VersionInput, services.ticket_unlink_repeat),
}


def perform(action: str, *, actor, ticket_id: int, data) -> object:
    """Validate `data` for `action` and run its service. Raises DRF ValidationError or TicketError."""
    input_class, service = ACTIONS[action]
    serializer = input_class(data=data)
    serializer.is_valid(raise_exception=True)
    return service(actor=actor, ticket_id=ticket_id, **serializer.validated_data)
