"""The demo history (issue 10 item 9): produced by the real workflow, every case closed before
the day it is loaded, customers in the reserved phone range, nothing left in the outbox, and
something true for the dashboard to show."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.apps import apps
from django.core.management import call_command
from django.utils import timezone

from huiyin.cases.models import Case, Event, State
from huiyin.reports import demo_history
from huiyin.reports.models import CaseFact

pytestmark = pytest.mark.django_db


def _outbox() -> int:
    return sum(m.objects.count() for m in demo_history._outbox_models())


def test_the_history_is_closed_reserved_and_leaves_no_notice(api: Any, org: Any) -> None:
    before = _outbox()
    n = demo_history.load(days=14, per_day=2.0)
    cases = demo_history.history_numbers()
    assert n >= 10 and cases.count() >= 8  # a returning customer may urge instead of opening a case
    today = timezone.localdate()
    for case in cases:
        assert case.state in (State.CLOSED, State.INVALID), (case.number, case.state)
        assert timezone.localdate(case.received_at) < today
        assert case.complainant_phone.startswith("1390000") and int(case.complainant_phone[-4:]) >= 5000
    last = Event.objects.filter(case__in=cases).order_by("-at").values_list("at", flat=True).first()
    assert last is not None and timezone.localdate(last) < today
    # the real workflow: dispatched, acknowledged, called back …
    actions = set(Event.objects.filter(case__in=cases).values_list("action", flat=True))
    assert {"dispatch", "acknowledge", "submit_result", "callback"} <= actions
    assert _outbox() == before
    # the summaries are there for the reports
    assert CaseFact.objects.filter(case__in=cases).count() == cases.count()
    # once only
    with pytest.raises(demo_history.Skipped):
        demo_history.load(days=3)
    assert Case.objects.filter(pk__in=cases.values("pk")).count() == cases.count()


def test_the_command_is_skipped_with_the_switch_off(org: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("HUIYIN_DEMO_HISTORY", "0")
    out = io.StringIO()
    call_command("report", "demo-history", stdout=out)
    assert "skipped" in out.getvalue() and not demo_history.exists()
    assert apps.is_installed("huiyin.reports")
