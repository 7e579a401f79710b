"""The case's units, indexed once, and the reader's scope checked from an index (PostgreSQL).

- `owner_unit` and `unit` lose their single-column indexes: `case_owner_id` and `case_unit_id`
  ((unit, -id)) begin with the same column and serve every look-up by unit. Dropped by name, so
  SQLite does not copy the table to change the fields' state.
- PostgreSQL gains `case_id_units`: the case's key with its two units beside it (INCLUDE). The
  search checks the reader's scope (`cases.access.cases_for`: registered by or handled in the
  reader's units) on each match, or reads the scope's cases in key order to merge them with the
  matches; with the units in the index these are index-only reads, never the case's wide row
  (a narrow reader's search at 1,000,000 cases: the scope's side of the merge 13 → 2 ms).
  SQLite keeps its plans (its table is already ordered by the key; an index on the key alone
  would be a copy of the table's order without the units, which it cannot INCLUDE).
"""

from django.db import migrations, models
import django.db.models.deletion


def covering_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS case_id_units ON cases_case (id) INCLUDE (owner_unit_id, unit_id)")


def drop_covering_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS case_id_units")


class Migration(migrations.Migration):

    dependencies = [
        ('cases', '0016_channels_recording_notices_documents'),
        ('org', '0006_merge_0004_duty_shifts_0005_audit_append_only'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='case',
                    name='owner_unit',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='org.unit', verbose_name='受理单位'),
                ),
                migrations.AlterField(
                    model_name='case',
                    name='unit',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='org.unit', verbose_name='承办单位'),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "cases_case_owner_unit_id_cd1312e3"',
                    'CREATE INDEX IF NOT EXISTS "cases_case_owner_unit_id_cd1312e3" ON "cases_case" ("owner_unit_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "cases_case_unit_id_f34fc706"',
                    'CREATE INDEX IF NOT EXISTS "cases_case_unit_id_f34fc706" ON "cases_case" ("unit_id")',
                ),
            ],
        ),
        migrations.RunPython(covering_index, drop_covering_index),
    ]
