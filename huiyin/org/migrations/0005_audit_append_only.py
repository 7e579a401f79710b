"""The audit log is append-only: on PostgreSQL a trigger refuses UPDATE and DELETE of its rows
(as the case timeline's, cases 0003). SQLite: the admin offers no change or delete, and nothing
in Huiyin writes to it but `org.audit.audit`."""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION org_auditentry_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'org_auditentry is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER org_auditentry_no_update BEFORE UPDATE OR DELETE ON org_auditentry
  FOR EACH ROW EXECUTE FUNCTION org_auditentry_append_only();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS org_auditentry_no_update ON org_auditentry;
DROP FUNCTION IF EXISTS org_auditentry_append_only();
"""


def forward(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("org", "0004_tokens_sessions_mfa_audit")]
    operations = [migrations.RunPython(forward, backward)]
