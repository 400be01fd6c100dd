"""Inbound mail from a hosted mail service (django-anymail's inbound webhooks), for sites that cannot poll IMAP.

Anymail checks the request (HTTP basic auth with INBOUND_WEBHOOK_SECRET, or
the service's signature) and turns each service's format into one message;
this receiver hands the message's bytes to the same `receive` as the poller.
"""
import warnings

from anymail.signals import inbound
from django.core.exceptions import ImproperlyConfigured
from django.dispatch import receiver

from inbound.models import InboundMessage
from inbound.services import receive


@receiver(inbound, dispatch_uid="tierdesk-inbound-mail")
def on_inbound(sender, event, esp_name, **kwargs):
    receive(event.message.as_bytes(), source=InboundMessage.Source.WEBHOOK, mailbox=f"webhook:{esp_name}")


def inbound_urlpatterns() -> list:
    """Anymail's inbound endpoints for the mail services these settings can serve.

    Anymail's URLs name every service it knows; one whose settings are missing here (an API key, a signing
    key, a package not installed) answers every request, even an anonymous one, with a server error. Only the
    inbound endpoints whose view can be made with the settings are mounted; the rest, and the delivery
    tracking endpoints nothing here listens to, are simply not found.
    """
    from anymail import urls

    mounted = []
    for pattern in urls.urlpatterns:
        if not pattern.name.endswith("_inbound_webhook"):
            continue
        view = pattern.callback
        try:
            with warnings.catch_warnings():  # a service's deprecation notice is for requests, not for this probe
                warnings.simplefilter("ignore")
                view.view_class(**view.view_initkwargs)
        except ImproperlyConfigured:
            continue
        mounted.append(pattern)
    return mounted
