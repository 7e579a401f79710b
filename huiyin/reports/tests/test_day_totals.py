"""The per-day totals the whole organisation's dashboard reads (`reports.facts`, DayUnitTotal,
DayCaseTotal, DayStageTotal): after any sequence of changes they equal a GROUP BY over the
per-case summaries, a case changed after its period moves that period's figures, and the figures
they give are the ones the summaries give (and so the case list's)."""

from __future__ import annotations

import io
import random
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.management import call_command

from huiyin.conftest import bj
from huiyin.reports import facts
from huiyin.reports.models import CaseFact, Cursor, DayCaseTotal, DayStageTotal, DayUnitTotal, StageFact

from .data import LIABLE, _client, dispatch, october, register

pytestmark = pytest.mark.django_db

OCT = {"unit": "bureau", "from": "2026-10-01", "to": "2026-10-31"}
CASE_FLAGS = ("concluded", "resolved", "reached", "satisfied")


def _spans(day: Any) -> tuple[tuple[str, Any], ...]:
    return (("d", day), ("m", day.replace(day=1)))


def _expected() -> dict[str, Counter[Any]]:
    """The totals worked out in Python from the summaries, per day and per month (zero sums left
    out)."""
    unit: Counter[Any] = Counter()
    case: Counter[Any] = Counter()
    stage: Counter[Any] = Counter()
    for f in CaseFact.objects.all():
        home = f.unit_id if f.unit_id is not None else f.owner_unit_id
        for span in _spans(f.received_day):
            ukey = (*span, f.kind, home, f.category_root_id or 0)
            unit[(*ukey, "received")] += 1
            for flag in facts.FLAGS:
                unit[(*ukey, flag)] += int(getattr(f, flag))
            if f.concluded and f.handling_minutes is not None:
                unit[(*ukey, "handling_cases")] += 1
                unit[(*ukey, "handling_minutes")] += f.handling_minutes
            ckey = (*span, f.kind, f.channel, f.severity, f.customer_class)
            case[(*ckey, "received")] += 1
            for flag in CASE_FLAGS:
                case[(*ckey, flag)] += int(getattr(f, flag))
    for s in StageFact.objects.select_related("fact"):
        f = s.fact
        home = f.unit_id if f.unit_id is not None else f.owner_unit_id
        for span in _spans(f.received_day):
            skey = (*span, f.kind, home, s.code)
            stage[(*skey, "n")] += 1
            stage[(*skey, "late")] += int(s.late)
    return {"unit": +unit, "case": +case, "stage": +stage}


def _stored() -> dict[str, Counter[Any]]:
    unit: Counter[Any] = Counter()
    for t in DayUnitTotal.objects.all():
        for col in ("received", *facts.FLAGS, "handling_cases", "handling_minutes"):
            unit[(t.span, t.day, t.kind, t.home_unit_id, t.category_root_id, col)] += getattr(t, col)
    case: Counter[Any] = Counter()
    for c in DayCaseTotal.objects.all():
        for col in ("received", *CASE_FLAGS):
            case[(c.span, c.day, c.kind, c.channel, c.severity, c.customer_class, col)] += getattr(c, col)
    stage: Counter[Any] = Counter()
    for s in DayStageTotal.objects.all():
        stage[(s.span, s.day, s.kind, s.home_unit_id, s.code, "n")] += s.n
        stage[(s.span, s.day, s.kind, s.home_unit_id, s.code, "late")] += s.late
    # no row is kept at zero, and no sum goes below it
    assert not DayUnitTotal.objects.filter(received__lte=0).exists()
    assert not DayCaseTotal.objects.filter(received__lte=0).exists()
    assert not DayStageTotal.objects.filter(n__lte=0).exists()
    assert all(v >= 0 for c in (unit, case, stage) for v in c.values())
    return {"unit": +unit, "case": +case, "stage": +stage}


def _refresh(when: Any) -> None:
    with time_machine.travel(when, tick=False):
        assert facts.refresh(max_steps=1000)


