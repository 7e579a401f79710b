"""Stage deadlines on the Chinese calendar: holidays, make-up days, provisional years, breaches."""

from __future__ import annotations

import pytest
import time_machine
from django.core.management import call_command

from huiyin.cases.jobs import sweep_breaches
from huiyin.cases.models import Event, Timer
from huiyin.cases.tests.helpers import case_in, query_plan
from huiyin.conftest import bj
from huiyin.sla.models import MissingCalendarYear
from huiyin.sla.services import calendar_import_year, parse_calendar_file

pytestmark = pytest.mark.django_db


def _due(body: dict, timer: str) -> dict:
    return next(d for d in body["deadlines"] if d["timer"] == timer)


def test_national_day_is_skipped_and_the_makeup_saturday_counts(api) -> None:
    # Received Wed 30 Sep 2026 10:00. 1–7 Oct are holidays; 8 Oct (Thu) works,
    # 9 Oct (Fri) works, Sat 10 Oct is a make-up working day.
    with time_machine.travel(bj(2026, 9, 30, 10, 0), tick=False):
        n = case_in(api, "dispatched")
        body = api("handler_a").get(f"/cases/{n}").json()
        assert _due(body, "resolve")["due_at"] == "2026-10-09T17:30:00+08:00"
    with time_machine.travel(bj(2026, 10, 8, 10, 0), tick=False):
        n = case_in(api, "dispatched", channel="upstream")  # provincial-centre ticket: 3 working days
        assert _due(api("handler_a").get(f"/cases/{n}").json(), "resolve")["due_at"] == "2026-10-12T17:30:00+08:00"


def test_receipt_on_a_holiday_counts_from_the_next_working_day(api) -> None:
    with time_machine.travel(bj(2026, 2, 17, 11, 0), tick=False):  # 春节 holiday
        n = case_in(api, "dispatched")
        body = api("handler_a").get(f"/cases/{n}").json()
        assert _due(body, "resolve")["due_at"] == "2026-02-25T17:30:00+08:00"
        # acknowledgement: 2 business hours from the first opening (Tue 24 Feb 08:30)
        assert _due(body, "acknowledge")["due_at"] == "2026-02-24T10:30:00+08:00"


def test_consultations_are_answered_the_same_day(api) -> None:
    with time_machine.travel(bj(2026, 2, 28, 9, 0), tick=False):  # make-up Saturday
        n = case_in(api, "dispatched", kind="consultation", subject="咨询办证流程")
        assert _due(api("handler_a").get(f"/cases/{n}").json(), "resolve")["due_at"] == "2026-02-28T17:30:00+08:00"


def test_deadlines_into_an_unknown_year_are_provisional_until_it_is_imported(api) -> None:
    with time_machine.travel(bj(2026, 12, 31, 15, 0), tick=False):
        n = case_in(api, "dispatched")
        resolve = _due(api("handler_a").get(f"/cases/{n}").json(), "resolve")
        # weekends alone: Fri 1 Jan 2027 and Mon 4 Jan 2027
        assert resolve["due_at"] == "2027-01-04T17:30:00+08:00"
        assert resolve["provisional"] is True
        assert MissingCalendarYear.objects.filter(year=2027, resolved_at__isnull=True).exists()

        parsed = parse_calendar_file(
            "year 2027\nholiday 2027-01-01 元旦\nholiday 2027-01-02..2027-01-03 元旦\n"
            "holiday 2027-01-04 元旦(示例)\nmakeup 2027-01-09 元旦调休\n"
        )
        from django.db import connection

        from huiyin.sla.signals import calendar_year_imported

        calendar_import_year(parsed)
        calendar_year_imported.send(sender=None, year=2027)  # on_commit does not fire inside a test
        resolve = _due(api("handler_a").get(f"/cases/{n}").json(), "resolve")
        assert resolve["provisional"] is False
        # 1 and 4 Jan are holidays now: Tue 5 Jan is the first working day, Wed 6 Jan the second
        assert resolve["due_at"] == "2027-01-06T17:30:00+08:00"
        assert connection.vendor in ("sqlite", "postgresql")


def test_the_calendar_api_answers_days_and_deadlines(api) -> None:
    r = api("agent").get("/calendar/day", date="2026-02-14")
    assert r.json()["workday"] is True
    assert r.json()["makeup"] is True
    assert r.json()["holiday"] is False
    r = api("agent").get("/calendar/day", date="2026-10-01")
    assert (r.json()["workday"], r.json()["holiday"]) == (False, True)
    r = api("agent").get("/calendar/deadline", start="2026-02-13T09:00:00+08:00", amount=2, unit="working_days")
    assert r.json() == {"due_at": "2026-02-24T17:30:00+08:00", "provisional": False, "unknown_years": []}
    r = api("agent").get("/calendar/deadline", start="2026-12-31T09:00:00+08:00", amount=3, unit="working_days")
    assert r.json()["provisional"] is True
    r = api("agent").get("/calendar/deadline", start="2026-02-13T16:00:00+08:00", amount=3, unit="business_hours")
    assert r.json()["due_at"] == "2026-02-14T10:00:00+08:00"  # the make-up Saturday opens at 08:30


