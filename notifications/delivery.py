"""Send notification e-mails: one at a time, claimed from the database, retried with backoff.

The same pattern as `webhooks.delivery`:

1. `notifications.handlers.on_event` writes `Notification` rows inside the
   outbox transaction and queues a `send_notification` task per row on commit.
2. `send` sends one notification. The row is the source of truth: it is
   claimed with ``SELECT … FOR UPDATE SKIP LOCKED`` and a lease (its next
   attempt time moves past the longest possible SMTP conversation), so two
   workers never send it at once and no lock is held while talking SMTP.
3. `retry_due` is the periodic sweep (beat "notification-retries"): it sends
   whatever is due, including notifications whose task message was lost.

Outcomes: accepted by the SMTP server → ``sent``. An SMTP or network error →
``attempts + 1`` and the next attempt after an exponential backoff
(NOTIFY_RETRY_BASE_SECONDS doubling up to NOTIFY_RETRY_MAX_SECONDS), or
``failed`` after NOTIFY_MAX_ATTEMPTS; a recipient the server refuses for good
(5xx) is ``failed`` at once. A mail that cannot be rendered is ``failed`` at
once, with the reason. Delivery is at least once: a worker that dies after
the server accepted the mail but before it recorded that sends it again
later, with the same Message-ID.
"""
import logging
import smtplib
from datetime import timedelta

from django.conf import settings
from django.core.mail import get_connection
from django.db import transaction
from django.template import TemplateDoesNotExist, TemplateSyntaxError
from django.utils import timezone

from notifications.messages import RenderError, build, one_line
from notifications.models import ERROR_MAX_LENGTH, Notification
from tickets import retries

logger = logging.getLogger(__name__)

RETRY_BATCH = 100


def send(notification_id: int) -> str | None:
    """Send one notification if it is pending and due. Returns its new status, or None if this call did nothing.

    Never raises for a mail problem: every outcome is recorded on the row.
    """
    notification = _claim(notification_id)
    if notification is None:
        return None

    try:
        message = build(notification)
    except Exception as exc:  # a broken template or refused content: retrying renders the same thing
        reason = _render_reason(exc)
        logger.warning("Notification %s cannot be rendered: %s", notification.pk, reason, exc_info=True)
        return _finish(notification, Notification.Status.FAILED, reason)

    try:
        sent = get_connection(fail_silently=False).send_messages([message])
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _text in exc.recipients.values()]
        reason = _smtp_reason(exc)
        if codes and all(500 <= code < 600 for code in codes):
            return _finish(notification, Notification.Status.FAILED, reason)  # refused for good
        return _retry(notification, reason)
    except (smtplib.SMTPException, OSError) as exc:
        return _retry(notification, _smtp_reason(exc))
    except Exception as exc:  # anything else from the backend is a failed attempt too, never a crashed task
        logger.exception("Notification %s: unexpected error from the mail backend.", notification.pk)
        return _retry(notification, f"Sending failed: {type(exc).__name__}.")
    if not sent:
        return _retry(notification, "The mail backend sent nothing.")
    return _finish(notification, Notification.Status.SENT, "")


def _claim(notification_id: int) -> Notification | None:
    """Take the notification for one attempt, or None if it is not pending, not due, or someone else has it."""
    now = timezone.now()
    with transaction.atomic():
        # SKIP LOCKED: a notification another worker is claiming right now is
        # not ours. The lease then keeps the sweep and other workers away while
        # we talk SMTP without holding the lock (on SQLite, where there are no
        # row locks, the conditional update below is the compare-and-set).
        notification = (
            Notification.objects.select_for_update(skip_locked=True)
            .filter(pk=notification_id, status=Notification.Status.PENDING, next_attempt_at__lte=now)
            .first()
        )
        if notification is None:
            return None
        claimed = Notification.objects.filter(
            pk=notification.pk, status=Notification.Status.PENDING, next_attempt_at__lte=now
        ).update(next_attempt_at=now + lease())
        return notification if claimed else None


def _retry(notification: Notification, error: str) -> str:
    attempts = notification.attempts + 1
    if attempts >= settings.NOTIFY_MAX_ATTEMPTS:
        logger.warning("Notification %s failed for good after %s attempts: %s", notification.pk, attempts, error)
        return _finish(notification, Notification.Status.FAILED, error)
    next_attempt_at = timezone.now() + backoff(attempts)
    Notification.objects.filter(pk=notification.pk).update(
        attempts=attempts, next_attempt_at=next_attempt_at, last_error=_short(error)
    )
    notification.attempts, notification.next_attempt_at, notification.last_error = attempts, next_attempt_at, error
    return Notification.Status.PENDING


def _finish(notification: Notification, status: str, error: str) -> str:
    fields = {"status": status, "attempts": notification.attempts + 1, "last_error": _short(error)}
    if status == Notification.Status.SENT:
        fields["sent_at"] = timezone.now()
    Notification.objects.filter(pk=notification.pk).update(**fields)
    for name, value in fields.items():
        setattr(notification, name, value)
    return status


def lease() -> timedelta:
    """How long a claimed notification is left alone: longer than an SMTP conversation can take."""
    timeout = getattr(settings, "EMAIL_TIMEOUT", None) or 30
    return timedelta(seconds=3 * timeout + 30)


def backoff(attempts: int) -> timedelta:
    """Wait after the n-th failed attempt: base, 2×base, 4×base, … capped at NOTIFY_RETRY_MAX_SECONDS."""
    return retries.backoff(
        attempts, base=settings.NOTIFY_RETRY_BASE_SECONDS, cap=settings.NOTIFY_RETRY_MAX_SECONDS
    )


# --- error texts: short, one line, nothing secret ------------------------------------------


def _short(error: str) -> str:
    return one_line(error)[:ERROR_MAX_LENGTH]


def _render_reason(exc: Exception) -> str:
    # Template errors name a template or a tag; RenderError messages are ours. Any
    # other exception text could quote a URL with the customer's tracking token
    # (NoReverseMatch lists the arguments), so only its type is kept.
    if isinstance(exc, (TemplateDoesNotExist, TemplateSyntaxError, RenderError)):
        return f"Rendering failed: {type(exc).__name__}: {exc}"
    return f"Rendering failed: {type(exc).__name__}."


def _smtp_reason(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()), (0, b""))
        return f"Recipient refused: SMTP {code} {_decode(text)}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{type(exc).__name__}: SMTP {exc.smtp_code} {_decode(exc.smtp_error)}"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{type(exc).__name__}: {exc.strerror}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _decode(text) -> str:
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


# --- the retry sweep -------------------------------------------------------------------


def retry_due(*, batch: int = RETRY_BATCH) -> int:
    """Send every pending notification that is due, oldest first. Returns how many sends were attempted."""
    pending = Notification.objects.filter(status=Notification.Status.PENDING)
    return retries.retry_due(pending, send, batch=batch, what="Notification")
