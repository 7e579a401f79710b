"""The reads whose SQL is kept per process (`huiyin.kept`) answer exactly what the ORM queries
they replace answer, for every persona, and are kept rather than built again on each call."""

from __future__ import annotations

from typing import Any

from django.db.models import Model

from huiyin import kept
from huiyin.cases.access import case_for, cases_for, identity_scope
from huiyin.cases.identity import matches
from huiyin.cases.models import Case, Timer
from huiyin.cases.selectors import current_timers, customer_cases
from huiyin.cases.tests.helpers import case_in
from huiyin.conftest import new_case
from huiyin.org.models import User

PHONE = "13800007777"
RELATED = ("owner_unit", "unit", "proposed_unit", "category", "registered_by", "respondent_unit")


def row(obj: Model | None) -> dict[str, Any] | None:
    """Every loaded column of an instance (deferred ones left out), or None."""
    if obj is None:
        return None
    deferred = obj.get_deferred_fields()
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields if f.attname not in deferred}


def test_kept_reads_answer_what_the_orm_answers_for_every_persona(api, org) -> None:
    numbers = [case_in(api, "dispatched", complainant={"name": "周九", "phone": PHONE}),
               new_case(api, complainant={"name": "周九", "phone": PHONE})["number"],
               new_case(api, kind="report", complainant={"name": "吴十", "phone": PHONE})["number"],
               "TS20990101-999999"]
    for user in User.objects.all():
        for _ in range(2):  # the first call keeps the SQL, the second runs it
            for number in numbers:
                got = case_for(user, number)
                want = cases_for(user).select_related(*RELATED).filter(number=number).first()
                assert row(got) == row(want), (user.username, number)
                if got is not None and want is not None:
                    for name in RELATED:  # brought in the same query, as select_related does
                        assert name in got._state.fields_cache, name
                        assert row(getattr(got, name)) == row(getattr(want, name)), (user.username, number, name)
            got_cases = customer_cases(user, PHONE, limit=10)
            want_cases = list(cases_for(user).filter(matches("complainant_phone", PHONE), identity_scope(user))
                              .order_by("-id")[:10])
            assert [row(c) for c in got_cases] == [row(c) for c in want_cases], user.username
    for case in Case.objects.all():
        want_timers = list(Timer.objects.filter(case=case, co_unit__isnull=True, cycle=case.cycle).order_by("id"))
        latest = {t.code: t for t in want_timers}
        assert [row(t) for t in current_timers(Case.objects.get(pk=case.pk))] == \
            [row(t) for t in sorted(latest.values(), key=lambda t: t.started_at)]
    mine = [v for k, v in kept._KEPT.items() if isinstance(k, tuple) and k[2][0] in {"case_for", "customer_cases", "current_timers"}]
    assert len(mine) >= 3 and None not in mine  # kept: none of them falls back to the ORM on every call


def test_the_open_clocks_an_action_stops_are_those_the_orm_finds(api) -> None:
    """`deadlines._open` (one to four times an action): the case's own open clocks, a co-handling
    unit's, or every unit's, of the codes asked for (all of them when None), end-to-end first."""
    from huiyin.cases.deadlines import END_TO_END, _open
    from huiyin.org.models import Unit

    n = new_case(api)["number"]
    assert api("dispatcher").act(n, "dispatch", {"unit": "county_a", "co_units": ["county_b"]}).status_code == 200
    api("leader").act(n, "approve", {})
    case = Case.objects.get(number=n)
    county_b = Unit.objects.get(code="county_b")

    def orm(codes: tuple[str, ...] | None, unit: Unit | None, every: bool) -> list[Timer]:
        from huiyin.policies.config import TIMER_CODES

        qs = Timer.objects.filter(case=case, stopped_at__isnull=True, code__in=codes or TIMER_CODES)
        if not every:
            qs = qs.filter(co_unit=unit) if unit is not None else qs.filter(co_unit__isnull=True)
        return sorted(qs, key=lambda t: (t.code != END_TO_END, t.pk))

    asked = [(None, None, False), (("acknowledge", "resolve"), None, False), (("acknowledge",), county_b, False),
             (None, county_b, False), (("acknowledge", "first_contact"), None, True), (("no_such_code",), None, False)]
    for _ in range(2):  # the first call keeps the SQL, the second runs it
        for codes, unit, every in asked:
            got, want = _open(case, codes, unit, every_unit=every), orm(codes, unit, every)
            assert [row(t) for t in got] == [row(t) for t in want], (codes, unit, every)
    assert {t.co_unit_id for t in _open(case, None, None, every_unit=True)} == {None, county_b.pk}
    mine = [v for k, v in kept._KEPT.items() if isinstance(k, tuple) and k[2][0] == "deadlines.open"]
    assert len(mine) >= len(asked) and None not in mine  # the actions above kept theirs too


def test_kept_rows_answer_what_values_list_answers(api) -> None:
    """`kept.rows`: the tuples `values_list` gives (moments as aware datetimes, NULL as None),
    kept for a query of columns; any other query answers through the ORM, as rows of one."""
    numbers = [case_in(api, "accepted"), new_case(api)["number"], "TS20990101-999999"]

    def timers(values: Any) -> Any:
        return Timer.objects.filter(case__number=values[0]).order_by("id").values_list(
            "code", "due_at", "co_unit_id", "case__owner_unit__code")

    def codes(values: Any) -> Any:
        return Timer.objects.filter(case__number=values[0]).order_by("id").values_list("code", flat=True)

    for _ in range(2):  # the first call keeps the SQL, the second runs it
        for number in numbers:
            got = kept.rows(("test.timers",), timers, [number])
            assert got == list(timers([number])), number
            assert kept.rows(("test.codes",), codes, [number]) == [(c,) for c in codes([number])], number
    assert kept.rows(("test.timers",), timers, [numbers[0]])[0][1].tzinfo is not None
    mine = {k[2][0]: v for k, v in kept._KEPT.items() if isinstance(k, tuple) and k[2][0] in {"test.timers", "test.codes"}}
    assert mine["test.timers"] is not None and mine["test.codes"] is None  # flat: not kept, the ORM answers


def test_a_cases_links_are_read_with_kept_sql_in_both_directions(api) -> None:
    from huiyin.cases.selectors import linked_numbers

    a, b, c = (new_case(api)["number"] for _ in range(3))
    assert api("agent").act(a, "link", {"to": b}).status_code == 200
    assert api("agent").act(c, "link", {"to": a}).status_code == 200
    for _ in range(2):  # the first call keeps the SQL, the second runs it
        assert linked_numbers(Case.objects.get(number=a)) == sorted([b, c])
        assert linked_numbers(Case.objects.get(number=b)) == [a]
        assert linked_numbers(Case.objects.get(number=c)) == [a]
    mine = [v for k, v in kept._KEPT.items() if isinstance(k, tuple) and k[2][0] == "selectors.linked_numbers"]
    assert mine and None not in mine
