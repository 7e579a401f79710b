# Hand-edited from makemigrations. References a new case mostly lacks (category, proposed unit,
# respondent unit, merged into, repeat of) are indexed only where set, and `registered_by` loses
# its own index (`case_registered_by_state` begins with it): an intake writes five index entries
# fewer. The foreign keys' indexes are dropped by name: AlterField would make SQLite copy the whole
# case table into a new one to change the fields' state.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# The names Django gave the foreign keys' indexes (the same on both databases).
OLD = {
    "category_id": "cases_case_category_id_c6dc5a5a",
    "merged_into_id": "cases_case_merged_into_id_1b4320d8",
    "proposed_unit_id": "cases_case_proposed_unit_id_cfb6c0ae",
    "registered_by_id": "cases_case_registered_by_id_baa64d7e",
    "repeat_of_id": "cases_case_repeat_of_id_40a91699",
    "respondent_unit_id": "cases_case_respondent_unit_id_a915c8d7",
}


class Migration(migrations.Migration):

    dependencies = [
        ('cases', '0019_staff_list_indexes_declared'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='case',
                    name='category',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='cases.category'),
                ),
                migrations.AlterField(
                    model_name='case',
                    name='merged_into',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='cases.case'),
                ),
                migrations.AlterField(
                    model_name='case',
                    name='proposed_unit',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='org.unit'),
                ),
                migrations.AlterField(
                    model_name='case',
                    name='registered_by',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='受理人'),
                ),
                migrations.AlterField(
                    model_name='case',
                    name='repeat_of',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='cases.case', verbose_name='重复投诉'),
                ),
                migrations.AlterField(
                    model_name='case',
                    name='respondent_unit',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='org.unit', verbose_name='被投诉单位'),
                ),
            ],
            database_operations=[
                migrations.RunSQL(sql=f'DROP INDEX IF EXISTS "{name}"',
                                  reverse_sql=f'CREATE INDEX "{name}" ON "cases_case" ("{column}")')
                for column, name in OLD.items()
            ],
        ),
        *[migrations.AddIndex(model_name='case', index=models.Index(
            condition=models.Q((f'{name}__isnull', False)), fields=[name], name=f'case_{name}'))
          for name in ('category', 'proposed_unit', 'respondent_unit', 'merged_into', 'repeat_of')],
    ]
