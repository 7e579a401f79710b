"""The staff pages' indexes of 0014 (made there in SQL), declared on the model.

On SQLite 0015 and 0016 rebuilt `cases_case` (SQLite changes a column by copying the table), and a
rebuild recreates only the indexes the models' state names: these three were lost, so a SQLite
database had none of them (docs/migrations.md). Declared in `Case.Meta.indexes` they survive any
later rebuild. The database keeps them where it has them (PostgreSQL: `IF NOT EXISTS`) and gets
them where it lost them (SQLite).
"""

from django.db import migrations, models

INDEXES = {
    "case_state_due": ("(state, next_due_at, id)", models.Index(fields=["state", "next_due_at", "id"],
                                                                name="case_state_due")),
    "case_compensation_status": ("(compensation_status, id)", models.Index(fields=["compensation_status", "id"],
                                                                            name="case_compensation_status")),
    "case_registered_by_state": ("(registered_by_id, state)", models.Index(fields=["registered_by", "state"],
                                                                            name="case_registered_by_state")),
}


class Migration(migrations.Migration):
    # on the last migration the squash replaces (Django points it at the squash where that is used);
    # when the replaced files go, at the squash itself (docs/migrations.md)
    dependencies = [("cases", "0018_event_case_index_once")]
    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(f"CREATE INDEX IF NOT EXISTS {name} ON cases_case {columns}",
                                  f"DROP INDEX IF EXISTS {name}")
                for name, (columns, _) in INDEXES.items()
            ],
            state_operations=[migrations.AddIndex("case", index) for _, index in INDEXES.values()],
        ),
    ]