def _indicators(api: Any, when: Any, user: str = "leader", params: dict[str, str] = OCT) -> dict[str, Any]:
    with time_machine.travel(when, tick=False):
        r = api(user).get("/reports/indicators", **params)
    assert r.status_code == 200, r.content
    body: dict[str, Any] = r.json()
    return body


def _without_totals(api: Any, when: Any, params: dict[str, str] = OCT) -> dict[str, Any]:
    """The same answer read from the summaries (the totals switched off), then the totals rebuilt."""
    Cursor.objects.filter(name=facts.TOTALS_CURSOR).update(position=0)
    try:
        assert not facts.totals_ready()
        with time_machine.travel(when, tick=False):
            r = api("leader").get("/reports/indicators", **params)
        assert r.status_code == 200, r.content
        body: dict[str, Any] = r.json()
        return body
    finally:
        before = _stored()
        facts.rebuild_totals()
        assert _stored() == before  # a rebuild finds what the upkeep kept


def test_a_case_changed_after_october_moves_octobers_figures(api: Any) -> None:
    n = october(api)
    dec = bj(2026, 12, 2, 10, 0)
    _refresh(dec)
    assert facts.totals_ready()
    assert _stored() == _expected()
    before = _indicators(api, dec)
    assert before["indicators"]["by_category"]["logistics_delivery"] == 1
    assert before["indicators"]["by_category"]["counterfeit"] == 1
    assert before == _without_totals(api, dec)
    # a period of whole months and odd days (read as month rows and day rows), and a unit's subtree
    for params in ({"unit": "bureau", "from": "2026-09-29", "to": "2026-11-02"},
                   {"unit": "bureau", "from": "2026-09-01", "to": "2026-11-30"},
                   {"unit": "county_a", "from": "2026-10-01", "to": "2026-10-31"}):
        assert _indicators(api, dec, params=params) == _without_totals(api, dec, params=params), params
    # In December the leader classifies H (received 26 October, still open, not classified) as
    # counterfeit: October's figures move, a month after the period.
    with time_machine.travel(dec, tick=False):
        r = _client(api, dec, "leader").act(n["H"], "classify", {"category": "counterfeit"})
    assert r.status_code == 200, r.content
    later = bj(2026, 12, 2, 11, 0)
    _refresh(later)
    after = _indicators(api, later)
    assert after["indicators"]["received"] == before["indicators"]["received"] == 8
    assert after["indicators"]["by_category"]["counterfeit"] == 2
    assert after["indicators"].get("by_category", {}).get("unclassified", 0) == (
        before["indicators"]["by_category"].get("unclassified", 0) - 1)
    assert _stored() == _expected()
    assert after == _without_totals(api, later)
    # the maintenance command builds them again to the same rows; until then the figures are read
    # from the summaries, and they are the same
    DayUnitTotal.objects.all().delete()
    Cursor.objects.filter(name=facts.TOTALS_CURSOR).update(position=0)
    assert _indicators(api, later) == after
    out = io.StringIO()
    call_command("report", "rebuild-totals", stdout=out)
    assert "per-day totals rebuilt" in out.getvalue()
    assert facts.totals_ready() and _stored() == _expected()
    assert _indicators(api, later) == after


ACTIONS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("dispatcher", "dispatch", {"unit": "county_a"}),
    ("dispatcher", "dispatch", {"unit": "county_b"}),
    ("leader", "approve", {}),
    ("leader", "classify", {"category": "counterfeit"}),
    ("dispatcher", "classify", {"category": "billing"}),
    ("handler_a", "acknowledge", {}),
    ("handler_b", "acknowledge", {}),
    ("handler_a", "submit_result", LIABLE),
    ("handler_b", "submit_result", LIABLE),
    ("dispatcher", "review", {"accept": True}),
    ("agent", "callback", {"satisfaction": "satisfied"}),
    ("agent", "callback", {"satisfaction": "unsatisfied"}),
    ("supervisor", "redispatch", {"unit": "county_a"}),
    ("leader", "close", {}),
    ("dispatcher", "reopen", {"reason": "客户再次反映"}),
    ("dispatcher", "mark_invalid", {"reason": "投诉对象不明确"}),
)


