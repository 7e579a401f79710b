"""Racing requests: numbers never shared, one winner per conflicting action, one case per
Idempotency-Key. Runs against SQLite and against PostgreSQL (make test runs both)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from huiyin.cases.models import Case, Event
from huiyin.conftest import COMPLAINT, Api, new_case

pytestmark = pytest.mark.django_db(transaction=True)


def race(n: int, fn: Callable[[int], Any]) -> list[Any]:
    """Run fn(i) in n threads released together; return their results in order."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = fn(i)
        except Exception as exc:  # noqa: BLE001 (reported by the assertion on results)
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_concurrent_intake_never_shares_a_number_and_leaves_no_gap(org) -> None:
    clients = [Api(org.agent) for _ in range(6)]

    def intake(i: int) -> list[str]:
        return [clients[i].post("/cases", COMPLAINT).json()["number"] for _ in range(5)]

    results = race(6, intake)
    numbers = [n for batch in results for n in batch]
    assert len(numbers) == 30
    assert len(set(numbers)) == 30
    assert sorted(int(n[-6:]) for n in numbers) == list(range(1, 31))


def test_a_new_case_is_numbered_with_its_first_deadline_in_one_write_on_sqlite(org) -> None:
    """SQLite's transaction holds the whole database's write lock from its first statement, so the
    day's number is taken first and the case's row written once, numbered and with its first
    deadline. PostgreSQL takes the number last (its lock on the day's count serialises the day's
    intakes until commit) and writes it into the saved row."""
    from django.test.utils import CaptureQueriesContext

    agent = Api(org.agent)
    with CaptureQueriesContext(connection) as captured:
        number = agent.post("/cases", COMPLAINT).json()["number"]
    writes = [q["sql"] for q in captured.captured_queries if '"cases_case"' in q["sql"]
              and q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "WITH"))]
    assert len(writes) == (1 if connection.vendor == "sqlite" else 2), writes
    case = Case.objects.get(number=number)
    first = case.timers.filter(stopped_at__isnull=True).order_by("due_at").first()
    assert first is not None and (case.next_due_at, case.next_remind_at) == (first.due_at, first.remind_at)
    assert agent.post("/cases", COMPLAINT).json()["number"][-6:] == f"{int(number[-6:]) + 1:06d}"


def test_two_dispatchers_racing_one_wins_the_other_gets_409(org) -> None:
    agent = Api(org.agent)
    number = agent.post("/cases", COMPLAINT).json()["number"]
    version = agent.get(f"/cases/{number}").json()["version"]
    clients = [Api(org.dispatcher), Api(org.dispatcher)]
    units = ["county_a", "county_b"]

    results = race(2, lambda i: clients[i].act(number, "dispatch", {"unit": units[i], "expected_version": version}))
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 409]
    loser = next(r for r in results if r.status_code == 409)
    assert loser.json()["error"]["code"] in ("conflict", "invalid_transition")
    case = Case.objects.get(number=number)
    winner_unit = next(units[i] for i, r in enumerate(results) if r.status_code == 200)
    assert case.proposed_unit is not None
    assert case.proposed_unit.code == winner_unit
    assert case.version == version + 1
    assert Event.objects.filter(case=case, action="dispatch").count() == 1


def test_racing_without_expected_version_still_never_applies_twice(org) -> None:
    number = Api(org.agent).post("/cases", COMPLAINT).json()["number"]
    Api(org.dispatcher).act(number, "dispatch", {"unit": "county_a"})
    leaders = [Api(org.leader) for _ in range(3)]
    results = race(3, lambda i: leaders[i].act(number, "approve"))
    assert sorted(r.status_code for r in results) == [200, 409, 409]
    assert Event.objects.filter(case__number=number, action="approve").count() == 1


def test_idempotency_key_racing_makes_one_case(org) -> None:
    clients = [Api(org.agent) for _ in range(4)]
    key = {"Idempotency-Key": "cti-call-20261124-0001"}
    results = race(4, lambda i: clients[i].post("/cases", COMPLAINT, headers=key))
    assert all(not isinstance(r, Exception) for r in results), results
    numbers = {r.json()["number"] for r in results}
    assert len(numbers) == 1
    assert sorted(r.status_code for r in results) == [200, 200, 200, 201], [r.content for r in results]
    assert Case.objects.count() == 1


@pytest.mark.django_db
def test_idempotent_retry_returns_the_same_case(api) -> None:
    key = {"Idempotency-Key": "retry-1"}
    first = api("agent").post("/cases", COMPLAINT, headers=key)
    again = api("agent").post("/cases", COMPLAINT, headers=key)
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["number"] == first.json()["number"]
    assert Case.objects.count() == 1
    # the same key with another body is refused, not silently ignored
    r = api("agent").post("/cases", {**COMPLAINT, "subject": "另一件事"}, headers=key)
    assert r.status_code == 409
    # another user's identical key is their own
    assert api("dispatcher").post("/cases", COMPLAINT, headers=key).status_code == 201
    new_case(api)
    assert Case.objects.count() == 3
