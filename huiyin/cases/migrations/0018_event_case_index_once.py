# Hand-edited from makemigrations: the event's own index on `case` goes, nothing else changes.
# AlterField would make SQLite copy the whole timeline into a new table (and lose what else is
# defined on it); dropping the one index is what the change means on both databases.

import django.db.models.deletion
from django.db import migrations, models

INDEX = "cases_event_case_id_59b954a1"  # the name Django gave the foreign key's index


class Migration(migrations.Migration):

    dependencies = [
        ('cases', '0017_unit_indexes_covering_scope'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='event',
                    name='case',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT,
                                            related_name='events', to='cases.case'),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    sql=f'DROP INDEX IF EXISTS "{INDEX}"',
                    reverse_sql=f'CREATE INDEX "{INDEX}" ON "cases_event" ("case_id")',
                ),
            ],
        ),
    ]
