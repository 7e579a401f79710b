"""bench/identity.py: after the bulk load, the keyed hashes and the case's deadline are what the
application itself would have stored."""

from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_fill_stores_the_hashes_and_the_deadline_the_application_computes() -> None:
    from bench.identity import fill
    from huiyin.cases.demo import demo_load
    from huiyin.cases.models import Case
    from huiyin.cases.services import case_register
    from huiyin.org.models import User

    demo_load(password="pw-for-tests")
    agent = User.objects.get(username="agent")
    case, _ = case_register({"kind": "complaint", "channel": "phone", "subject": "配送延误", "description": "未按时送达",
                             "complainant": {"name": "张 三", "phone": "+86 138-0013-8000", "account": "44010001"}},
                            actor=agent)
    columns = ("complainant_phone_hash", "complainant_name_hash", "complainant_account_hash", "next_due_at",
               "next_remind_at")
    made = Case.objects.filter(pk=case.pk).values(*columns).get()
    assert made["complainant_phone_hash"] and made["next_due_at"]
    # as the bulk load leaves them (the load writes the identities in clear)
    Case.objects.filter(pk=case.pk).update(complainant_phone_hash=None, complainant_name_hash=None,
                                           complainant_account_hash=None, next_due_at=None, next_remind_at=None)
    done = fill()
    assert done["rows"] == done["updated"] == 1 and done["distinct_phone"] == 1
    assert Case.objects.filter(pk=case.pk).values(*columns).get() == made
    assert fill()["rows"] == 0  # nothing left to do
    pop = __import__("huiyin.channels.callcentre", fromlist=["screen_pop"]).screen_pop(agent, "13800138000")
    assert [c["number"] for c in pop["open"]] == [case.number]
