"""The assistant beside the intake form: suggestions from the organisation's closed cases (off,
saying why, with too little history), similar open cases, and the model page."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from huiyin.cases.models import Case, Category, State
from huiyin.conftest import new_case
from huiyin.text import suggest
from huiyin.text.tests.test_commands import TOPICS

CATEGORY = {"delivery": "logistics_delivery", "attitude": "service", "supply": "supply"}


@pytest.fixture
def web(org: Any):
    cache: dict[str, Client] = {}

    def as_(username: str) -> Client:
        if username not in cache:
            cache[username] = Client()
            cache[username].force_login(getattr(org, username))
        return cache[username]

    return as_


def closed_history(api: Any, per_topic: int = 8) -> None:
    """Closed cases with a category, as if handled over the past months (made through intake,
    then marked closed directly: the test is about learning from them, not about closing)."""
    for topic, texts in TOPICS.items():
        category = Category.objects.get(code=CATEGORY[topic])
        for i in range(per_topic):
            number = new_case(api, subject=texts[i % len(texts)], description=f"{texts[(i + 1) % len(texts)]}，第{i}次")[
                "number"]
            Case.objects.filter(number=number).update(state=State.CLOSED, category=category)


def test_suggestions_are_off_with_too_little_history_and_say_why(api, web) -> None:
    html = web("agent").get("/text/assist/", {"subject": "配送又延误了三天"}).content.decode()
    assert html.count("data-off") == 3  # category, unit, severity
    assert "仅 0 件" in html and "200" in html  # only 0 closed cases to learn from; starts at 200


def test_retrain_learns_from_closed_cases_and_the_agent_confirms_the_suggestion(api, web, monkeypatch) -> None:
    monkeypatch.setattr(suggest, "MIN_ROWS", 12)
    closed_history(api)
    call_command("text", "retrain", "--target", "category")
    rows = {s.target: s for s in suggest.suggest("配送员又迟到了", "送货晚了")}
    assert rows["category"].on and rows["category"].code == "logistics_delivery"
    assert 0 < rows["category"].confidence <= 1
    assert not rows["unit"].on  # no closed case has a handling unit yet
    html = web("agent").get("/text/assist/", {"subject": "配送员又迟到了", "description": "送货晚了"}).content.decode()
    # shown with a button the agent clicks to fill the form's category; nothing applied by itself
    assert 'data-fill="#f-category" data-value="logistics_delivery"' in html
    body = api("agent").get("/text/suggest", subject="配送员又迟到了").json()
    assert body["items"][0]["target"] == "category" and body["items"][0]["code"] == "logistics_delivery"
    page = web("leader").get("/text/models/").content.decode()
    assert 'data-target="category"' in page and "v1" in page
    assert web("handler_a").get("/text/models/").status_code == 404


def test_similar_open_cases_of_the_same_caller_or_the_same_matter(api, web) -> None:
    same_matter = new_case(api, subject="小区门口卷烟店销售假烟", description="东门卷烟店长期销售假烟，多次举报无人处理",
                           complainant={"phone": "13811112222"})["number"]
    same_caller = new_case(api, subject="别的问题", description="营业时间不合理", complainant={"phone": "13933334444"})["number"]
    unrelated = new_case(api, subject="路灯不亮", description="路灯坏了很久", complainant={"phone": "13755556666"})["number"]
    html = web("agent").get("/text/assist/", {"subject": "东门卷烟店销售假烟", "description": "卷烟店长期销售假烟，无人处理",
                                              "complainant_phone": "13933334444"}).content.decode()
    assert f'data-similar-case="{same_matter}"' in html
    assert f'data-similar-case="{same_caller}"' in html
    assert unrelated not in html
    assert "Urge this case instead" in html or "催办" in html
    body = api("agent").get("/text/similar", subject="东门卷烟店销售假烟", description="卷烟店长期销售假烟，无人处理").json()
    assert [s["number"] for s in body["items"]] == [same_matter]
    assert api("handler_b").get("/text/similar", subject="东门卷烟店销售假烟").json()["items"] == []


def test_closed_cases_are_not_similar_open_cases(api) -> None:
    number = new_case(api, subject="东门卷烟店销售假烟", description="卷烟店长期销售假烟")["number"]
    Case.objects.filter(number=number).update(state=State.CLOSED)
    assert api("agent").get("/text/similar", subject="东门卷烟店销售假烟").json()["items"] == []


def test_the_intake_page_includes_the_assistant(web) -> None:
    html = web("agent").get("/intake/").content.decode()
    assert 'id="text-assist"' in html and "/text/assist/" in html


def test_at_dispatch_the_assistant_reads_the_registered_case(api, web) -> None:
    first = new_case(api, subject="东门卷烟店销售假烟", description="卷烟店长期销售假烟，无人处理")["number"]
    second = new_case(api, subject="东门卷烟店又在销售假烟", description="卷烟店长期销售假烟，还是无人处理")["number"]
    html = web("dispatcher").get("/text/assist/", {"case": second}).content.decode()
    assert f'data-similar-case="{first}"' in html and f'data-similar-case="{second}"' not in html
    assert web("handler_b").get("/text/assist/", {"case": second}).status_code == 404


def test_groups_of_similar_cases_in_a_day(api, org) -> None:
    from huiyin.text.similar import groups

    for i in range(3):
        new_case(api, subject="小区停电三天无人处理", description=f"幸福小区停电三天，供电所电话打不通，第{i}位业主反映")
    new_case(api, subject="路灯不亮", description="路灯坏了很久")
    found = groups(org.leader)
    assert [len(g) for g in found] == [3]
    assert groups(org.handler_b) == []


GROUP_RULE = """
name: textgroup
workflow: {approval_before_dispatch: []}
repeat: {within_days: 30, open_contact: urge}
rules:
  - name: 同一事由多人投诉
    when: {count: {same: [text], window_hours: 24, gte: 3}}
    then: [{add_tag: group}]
"""


def test_similar_wording_feeds_the_count_rules_as_a_group_complaint(api) -> None:
    from huiyin.policies.services import policy_load_preset

    policy_load_preset("textgroup", text=GROUP_RULE)
    numbers = [new_case(api, subject=subject, complainant={"phone": f"1390000001{i}"},
                        description=f"幸福小区停电三天，供电所电话打不通，第{i}位业主反映")["number"]
               for i, subject in enumerate(["小区停电三天无人处理", "幸福小区停电三天", "停电三天没人管"])]
    other = new_case(api, subject="路灯不亮", description="路灯坏了很久", complainant={"phone": "13900000020"})
    tags = {n: Case.objects.get(number=n).tags for n in [*numbers, other["number"]]}
    assert "group" in tags[numbers[2]]  # the third caller, in other words, makes it a group
    assert "group" not in tags[numbers[0]] and "group" not in tags[other["number"]]