def test_the_sweep_marks_breaches_once_with_a_timeline_event(api) -> None:
    with time_machine.travel(bj(2026, 3, 9, 9, 0), tick=False):
        n = case_in(api, "dispatched")
    with time_machine.travel(bj(2026, 3, 9, 12, 0), tick=False):
        assert sweep_breaches() == 1  # acknowledge was due 11:00 (2 business hours)
        assert sweep_breaches() == 0
        body = api("handler_a").get(f"/cases/{n}").json()
        ack = _due(body, "acknowledge")
        assert ack["state"] == "breached"
        assert ack["breach_seconds"] == 3600
    with time_machine.travel(bj(2026, 3, 9, 14, 0), tick=False):
        body = api("handler_a").act(n, "acknowledge").json()
        ack = _due(body, "acknowledge")
        assert ack["state"] == "breached"
        assert ack["breach_seconds"] == 3 * 3600
    breaches = Event.objects.filter(case__number=n, action="breach")
    assert [e.changes["timer"][1] for e in breaches] == ["acknowledge"]


def test_the_worker_command_runs_a_pass(api) -> None:
    with time_machine.travel(bj(2026, 3, 9, 9, 0), tick=False):
        n = case_in(api, "dispatched")
    with time_machine.travel(bj(2026, 3, 12, 9, 0), tick=False):
        call_command("worker", "--once")
    states = dict(Timer.objects.filter(case__number=n).values_list("code", "state"))
    assert states["acknowledge"] == "breached"
    assert states["resolve"] == "breached"
    assert states["dispatch"] == "met"


def test_the_workers_first_pass_lets_sqlite_find_a_callers_closed_cases_by_the_phone_hash(api) -> None:
    """Without statistics SQLite's planner took the repeat look-up of every intake (the caller's
    recently closed case) through the state index, walking every closed case; the worker's
    first pass analyses the database, and the look-up then goes by the phone's hash."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from huiyin.cases import grading
    from huiyin.cases.models import Case

    if connection.vendor != "sqlite":
        pytest.skip("SQLite's planner: PostgreSQL's autovacuum keeps its statistics, the worker leaves them to it")
    n = case_in(api, "closed")
    closed = Case.objects.get(number=n)
    clones = []
    for i in range(60):  # other callers' closed cases: each phone hash names a case or two
        clone = Case.objects.get(pk=closed.pk)
        clone.pk = None
        clone.number = f"{n}-{i}"
        for field in grading.CUSTOMER_FIELDS:  # another caller: their own phone, account, id number
            setattr(clone, f"{field}_hash", f"{field[12:14]}{i:030x}")
        clones.append(clone)
    Case.objects.bulk_create(clones)
    call_command("worker", "--once")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM sqlite_stat1 WHERE idx = 'case_phone_hash'")
        assert cursor.fetchone()[0] == 1
    fresh = Case.objects.get(pk=closed.pk)
    with CaptureQueriesContext(connection) as queries:
        grading.latest_closed_of_customer(fresh, 30)
    (look_up,) = [q["sql"] for q in queries.captured_queries if "closed_at" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + look_up)
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())
    assert "case_phone_hash" in plan and "case_state_id" not in plan, plan


def test_only_a_co_handling_units_stage_has_an_entry_in_the_co_unit_index(api) -> None:
    """The case's own stages (nearly every timer) have no co-handling unit and write no entry in
    its index (cases 0023); a unit's co-handling stages are still found through it."""
    from django.db import connection

    from huiyin.org.models import Unit

    n = case_in(api, "accepted")
    unit = Unit.objects.get(code="county_b")
    own = Timer.objects.filter(case__number=n).first()
    assert own is not None and own.co_unit_id is None
    # by the unit alone, as Django's PROTECT check asks before a unit is deleted (the workflow's
    # look-ups name the case too and go by its index)
    plan = query_plan(Timer.objects.filter(co_unit__in=[unit.pk]).values("id"))
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("SELECT sql FROM sqlite_master WHERE name = 'timer_co_unit'")
            assert "IS NOT NULL" in cursor.fetchone()[0]
    assert "timer_co_unit" in plan, plan
