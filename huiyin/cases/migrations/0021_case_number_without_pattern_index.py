# Hand-written. A case number is looked up by equality only (the search box's exact form, the API's
# and the pages' URLs): PostgreSQL's second index on it, for LIKE 'prefix%', is dropped. Every intake
# wrote an entry in it. Nothing changes on SQLite (see huiyin.db.without_pattern_indexes).

from django.db import migrations

from huiyin.db import without_pattern_indexes


class Migration(migrations.Migration):

    dependencies = [
        ('cases', '0020_references_indexed_where_set'),
    ]

    operations = [
        without_pattern_indexes({"cases_case_number_980c9551_like": ("cases_case", "number")}),
    ]
