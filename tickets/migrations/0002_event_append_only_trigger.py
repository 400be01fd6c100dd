"""On PostgreSQL, enforce in the database that events are append-only.

The model refuses to change or delete events; this trigger makes the same
promise hold for raw SQL too. Only the outbox marker `dispatched_at` may
change after insert.
"""
from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION tickets_event_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'tickets_event is append-only: DELETE refused';
    END IF;
    IF (NEW.id, NEW.ticket_id, NEW.kind, NEW.at, NEW.actor_id, NEW.actor_requester_id, NEW.actor_role,
        NEW.from_status, NEW.to_status, NEW.from_tier_id, NEW.to_tier_id, NEW.reason, NEW.data::text)
       IS DISTINCT FROM
       (OLD.id, OLD.ticket_id, OLD.kind, OLD.at, OLD.actor_id, OLD.actor_requester_id, OLD.actor_role,
        OLD.from_status, OLD.to_status, OLD.from_tier_id, OLD.to_tier_id, OLD.reason, OLD.data::text) THEN
        RAISE EXCEPTION 'tickets_event is append-only: only dispatched_at may change';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS tickets_event_append_only ON tickets_event;
CREATE TRIGGER tickets_event_append_only BEFORE UPDATE OR DELETE ON tickets_event
    FOR EACH ROW EXECUTE FUNCTION tickets_event_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS tickets_event_append_only ON tickets_event;
DROP FUNCTION IF EXISTS tickets_event_append_only();
"""


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("tickets", "0001_initial")]

    operations = [migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP))]
