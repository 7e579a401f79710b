"""The worker's jobs: breaches recorded in bulk without touching the case, and scheduled rules
that a worker's memory keeps from examining the same cases pass after pass."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from huiyin.cases.jobs import RulesMemory, run_pass, sweep_breaches, sweep_rules
from huiyin.cases.models import Case, Event, RuleHit
from huiyin.cases.tests.helpers import case_in
from huiyin.conftest import bj, new_case
from huiyin.notify.models import InboxItem, Notice
from huiyin.notify.services import fan_out_pending
from huiyin.policies.services import policy_load_preset

pytestmark = pytest.mark.django_db

WATCH = """
name: watch
workflow: {approval_before_dispatch: []}
timers:
  resolve: {default: {amount: 1, unit: calendar_days}}
rules:
  - name: 已签收
    triggers: [schedule]
    when: {field: state, eq: accepted}
    then: [{add_tag: seen}]
  - name: 满两小时
    triggers: [schedule]
    when: {age: {gte: 2, unit: hours}}
    then: [{add_tag: old}]
  - name: 同类三件
    triggers: [schedule]
    when: {count: {same: [category], window_hours: 24, gte: 3}}
    then: [{add_tag: group}]
"""


def fired(number: str) -> list[str]:
    return sorted(RuleHit.objects.filter(case__number=number).values_list("rule", flat=True))


def test_a_breach_is_one_bulk_event_and_a_notice_and_leaves_the_version_alone(api: Any) -> None:
    with time_machine.travel(bj(2026, 3, 9, 9, 0), tick=False):
        n = case_in(api, "accepted")
    version = Case.objects.get(number=n).version
    with time_machine.travel(bj(2026, 3, 16, 9, 0), tick=False):
        assert sweep_breaches() >= 1
        assert sweep_breaches() == 0
    event = Event.objects.get(case__number=n, action="breach", changes__timer=[None, "resolve"])
    assert event.source == "worker" and event.actor is None and event.changes["due_at"][1].endswith("+08:00")
    assert Case.objects.get(number=n).version == version  # an open form still saves
    notice = Notice.objects.get(case_number=n, event="case.breached", context__note="resolve")
    assert notice.urgent and notice.context["note"] == "resolve" and notice.context["unit"] == "县局A"
    assert not InboxItem.objects.filter(case_number=n, event="case.breached").exists()  # the worker's next step
    fan_out_pending()
    item = InboxItem.objects.get(notice=notice, user__username="handler_a")
    assert item.title == f"工单超期：{n}" and "承办单位：县局A" in item.body


def test_a_timer_moved_while_the_sweep_prepared_is_not_breached(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sweep works out its notices before its write transaction; a timer whose deadline
    moved meanwhile (an extension, a recomputation) is no longer due when it claims: no breach."""
    from huiyin.cases import jobs
    from huiyin.cases.models import Timer

    with time_machine.travel(bj(2026, 3, 9, 9, 0), tick=False):
        n = case_in(api, "accepted")
    prepare = jobs.notice_rows
    prepared: list[str] = []

    def moved_meanwhile(occurrences: Any) -> Any:
        rows = prepare(occurrences)
        prepared.extend(row["case_number"] for row in rows)
        Timer.objects.filter(case__number=n).update(due_at=bj(2026, 4, 30, 9, 0))
        return rows

    monkeypatch.setattr(jobs, "notice_rows", moved_meanwhile)
    with time_machine.travel(bj(2026, 3, 16, 9, 0), tick=False):
        assert sweep_breaches() == 0
    assert n in prepared  # it was due when the sweep read it
    assert not Event.objects.filter(case__number=n, action="breach").exists()
    assert not Notice.objects.filter(case_number=n, event="case.breached").exists()
    assert not Timer.objects.filter(case__number=n, state="breached").exists()


