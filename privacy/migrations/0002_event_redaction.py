"""On PostgreSQL, let an anonymisation replace the free text of ticket events, and nothing else.

The event log's trigger (tickets.0002) refuses every change but the outbox marker. A requester's anonymisation
(`privacy.services.requester_anonymise`) must still replace the customer's words that events carry in `reason`
and `data`. This version of the trigger lets those two columns change only while the current transaction has
set ``tierdesk.redact_events`` to ``on`` (``set_config(..., true)``: it ends with the transaction, and a rollback
reverts it); every other column, and every deletion, stays refused whatever the setting.
"""
import importlib

from django.db import migrations

from helpdesk.postgres import on_postgresql

REDACTABLE = """
CREATE OR REPLACE FUNCTION tickets_event_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'tickets_event is append-only: DELETE refused';
    END IF;
    IF (NEW.id, NEW.ticket_id, NEW.kind, NEW.at, NEW.actor_id, NEW.actor_requester_id, NEW.actor_role,
        NEW.from_status, NEW.to_status, NEW.from_tier_id, NEW.to_tier_id)
       IS DISTINCT FROM
       (OLD.id, OLD.ticket_id, OLD.kind, OLD.at, OLD.actor_id, OLD.actor_requester_id, OLD.actor_role,
        OLD.from_status, OLD.to_status, OLD.from_tier_id, OLD.to_tier_id) THEN
        RAISE EXCEPTION 'tickets_event is append-only: only dispatched_at may change';
    END IF;
    IF (NEW.reason, NEW.data::text) IS DISTINCT FROM (OLD.reason, OLD.data::text)
       AND coalesce(current_setting('tierdesk.redact_events', true), '') <> 'on' THEN
        RAISE EXCEPTION 'tickets_event is append-only: reason and data change only when personal data is anonymised';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql
"""


def _original() -> str:
    """The trigger as tickets.0002 made it (restored when this migration is unapplied)."""
    return importlib.import_module("tickets.migrations.0002_event_append_only_trigger").CREATE


class Migration(migrations.Migration):
    dependencies = [("privacy", "0001_initial"), ("tickets", "0002_event_append_only_trigger")]

    operations = [on_postgresql([REDACTABLE], [_original()])]
