"""The one exception type the services raise when they refuse a change."""
from django.utils.translation import gettext_lazy as _


class TicketError(Exception):
    """A change was refused. `code` says why; `message` says it to a person.

    Codes, and the HTTP status an API maps them to:

    - ``illegal_transition`` (409): the workflow does not allow this action now;
    - ``stale_version`` (409): the ticket changed since the caller read it;
    - ``missing_fields`` (409): the transition needs fields that are empty;
    - ``forbidden`` (403): this actor may not do this to this ticket;
    - ``not_found`` (404): no such ticket (or not visible to the actor);
    - ``invalid`` (400): the input itself is wrong;
    - ``too_large`` (413): a file is larger than allowed.
    """

    ILLEGAL_TRANSITION = "illegal_transition"
    STALE_VERSION = "stale_version"
    MISSING_FIELDS = "missing_fields"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    INVALID = "invalid"
    TOO_LARGE = "too_large"

    def __init__(self, code: str, message, *, fields: list[str] | None = None):
        super().__init__(str(message))
        self.code = code
        self.message = message
        self.fields = fields or []

    def __str__(self):
        return str(self.message)


def not_found() -> TicketError:
    return TicketError(TicketError.NOT_FOUND, _("No such ticket."))