def test_the_worker_memory_examines_a_case_again_only_when_it_changed(api: Any) -> None:
    policy_load_preset("watch", text=WATCH)
    memory = RulesMemory()
    with time_machine.travel(bj(2026, 3, 9, 9, 0), tick=False):
        n = case_in(api, "dispatched")
        assert sweep_rules(memory=memory) == 0  # the first pass examines every candidate
        assert fired(n) == []
        with CaptureQueriesContext(connection) as idle:
            assert sweep_rules(memory=memory) == 0
        # nothing changed, no time passed: the new timeline events and the policies, no case read
        assert len(idle.captured_queries) <= 2, [q["sql"] for q in idle.captured_queries]
        api("handler_a").act(n, "acknowledge")  # a change: a timeline event
        assert sweep_rules(memory=memory) == 1
    assert fired(n) == ["已签收"]


def test_the_worker_memory_sees_an_age_threshold_pass_without_any_change(api: Any) -> None:
    policy_load_preset("watch", text=WATCH)
    memory = RulesMemory()
    with time_machine.travel(bj(2026, 3, 9, 9, 0), tick=False):
        n = new_case(api)["number"]
        sweep_rules(memory=memory)
    with time_machine.travel(bj(2026, 3, 9, 10, 30), tick=False):
        sweep_rules(memory=memory)
        assert fired(n) == []
    with time_machine.travel(bj(2026, 3, 9, 11, 1), tick=False):
        assert sweep_rules(memory=memory) == 1
    assert fired(n) == ["满两小时"]


def test_the_worker_memory_counts_again_when_a_like_case_arrives(api: Any) -> None:
    policy_load_preset("watch", text=WATCH)
    memory = RulesMemory()
    with time_machine.travel(bj(2026, 3, 9, 9, 0), tick=False):
        first, second = (new_case(api, category="logistics_delivery", complainant={"phone": f"1390000000{i}"})
                         ["number"] for i in range(2))
        other = new_case(api, category="service", complainant={"phone": "13900000009"})["number"]
        sweep_rules(memory=memory)
        assert fired(first) == fired(second) == []
    with time_machine.travel(bj(2026, 3, 9, 9, 30), tick=False):
        third = new_case(api, category="logistics_delivery", complainant={"phone": "13900000003"})["number"]
        sweep_rules(memory=memory)
    # the first two did not change, but a like case arrived within their window
    assert [("同类三件" in fired(n)) for n in (first, second, third, other)] == [True, True, True, False]


def test_a_full_round_goes_through_every_candidate_a_page_per_pass(api: Any) -> None:
    policy_load_preset("watch", text=WATCH)
    with time_machine.travel(bj(2026, 3, 9, 9, 0), tick=False):
        numbers = [case_in(api, "accepted", complainant={"phone": f"1370000000{i}"}) for i in range(5)]
        memory = RulesMemory()
        assert [sweep_rules(memory=memory, limit=2) for _ in range(4)] == [2, 2, 1, 0]
    assert all("已签收" in fired(n) for n in numbers)


def test_a_pass_without_memory_still_finds_everything(api: Any) -> None:
    policy_load_preset("watch", text=WATCH)
    with time_machine.travel(bj(2026, 3, 9, 9, 0), tick=False):
        n = case_in(api, "accepted")
    with time_machine.travel(bj(2026, 3, 9, 12, 0), tick=False):
        done = run_pass()
    assert done["sweep_rules"] == 2 and fired(n) == ["已签收", "满两小时"]


@pytest.mark.parametrize("hours", [2, 50])
def test_only_cases_within_a_count_window_are_candidates(api: Any, hours: int) -> None:
    policy_load_preset("watch", text=WATCH)
    start = bj(2026, 3, 9, 9, 0)
    with time_machine.travel(start, tick=False):
        numbers = [new_case(api, category="logistics_delivery", complainant={"phone": f"1390000000{i}"})["number"]
                   for i in range(3)]
    with time_machine.travel(start + timedelta(hours=hours), tick=False):
        sweep_rules()
    # within the window (2 × 24 h) the scheduler catches them; beyond it they had their chance
    assert all(("同类三件" in fired(n)) is (hours < 48) for n in numbers)
