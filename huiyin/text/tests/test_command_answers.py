"""What `huiyin text models` and `huiyin text retrain --due` tell the operator."""

from __future__ import annotations

from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import call_command

from huiyin.text.models import RetrainRun, Target, TextModel

pytestmark = pytest.mark.django_db


def test_models_prints_times_in_the_local_time(settings) -> None:
    assert settings.TIME_ZONE == "Asia/Shanghai"
    moment = datetime(2026, 12, 3, 19, 44, tzinfo=UTC)  # 2026-12-04 03:44 in Shanghai
    TextModel.objects.create(name="category", version=1, target=Target.CATEGORY, rows=60, blob=b"")
    TextModel.objects.update(created_at=moment)
    RetrainRun.objects.create(started_at=moment, running=False, ok=True, trigger="hand", outcome="category: v1")
    out = StringIO()
    call_command("text", "models", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("category") and lines[0].endswith("  2026-12-04 03:44")
    assert lines[1] == "retraining 2026-12-04 03:44 (hand, done): category: v1"
    assert "2026-12-03 19:44" not in out.getvalue()


def test_retrain_due_with_nothing_due_says_so() -> None:
    out = StringIO()
    call_command("text", "retrain", "--due", stdout=out)
    assert out.getvalue() == "no model was due for retraining\n"
    run = RetrainRun.objects.get()
    assert not run.running and run.ok and run.outcome == "no model was due for retraining"
