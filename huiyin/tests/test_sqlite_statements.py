"""SQLite's statements (huiyin/sqlite/lookups.py, settings.py): a partial index's own codes are
written into the SQL, so that SQLite keeps the compiled statement instead of compiling it again on
every run; nothing a user typed is ever written that way; and the partial indexes still serve
the queries. PostgreSQL has no such rule. (`detect_types` 0, settings.py: what our own SQL reads
of a `date` column is converted by the reader, as reports/tests/test_day_totals.py checks.)"""

from __future__ import annotations

import pytest
from django.db import connection, models

from huiyin.cases.access import cases_in_units
from huiyin.cases.models import Case, CoHandling, Extension, ExtensionStatus, State, Timer, TimerState
from huiyin.notify.models import Message, Status
from huiyin.sqlite.lookups import _literal, partial_fields

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's compiled statements only"),
]


def sql_of(qs: object) -> tuple[str, tuple[object, ...]]:
    sql, params = qs.query.sql_with_params()  # type: ignore[attr-defined]
    return sql, tuple(params)


def test_the_columns_of_partial_index_conditions_are_found() -> None:
    assert {f.name for f in partial_fields(CoHandling)} == {"active"}
    assert {f.name for f in partial_fields(Timer)} >= {"state", "provisional", "stopped_at", "co_unit"}
    assert {f.name for f in partial_fields(Case)} >= {"state", "next_due_at", "closed_at"}
    assert "kind" not in {f.name for f in partial_fields(Case)}


def test_a_partial_indexs_own_codes_are_written_into_the_sql() -> None:
    sql, params = sql_of(CoHandling.objects.filter(active=True, unit_id=7))
    assert '"active" = 1' in sql and params == (7,)
    sql, params = sql_of(Timer.objects.filter(state=TimerState.RUNNING, case_id=3))
    assert "\"state\" = 'running'" in sql and params == (3,)
    sql, params = sql_of(Message.objects.filter(status__in=[Status.PENDING, Status.FAILED, Status.PENDING, None]))
    assert "\"status\" IN ('pending', 'failed')" in sql and params == ()
    sql, params = sql_of(Case.objects.exclude(state__in=[State.CLOSED, State.INVALID]))
    assert "NOT (\"cases_case\".\"state\" IN ('closed', 'invalid'))" in sql and params == ()
    # case_for's scope: the co-handling subquery asks for active rows with the code written in
    sql, _ = sql_of(cases_in_units([1, 2]).filter(number="X"))
    assert '"active" = 1' in sql


def test_nothing_a_user_typed_is_written_into_the_sql() -> None:
    typed = "running' OR 1=1 --"
    sql, params = sql_of(Timer.objects.filter(state=typed))
    assert typed not in sql and params == (typed,)
    sql, params = sql_of(Timer.objects.filter(state__in=["running", typed]))
    assert "running" not in sql and params == ("running", typed)
    # a column no partial index names keeps its parameter, code or not
    sql, params = sql_of(Case.objects.filter(kind="report"))
    assert "'report'" not in sql and params == ("report",)
    sql, params = sql_of(Timer.objects.filter(basis="running"))
    assert params == ("running",)
    # a code that would read as a placeholder or end the literal early
    field = models.CharField(choices=[("50%s", "half"), ("it's", "quoted")])
    assert _literal(field, "50%s") is None
    assert _literal(field, "it's") == "'it''s'"
    assert _literal(models.BooleanField(), 1) is None and _literal(models.BooleanField(), False) == "0"


def test_the_written_codes_find_the_rows_and_the_partial_indexes_serve_them(org: object, api: object) -> None:
    from huiyin.cases.tests.helpers import case_in

    number = case_in(api, "accepted")
    case = Case.objects.get(number=number)
    assert Timer.objects.filter(case=case, state=TimerState.RUNNING).exists()
    assert not Timer.objects.filter(case=case, state="running ").exists()
    waiting = Extension.objects.filter(case=case, status=ExtensionStatus.REQUESTED)
    assert waiting.count() == 0
    assert api("handler_a").act(number, "request_extension",  # type: ignore[operator]
                                {"amount": 1, "unit": "working_days", "reason": "需现场核实"}).status_code == 200
    assert waiting.count() == 1

    def plan(qs: object) -> str:
        sql, params = qs.query.sql_with_params()  # type: ignore[attr-defined]
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            return " | ".join(str(row[-1]) for row in cursor.fetchall())

    assert "timer_running_due" in plan(Timer.objects.filter(state=TimerState.RUNNING).order_by("due_at").values("id"))
    assert "co_handling_active" in plan(CoHandling.objects.filter(unit_id=1, active=True).values("case_id"))
    assert "notify_message_due" in plan(Message.objects.filter(status__in=[Status.PENDING, Status.FAILED])
                                        .values("id"))
