"""Subject search on PostgreSQL: a trigram GIN index, so `q=<words>` is an index lookup on a
million cases instead of a full scan. pg_trgm is a trusted extension (PostgreSQL ≥ 13): the
database owner may create it. SQLite has no such index; its scans stay fast enough there."""

from django.db import migrations


def forward(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS case_subject_trgm ON cases_case USING gin (UPPER(subject) gin_trgm_ops)"
        )


def backward(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS case_subject_trgm")


class Migration(migrations.Migration):
    dependencies = [("cases", "0006_category_class")]
    operations = [migrations.RunPython(forward, backward)]
