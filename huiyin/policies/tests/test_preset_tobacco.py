"""The tobacco preset (seed 000 第一篇), loaded like any other: a whistle-blowing report goes to
the county's first-responsible person after the leader's 批示, is handled in two working days,
and may be extended — never beyond seven working days, holidays skipped.
(The complaint flow itself is walked in huiyin/cases/tests/test_flow.py.)"""

from __future__ import annotations

import pytest
import time_machine

from huiyin.cases.tests.helpers import RESULT, case_in
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


# --- issue 14: the preset re-read clause by clause (dates worked out on the 2026 calendar) ---------


def test_a_consultation_the_agent_cannot_answer_is_signed_by_the_zhengdunban_and_answered_that_day(api) -> None:
    policy_load_preset("tobacco")
    with time_machine.travel(bj(2026, 3, 9, 15, 0), tick=False):  # Mon 9 Mar 15:00
        number = new_case(api, kind="consultation", subject="咨询卷烟零售许可证延续办理材料")["number"]
        # 二(一)3: 呈报整顿办主任签发处理意见 (the supervisor), not the deputy manager
        body = api("dispatcher").act(number, "dispatch", {"unit": "monopoly"}).json()
        assert (body["state"], body["awaiting"]) == ("pending_approval", "supervisor")
        assert api("leader").act(number, "approve").status_code == 403
    with time_machine.travel(bj(2026, 3, 9, 16, 0), tick=False):
        body = api("supervisor").act(number, "approve", {"comment": "请专卖部当日答复"}).json()
    # 二(二)2: 接到咨询记录表的当日向客户做出答复
    assert (body["unit"], due(body, "resolve")) == ("monopoly", "2026-03-09T17:30:00+08:00")


def test_a_provincial_centre_ticket_has_three_working_days_from_the_centres_receipt(api) -> None:
    policy_load_preset("tobacco")
    with time_machine.travel(bj(2026, 3, 12, 10, 0), tick=False):  # Thu 12 Mar: the centre receives it
        number = new_case(api, channel="upstream", upstream_ref="SJ-2026-0312-07")["number"]
    with time_machine.travel(bj(2026, 3, 13, 9, 0), tick=False):  # dispatched the next morning
        api("dispatcher").act(number, "dispatch", {"unit": "county_a"})
        body = api("leader").act(number, "approve").json()
    # 二(二)4: Fri 13, Mon 16, Tue 17 Mar — counted from the centre's receipt, not the slip (Wed 18)
    assert due(body, "resolve") == "2026-03-17T17:30:00+08:00"


def test_the_callback_is_due_the_day_of_the_feedback_and_the_leader_reviews_a_satisfied_result(api) -> None:
    policy_load_preset("tobacco")
    with time_machine.travel(bj(2026, 3, 12, 9, 0), tick=False):
        number = case_in(api, "accepted")
    with time_machine.travel(bj(2026, 3, 13, 16, 0), tick=False):  # Fri 13 Mar 16:00: the unit's feedback
        api("handler_a").act(number, "submit_result", RESULT)
    with time_machine.travel(bj(2026, 3, 16, 9, 0), tick=False):  # reviewed on Monday
        body = api("dispatcher").act(number, "review", {"accept": True}).json()
        # 二(三): 在反馈当天对客户进行满意度回访 — Friday, not the day of the review
        assert due(body, "callback") == "2026-03-13T17:30:00+08:00"
    with time_machine.travel(bj(2026, 3, 16, 10, 0), tick=False):
        body = api("agent").act(number, "callback", {"satisfaction": "satisfied"}).json()
        # 二(三): 满意的处理结果立即提交分管领导,审查确定是否需进入二次派单阶段 — decided that day
        assert (body["state"], body["awaiting"]) == ("pending_callback", "leader")
        assert due(body, "decision") == "2026-03-16T17:30:00+08:00"
        assert api("agent").act(number, "close").status_code == 403
        assert InboxItem.objects.filter(user__username="leader", case_number=number).exists()
        body = api("leader").act(number, "close", {"comment": "处理到位,无需二次派单"}).json()
    assert body["state"] == "closed"


def test_three_cases_of_one_issue_on_the_same_day_are_a_group_complaint(api) -> None:
    policy_load_preset("tobacco")
    tags = []
    for hour in (9, 11, 16):  # Tue 10 Mar: three; one more the evening before does not make Monday's a group
        with time_machine.travel(bj(2026, 3, 10, hour, 0), tick=False):
            tags.append(new_case(api, category="supply", region="县局A辖区", subject="货源分配不公")["tags"])
    with time_machine.travel(bj(2026, 3, 9, 20, 0), tick=False):
        monday = new_case(api, category="supply", region="县局A辖区", subject="货源分配不公")
    assert ["group" in t for t in tags] == [False, False, True]
    assert "group" not in monday["tags"]  # Monday has one such case (a sliding 24 hours would say three)


def test_a_case_unresolved_after_a_month_becomes_major_and_is_escalated(api) -> None:
    from huiyin.cases.jobs import sweep_rules
    from huiyin.cases.models import Case

    policy_load_preset("tobacco")
    with time_machine.travel(bj(2026, 3, 2, 9, 0), tick=False):
        number = case_in(api, "accepted")
    with time_machine.travel(bj(2026, 4, 1, 8, 59), tick=False):  # 29 days and 23 hours
        sweep_rules()
        assert Case.objects.get(number=number).severity == "general"
    with time_machine.travel(bj(2026, 4, 1, 9, 0), tick=False):  # 30 calendar days
        sweep_rules()
    case = Case.objects.get(number=number)
    assert (case.severity, case.escalated) == ("major", True)
