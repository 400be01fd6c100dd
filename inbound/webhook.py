"""Inbound mail from a hosted mail service (django-anymail's inbound webhooks), for sites that cannot poll IMAP.

Anymail checks the request (HTTP basic auth with INBOUND_WEBHOOK_SECRET, or
the service's signature) and turns each service's format into one message;
this receiver hands the message's bytes to the same `receive` as the poller.
"""
from anymail.signals import inbound
from django.dispatch import receiver

from inbound.models import InboundMessage
from inbound.services import receive


@receiver(inbound, dispatch_uid="tierdesk-inbound-mail")
def on_inbound(sender, event, esp_name, **kwargs):
    receive(event.message.as_bytes(), source=InboundMessage.Source.WEBHOOK, mailbox=f"webhook:{esp_name}")
