"""huiyin.db.insert_one: the lean INSERT the intake writes its rows with stores what save() stores."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from huiyin.db import insert_one
from huiyin.notify.models import Notice

pytestmark = pytest.mark.django_db


def _notice(key: str) -> Notice:
    return Notice(event="case.created", case_number="TS20260101-000001", dedupe_key=key,
                  context={"subject": "配送延误", "when": datetime(2026, 1, 1, 8, 30, tzinfo=UTC)},
                  recipients=[1, 2], transports={"1": ["email"]})


def test_insert_one_stores_what_save_stores() -> None:
    saved, lean = _notice("a"), _notice("b")
    saved.save()
    assert insert_one(lean) is True
    assert lean.pk is not None and lean.pk != saved.pk and not lean._state.adding
    columns = [f.attname for f in Notice._meta.concrete_fields if f.attname not in ("id", "dedupe_key", "created_at")]
    rows = {n.dedupe_key: n for n in Notice.objects.filter(pk__in=[saved.pk, lean.pk])}
    assert [getattr(rows["b"], c) for c in columns] == [getattr(rows["a"], c) for c in columns]
    assert rows["b"].created_at == lean.created_at  # the field default, as the instance had it


def test_insert_one_skips_a_conflict_when_asked() -> None:
    assert insert_one(_notice("same")) is True
    again = _notice("same")
    assert insert_one(again, ignore_conflicts=True) is False
    assert again._state.adding and Notice.objects.filter(dedupe_key="same").count() == 1
    with pytest.raises(ValueError, match="new rows only"):
        insert_one(Notice.objects.get(dedupe_key="same"))
