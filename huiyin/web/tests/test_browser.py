"""The staff pages in a real browser (Playwright driving Debian's Chromium) against a live server,
done by the demo personas as the tobacco preset's regulation describes (seed 000 第一篇).

Screenshots of the main pages go to var/screenshots/ for people to look at.
"""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from openpyxl import load_workbook

from huiyin.cases.models import Case
from huiyin.cases.tests.helpers import case_in

from .conftest import Pages, shot

pytestmark = pytest.mark.django_db(transaction=True)


def open_case(page: Any, number: str) -> None:
    page.goto(f"/cases/{number}/")


def act(page: Any, number: str, action: str, fields: dict[str, str] | None = None, *, radio: dict[str, str] | None = None,
        expect: str | None = None) -> None:
    """Open the case page, fill the action's form and send it; check the state it lands in."""
    open_case(page, number)
    form = page.locator(f'details[data-action-form="{action}"]')
    if form.get_attribute("open") is None:
        form.locator("summary").click()
    for name, value in (fields or {}).items():
        field = form.locator(f'[name="{name}"]')
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    for name, value in (radio or {}).items():
        form.locator(f'label[for="act-{action}-{name}-{value}"]').click()
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    if expect is not None:
        assert page.locator("[data-state]").get_attribute("data-state") == expect, page.locator(".alert").all_inner_texts()


def number_on(page: Any) -> str:
    text = page.locator(".page-pretitle .case-number").inner_text()
    assert re.fullmatch(r"[A-Z]{2}\d{8}-\d{6}", text), text
    return text


def test_the_whole_tobacco_flow_through_the_pages(pages: Pages) -> None:
    agent = pages.as_("agent")
    shot(agent, "workbench-agent")
    # 受理: the agent takes the call.
    agent.goto("/intake/")
    agent.fill("#f-phone", "13800138000")
    agent.fill("#f-name", "张三")
    agent.fill("#f-subject", "配送延误,卷烟未按时到货")
    agent.fill("#f-description", "零售户反映本周订购的卷烟延误三天送达。")
    agent.fill("#f-demands", "要求说明原因并保证以后按时配送")
    agent.select_option("#f-category", "logistics_delivery")
    shot(agent, "intake")
    with agent.expect_navigation():
        agent.click("button[name=then][value=open]")
    number = number_on(agent)
    assert agent.locator("[data-state]").get_attribute("data-state") == "registered"
    assert "配送延误" in agent.inner_text("h2.page-title")

    # 派单: the dispatcher proposes county A; the tobacco policy asks the leader's 批示 first.
    dispatcher = pages.as_("dispatcher")
    act(dispatcher, number, "dispatch", {"unit": "county_a", "instructions": "请县局A两个工作日内处理"},
        expect="pending_approval")

    # 批示: the leader decides in the approvals inbox, one click with a comment.
    leader = pages.as_("leader")
    leader.goto("/approvals/")
    row = leader.locator(f'#approvals-dispatch tr[data-case="{number}"]')
    row.locator("input[name=comment]").fill("同意,请县局A抓紧办理")
    shot(leader, "approvals")
    row.locator('[data-decision="approve"]').click()
    leader.locator(f'#approvals-dispatch tr[data-case="{number}"] [data-act-result="ok"]').wait_for()
    assert Case.objects.get(number=number).state == "dispatched"

    # 签收 and handling by county A, with an extension granted by the leader.
    handler = pages.as_("handler_a")
    handler.goto("/")
    assert handler.locator(f'a[href="/cases/{number}/"]').count() == 1
    shot(handler, "workbench-handler")
    act(handler, number, "acknowledge", expect="accepted")
    act(handler, number, "request_extension", {"amount": "1", "unit": "working_days", "reason": "需到零售户现场核实"})
    leader.goto("/approvals/")
    leader.locator(f'#approvals-extension tr[data-case="{number}"] [data-decision="grant_extension"]').click()
    leader.locator('#approvals-extension [data-act-result="ok"]').wait_for()
    act(handler, number, "record_contact", {"notes": "已电话联系客户"})
    act(handler, number, "submit_result", {
        "cause": "物流车辆故障", "course": "周二车辆抛锚,改派车辆延误", "responsible_person": "配送班组长",
        "conclusion": "情况属实", "countermeasures": "增加备用车辆", "reply": "已致歉并补送,今后按时配送",
        "liability": "enterprise",
    }, expect="result_submitted")
    shot(handler, "case-result-submitted")

    # 审核 and 回访 at the centre.
    act(dispatcher, number, "review", radio={"accept": "true"}, expect="pending_callback")
    act(agent, number, "callback", {"satisfaction": "satisfied", "notes": "客户表示满意"}, expect="pending_callback")
    # 第一篇 二(三): a satisfied result goes to the leader, who decides whether a second round is needed.
    act(leader, number, "close", expect="closed")
    timeline = agent.locator("#timeline").inner_text()
    for word in ("登记", "派单", "批示同意", "签收", "申请延期", "批准延期", "反馈处理结果", "审核处理结果", "回访"):
        assert word in timeline, word
    shot(agent, "case-closed")