def test_a_period_is_read_as_its_whole_months_and_its_other_days() -> None:
    from datetime import date

    from huiyin.reports.indicators import _spans
    from huiyin.reports.periods import Period

    def spans(a: str, b: str) -> list[tuple[str, Any, Any]]:
        return _spans(Period(date.fromisoformat(a), date.fromisoformat(b), "range"))

    d = date.fromisoformat
    assert spans("2026-10-01", "2026-10-31") == [("m", d("2026-10-01"), d("2026-10-31"))]
    assert spans("2026-10-02", "2026-10-31") == [("d", d("2026-10-02"), d("2026-10-31"))]
    assert spans("2026-09-29", "2026-12-02") == [("m", d("2026-10-01"), d("2026-11-30")),
                                                 ("d", d("2026-09-29"), d("2026-09-30")),
                                                 ("d", d("2026-12-01"), d("2026-12-02"))]
    assert spans("2026-12-01", "2026-12-01") == [("d", d("2026-12-01"), d("2026-12-01"))]


@pytest.mark.parametrize("seed", [7, 11, 29])
def test_the_totals_equal_a_group_by_over_the_summaries_after_any_changes(api: Any, seed: int) -> None:
    rng = random.Random(seed)  # nosec B311 (a test's sequence, not a secret)
    start = bj(2026, 10, 5, 9, 0)
    numbers = [register(api, start + timedelta(days=rng.randrange(20), hours=rng.randrange(8)),
                        subject=f"第{i}件", complainant={"phone": f"139000001{i:02d}"},
                        **({"kind": "report"} if i % 4 == 0 else {}))
               for i in range(8)]
    dispatch(api, bj(2026, 10, 26, 9, 0), numbers[0], "county_a")
    when = bj(2026, 10, 27, 9, 0)
    _refresh(when)
    assert _stored() == _expected()
    moved = 0
    for _ in range(30):
        when += timedelta(hours=rng.randrange(1, 30))
        user, action, body = rng.choice(ACTIONS)
        number = rng.choice(numbers)
        with time_machine.travel(when, tick=False):
            r = _client(api, when, user).act(number, action, body)
        moved += r.status_code == 200
        if rng.random() < 0.5:  # sometimes several changes before the job runs
            _refresh(when)
            assert _stored() == _expected(), (seed, action, number)
    _refresh(when + timedelta(minutes=5))
    assert moved >= 5  # the sequence did change cases
    assert _stored() == _expected()
    facts.rebuild_totals()
    assert _stored() == _expected()


def test_the_trend_reads_the_same_from_the_totals_as_from_the_summaries(api: Any) -> None:
    from datetime import date

    from huiyin.org.models import User
    from huiyin.reports.indicators import Scope, trend
    from huiyin.reports.periods import Period

    october(api)
    _refresh(bj(2026, 12, 1, 9, 0))
    leader = User.objects.get(username="leader")
    periods = [(Period(date(2026, 9, 15), date(2026, 11, 10), "range"), bucket) for bucket in ("day", "week", "month")]
    with time_machine.travel(bj(2026, 12, 1, 9, 0), tick=False):
        scope = Scope(leader, None)
        from_totals = [trend(scope, p, bucket=b) for p, b in periods]
        assert scope._totals_ready  # the leader's trend was read from the totals
        Cursor.objects.filter(name=facts.TOTALS_CURSOR).update(position=0)
        from_summaries = [trend(Scope(leader, None), p, bucket=b) for p, b in periods]
    assert from_totals == from_summaries
    assert sum(point["count"] for point in from_totals[0]) == 9  # I, J and October's cases
    assert [point["label"] for point in from_totals[2]] == ["2026-09", "2026-10", "2026-11"]
