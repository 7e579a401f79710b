"""A search by the complainant's name (the staff pages' search box, for roles that may read it)
is an exact match: a plain index on the name keeps it an index lookup on a million cases.
Declared in SQL, like the subject's trigram index (0007), so the model's state is unchanged."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("cases", "0012_case_next_deadline")]
    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS case_complainant_name ON cases_case (complainant_name)",
            "DROP INDEX IF EXISTS case_complainant_name",
        ),
    ]
