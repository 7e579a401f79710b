"""Timeline events are append-only: on PostgreSQL a trigger refuses UPDATE and DELETE
(TRUNCATE, used by test flushes and by nothing in the product, is not a row operation)."""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION cases_event_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'cases_event is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER cases_event_no_update BEFORE UPDATE OR DELETE ON cases_event
  FOR EACH ROW EXECUTE FUNCTION cases_event_append_only();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS cases_event_no_update ON cases_event;
DROP FUNCTION IF EXISTS cases_event_append_only();
"""


def forward(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)
    # SQLite: not enforced in the database (Django's test flush deletes rows); Event.save/delete refuse.


def backward(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("cases", "0002_initial")]
    operations = [migrations.RunPython(forward, backward)]
