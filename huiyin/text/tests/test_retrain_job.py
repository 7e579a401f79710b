"""The scheduled retraining: the worker's pass only checks and starts `huiyin text retrain --due`
in its own process, once; not when too little has changed; a version worse on its held-back cases
than the one in use is kept out of use."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from huiyin.cases import jobs as case_jobs
from huiyin.cases.models import Case, State
from huiyin.text import classifier, jobs, suggest
from huiyin.text.models import RetrainRun, TextModel
from huiyin.text.tests.test_assist import closed_history

REAL_LAUNCH = jobs._launch


class Running:
    """Stands for the training process while it runs (its end is simulated by the test)."""

    pid = 4242

    def poll(self) -> int | None:
        return None


@pytest.fixture
def schedule(monkeypatch, settings) -> list[list[str]]:
    """Small history thresholds; `_launch` records the command lines it would start."""
    monkeypatch.setattr(suggest, "MIN_ROWS", 12)
    settings.TEXT_RETRAIN_DAYS = 7
    settings.TEXT_RETRAIN_MIN_NEW = 10
    started: list[list[str]] = []

    def launch(run: RetrainRun) -> Any:
        started.append(jobs.command(run))
        return Running()

    monkeypatch.setattr(jobs, "_launch", launch)
    monkeypatch.setattr(jobs, "_child", None)
    jobs.wake()
    return started


def version_in_use() -> int:
    loaded = classifier.load("category")
    assert loaded is not None
    return loaded[0].version


def sweep() -> int:
    jobs.wake()
    return jobs.retrain_sweep()


def test_the_worker_starts_one_retraining_when_due_and_never_a_second(api, schedule, monkeypatch) -> None:
    assert sweep() == 0 and schedule == []  # no closed cases: nothing to learn from
    closed_history(api)
    monkeypatch.setattr(jobs, "_rest_until", None)  # a worker just started: its first check comes later
    assert jobs.retrain_sweep() == 0 and schedule == []
    # the worker's pass runs the job among its own; it starts the process and goes on
    jobs.wake()
    assert case_jobs.run_pass()["retrain_sweep"] == 1
    assert len(schedule) == 1
    run = RetrainRun.objects.get()
    assert run.running and run.trigger == "schedule"
    assert schedule[0][-5:] == ["--due", "--run", str(run.pk), "--nice", str(jobs.NICE)]
    assert sweep() == 0  # this worker's process still runs
    jobs._child = None  # another worker, which did not start it
    assert sweep() == 0 and len(schedule) == 1
    with pytest.raises(CommandError, match="already under way"):  # nor by hand meanwhile
        call_command("text", "retrain")
    # what the started process does: trains the due targets and closes its run
    call_command("text", "retrain", "--due", "--run", str(run.pk))
    done = RetrainRun.objects.get(pk=run.pk)
    assert not done.running and done.ok and "category: v1 (in use)" in done.outcome
    assert version_in_use() == 1
    assert sweep() == 0 and len(schedule) == 1  # retrained within the interval


def test_not_retrained_when_too_few_cases_closed_since_the_last_model(api, schedule) -> None:
    closed_history(api)
    call_command("text", "retrain", "--target", "category")  # by hand: v1
    week_ago = timezone.now() - timedelta(days=8)
    TextModel.objects.update(created_at=week_ago)
    RetrainRun.objects.update(started_at=week_ago)
    Case.objects.filter(state=State.CLOSED).update(closed_at=week_ago)  # all learned by v1
    assert suggest.due_targets() == [] and sweep() == 0 and schedule == []
    fresh = list(Case.objects.filter(state=State.CLOSED).values_list("pk", flat=True)[:9])
    Case.objects.filter(pk__in=fresh).update(closed_at=timezone.now())
    assert sweep() == 0 and schedule == []  # 9 closed since: below TEXT_RETRAIN_MIN_NEW
    Case.objects.filter(state=State.CLOSED).update(closed_at=timezone.now())
    assert suggest.due_targets() == ["category", "severity"]  # severity: no model yet, new cases to try
    assert sweep() == 1 and len(schedule) == 1


def test_a_worse_version_is_kept_out_of_use(api, schedule, web) -> None:
    closed_history(api)
    v1 = suggest.retrain("category")
    # the version in use measured better than the new one will be: the new one stays out of use
    TextModel.objects.filter(pk=v1.pk).update(metrics={**v1.metrics, "macro_f1": 1.5})
    v2 = suggest.retrain("category", guarded=True)
    assert not v2.active and v2.metrics["kept"] == {"version": 1, "macro_f1": 1.5}
    assert version_in_use() == 1
    assert suggest.suggest("配送员又迟到了", "送货晚了")[0].version == 1
    page = web("leader").get("/text/models/").content.decode()
    assert 'data-version="category-1"><td>category</td><td>v1</td><td><span class="badge bg-green-lt" data-in-use>' in page
    # not worse (within WORSE_BY of the version in use): the new version is used
    TextModel.objects.filter(pk=v1.pk).update(metrics={**v1.metrics, "macro_f1": 0.0})
    v3 = suggest.retrain("category", guarded=True)
    assert v3.active and version_in_use() == 3
    # by hand, the operator's new version is always used
    TextModel.objects.filter(pk=v3.pk).update(metrics={**v3.metrics, "macro_f1": 1.5})
    call_command("text", "retrain", "--target", "category")
    assert version_in_use() == 4


def test_a_process_that_dies_leaves_its_run_failed_and_frees_the_slot(api, schedule, monkeypatch, settings,
                                                                        tmp_path) -> None:
    closed_history(api)
    settings.VAR_DIR = tmp_path  # the process's output goes to text-retrain.log there
    monkeypatch.setattr(jobs, "_launch", REAL_LAUNCH)
    monkeypatch.setattr(jobs, "command", lambda run: [sys.executable, "-c", "raise SystemExit(3)"])
    assert sweep() == 1
    assert jobs.wait_for_child(timeout=30) == 3  # a real process, started and reaped
    run = RetrainRun.objects.get()
    assert not run.running and run.ok is False and "code 3" in run.outcome
    assert jobs.blocked() == "the last retraining failed recently"
    assert jobs.claim("hand") is not None  # the slot is free again
    assert (tmp_path / "text-retrain.log").exists()


@pytest.fixture
def web(org: Any):
    from django.test import Client

    def as_(username: str) -> Client:
        c = Client()
        c.force_login(getattr(org, username))
        return c

    return as_
