"""The tobacco preset (seed 000 第一篇), loaded like any other: a whistle-blowing report goes to
the county's first-responsible person after the leader's 批示, is handled in two working days,
and may be extended — never beyond seven working days, holidays skipped.
(The complaint flow itself is walked in huiyin/cases/tests/test_flow.py.)"""

from __future__ import annotations

import pytest
import time_machine

from huiyin.conftest import bj, new_case
from huiyin.notify.models import InboxItem
from huiyin.policies.services import policy_load_preset
from huiyin.policies.tests.helpers import due

pytestmark = pytest.mark.django_db


def test_a_report_is_extended_to_the_seven_working_day_limit_and_no_further(api) -> None:
    policy_load_preset("tobacco")
    # Thursday 12 Feb 2026: Saturday 14 and 28 Feb are make-up working days, 15–23 Feb the holiday.
    with time_machine.travel(bj(2026, 2, 12, 9, 0), tick=False):
        number = new_case(api, kind="report", subject="举报某零售户销售假烟", category="counterfeit",
                          complainant={"name": "举报人", "phone": "13611112222"})["number"]
        # 二(一)5: 立即呈报分管领导批示, then to the county's first-responsible person (二(一)8).
        assert api("dispatcher").act(number, "dispatch", {"unit": "county_a"}).json()["state"] == "pending_approval"
        body = api("leader").act(number, "approve", {"comment": "请县局A专卖部门核查"}).json()
        assert due(body, "resolve") == "2026-02-14T17:30:00+08:00"  # 二(二)3: two working days
        told = set(InboxItem.objects.filter(case_number=number, event="case.dispatched")
                   .values_list("user__username", flat=True))
        assert told == {"handler_a"}
        assert api("handler_a").get(f"/cases/{number}").json()["complainant"]["confidential"] is True
        api("handler_a").act(number, "acknowledge")

    with time_machine.travel(bj(2026, 2, 14, 9, 0), tick=False):
        # 二(二)3: 特殊情况可适当延期,但不可超过七个工作日 (counted from receipt of the form).
        too_long = api("handler_a").act(number, "request_extension",
                                        {"amount": 6, "unit": "working_days", "reason": "需联合公安调查"})
        assert too_long.status_code == 422
        assert "2026-02-28 17:30" in too_long.json()["error"]["message"]
        api("handler_a").act(number, "request_extension", {"amount": 5, "unit": "working_days", "reason": "需联合公安调查"})
        body = api("leader").act(number, "grant_extension").json()
    assert due(body, "resolve") == "2026-02-28T17:30:00+08:00"
