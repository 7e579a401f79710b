"""Indexes for the staff pages' reads at a million cases, declared in SQL like the subject's
trigram index (0007), so the model's state is unchanged:

- the complainant's name: a search by name (for roles that may read it) is an exact match;
- (state, next_due_at, id): each "waiting for me" term (a state and a unit) most urgent first,
  read in order and stopped at the cap, instead of sorting every open case of the state;
- the compensation's approval status: what waits for the leader, a handful among a million;
- (registered_by, state): "registered by me, still open" on the workbench of an agent who has
  registered half a million cases.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("cases", "0013_clock_anchors_cycles_approvers_respondents")]
    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS case_complainant_name ON cases_case (complainant_name)",
            "DROP INDEX IF EXISTS case_complainant_name",
        ),
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS case_state_due ON cases_case (state, next_due_at, id)",
            "DROP INDEX IF EXISTS case_state_due",
        ),
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS case_compensation_status ON cases_case (compensation_status, id)",
            "DROP INDEX IF EXISTS case_compensation_status",
        ),
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS case_registered_by_state ON cases_case (registered_by_id, state)",
            "DROP INDEX IF EXISTS case_registered_by_state",
        ),
    ]
