"""One JSON error shape for the whole API: ``{"detail": "...", "code": "..."}`` (plus ``errors`` per field)."""
import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from tickets.exceptions import TicketError

logger = logging.getLogger(__name__)

TICKET_ERROR_STATUS = {
    TicketError.ILLEGAL_TRANSITION: status.HTTP_409_CONFLICT,
    TicketError.STALE_VERSION: status.HTTP_409_CONFLICT,
    TicketError.MISSING_FIELDS: status.HTTP_409_CONFLICT,
    TicketError.FORBIDDEN: status.HTTP_403_FORBIDDEN,
    TicketError.NOT_FOUND: status.HTTP_404_NOT_FOUND,
    TicketError.INVALID: status.HTTP_400_BAD_REQUEST,
    TicketError.TOO_LARGE: status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
}


class TooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request or file is too large."
    default_code = "too_large"


class ErrorSerializer(serializers.Serializer):
    """The body of every error response."""

    detail = serializers.CharField(help_text="What went wrong, for a person.")
    code = serializers.CharField(help_text="What went wrong, for a program (e.g. illegal_transition, stale_version).")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Problems per input field (validation errors only).",
    )


ERROR_DESCRIPTIONS = {
    400: "Invalid input.",
    401: "No or invalid credentials.",
    403: "Your role or tier does not allow this.",
    404: "No such ticket (or not visible to you).",
    409: "Illegal transition, missing required fields, or a stale version.",
    413: "The file is too large.",
    429: "Too many requests; retry later.",
}


def error_responses(*codes: int, descriptions: dict | None = None) -> dict:
    """OpenAPI responses for these error status codes, all with the one error body."""
    from drf_spectacular.utils import OpenApiResponse

    texts = {**ERROR_DESCRIPTIONS, **(descriptions or {})}
    return {code: OpenApiResponse(ErrorSerializer, description=texts[code]) for code in codes}


def exception_handler(exc, context):
    if isinstance(exc, TicketError):
        body = {"detail": str(exc.message), "code": exc.code}
        if exc.fields:
            body["errors"] = {name: [str(exc.message)] for name in exc.fields}
        return Response(body, status=TICKET_ERROR_STATUS.get(exc.code, status.HTTP_400_BAD_REQUEST))
    if isinstance(exc, RequestDataTooBig):
        exc = TooLarge()
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"detail": _first_message(exc.detail), "code": "invalid", "errors": _per_field(exc.detail)}
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = detail.code if hasattr(detail, "code") else getattr(exc, "default_code", "error")
        response.data = {"detail": str(detail), "code": str(code)}
    return response


def _per_field(detail) -> dict:
    if isinstance(detail, dict):
        return {str(key): [str(m) for m in _flatten(value)] for key, value in detail.items()}
    return {"non_field_errors": [str(m) for m in _flatten(detail)]}


def _flatten(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _flatten(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _flatten(item)
    else:
        yield value


def _first_message(detail) -> str:
    for message in _flatten(detail):
        if isinstance(detail, dict):
            for key, value in detail.items():
                if message in list(_flatten(value)):
                    return f"{key}: {message}"
        return str(message)
    return "Invalid input."


def document_unreadable_bodies(result, generator, request, public):
    """drf-spectacular hook: every operation that reads a body may answer 415 when the body is not JSON, a form
    or multipart data it can read (the same error body as the other errors)."""
    for path in result.get("paths", {}).values():
        for operation in path.values():
            if isinstance(operation, dict) and "requestBody" in operation:
                operation.setdefault("responses", {}).setdefault("415", {
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    "description": "The body's media type is not one the API reads, or the body cannot be read.",
                })
    return result