def test_phone_intake_shows_the_callers_cases_and_urges(pages: Pages, api: Any) -> None:
    open_number = case_in(api, "accepted", complainant={"name": "王五", "phone": "13900001111"})
    agent = pages.as_("agent")
    agent.goto("/intake/")
    # Keyboard only: the phone field has the focus; the caller's open case appears while typing.
    agent.wait_for_function("document.activeElement && document.activeElement.id === 'f-phone'")
    agent.keyboard.type("139 0000 1111", delay=15)
    agent.locator(f'[data-open-case="{open_number}"]').wait_for()
    # Leaving the phone field does not look the number up again: the list stays as drawn.
    agent.keyboard.press("Tab")
    shot(agent, "intake-history")
    agent.fill(f"#urge-note-{open_number}", "客户再次来电催促处理")
    agent.locator(f"#urge-{open_number} button").click()
    agent.locator('[data-act-result="ok"]').wait_for()
    assert Case.objects.get(number=open_number).urge_count == 1
    # A consultation answered on the spot: one step, closed with the answer.
    agent.goto("/intake/")
    agent.wait_for_function("document.activeElement && document.activeElement.id === 'f-phone'")
    agent.keyboard.type("13700000000")
    agent.keyboard.press("Tab")
    agent.keyboard.type("赵六")
    agent.click('label[for="f-kind-consultation"]')
    agent.fill("#f-subject", "咨询卷烟零售许可证办理")
    agent.fill("#f-answer", "携带身份证和经营场所证明到政务大厅专卖窗口办理")
    with agent.expect_navigation():
        agent.locator("#f-answer").press("Control+Enter")
    assert agent.locator(".alert-success").count() == 1
    case = Case.objects.get(subject="咨询卷烟零售许可证办理")
    assert case.state == "closed" and case.kind == "consultation" and case.complainant_phone == "13700000000"


def test_an_unsatisfied_callback_leads_to_a_second_dispatch(pages: Pages, api: Any) -> None:
    number = case_in(api, "pending_callback")
    agent = pages.as_("agent")
    act(agent, number, "callback", {"satisfaction": "unsatisfied", "notes": "客户不认可处理结果"}, expect="pending_callback")
    supervisor = pages.as_("supervisor")
    act(supervisor, number, "redispatch", {"unit": "logistics", "instructions": "整顿办督办:物流部重新核查"},
        expect="dispatched")
    case = Case.objects.get(number=number)
    assert case.round == 2 and case.supervised and case.unit.code == "logistics"
    assert "第2轮" in supervisor.inner_text("body")
    shot(supervisor, "case-redispatched")
    supervisor.goto("/board/")
    shot(supervisor, "board")


def test_a_stale_page_shows_the_conflict_and_the_fresh_case(pages: Pages, api: Any) -> None:
    number = case_in(api, "registered")
    first = pages.as_("dispatcher")
    open_case(first, number)
    second = pages.contexts["dispatcher"].new_page()
    act(second, number, "classify", {"severity": "major"})
    # The first page still shows version 1: its dispatch meets a changed case.
    form = first.locator('details[data-action-form="dispatch"]')
    form.locator("[name=unit]").select_option("county_a")
    with first.expect_navigation():
        form.locator("button[type=submit]").click()
    assert first.locator('[data-alert="conflict"]').count() == 1
    assert "重大" in first.inner_text("body")
    shot(first, "case-conflict")
    assert Case.objects.get(number=number).state == "registered"


def test_handler_b_gets_404_on_handler_as_case(pages: Pages, api: Any) -> None:
    number = case_in(api, "accepted")
    handler_b = pages.as_("handler_b")
    response = handler_b.goto(f"/cases/{number}/")
    assert response.status == 404
    assert "不在您的单位范围内" in handler_b.inner_text("body")
    shot(handler_b, "not-found")


def test_the_list_exports_to_excel_with_masked_numbers(pages: Pages, api: Any) -> None:
    number = case_in(api, "accepted")
    dispatcher = pages.as_("dispatcher")
    dispatcher.goto("/cases/?kind=complaint")
    assert dispatcher.locator(f'a[href="/cases/{number}/"]').count() == 1
    shot(dispatcher, "cases")
    # 未经批准不得外借 (tobacco): the export asks for a reason, waits for the leader's approval,
    # and is then downloaded once from the export requests page.
    dispatcher.click("#export-link")
    dispatcher.fill("#id_reason", "月度例会材料")
    dispatcher.press("#id_reason", "Enter")
    request_id = dispatcher.locator("[data-export-request]").first.get_attribute("data-export-request")
    leader = pages.as_("leader")
    leader.goto("/privacy/exports/")
    leader.click(f'tr[data-export-request="{request_id}"] button[value=approve]')
    leader.wait_for_load_state()
    dispatcher.goto("/privacy/exports/")
    with dispatcher.expect_download() as info:
        dispatcher.click(f'tr[data-export-request="{request_id}"] a.btn-primary')
    with open(info.value.path(), "rb") as fh:
        content = fh.read()
    rows = list(load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True))
    assert rows[0][0] == "编号" and rows[1][0] == number
    assert "138****8000" in rows[1] and "13800138000" not in rows[1]
    open_case(dispatcher, number)
    shot(dispatcher, "case-accepted")


def test_the_dashboard_draws_its_charts_and_english_works(pages: Pages, api: Any) -> None:
    case_in(api, "closed")
    case_in(api, "accepted")
    leader = pages.as_("leader")
    leader.goto("/dashboard/")
    leader.locator("#chart-open svg").wait_for()
    leader.locator("#chart-satisfaction svg").wait_for()
    shot(leader, "dashboard")
    leader.goto("/")
    shot(leader, "workbench-leader")
    leader.click("button[name=language][value=en]")
    leader.wait_for_load_state()
    assert "My work" in leader.inner_text("body")
    shot(leader, "workbench-leader-en")
    login = pages.browser.new_page(base_url=pages.base_url, locale="zh-CN")
    login.goto("/login/")
    shot(login, "login")
    login.close()
