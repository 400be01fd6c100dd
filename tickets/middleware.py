"""Request-wide handling of the event outbox."""
from tickets import outbox


class PublishEventsMiddleware:
    """The events a request commits are published as one broker message when it ends, not one each (a new
    ticket from a repeat customer makes two; a desk action with a comment, two or three)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with outbox.publishing_in_bulk():
            return self.get_response(request)
