"""The staff pages as a busy hotline uses them, in Chromium on a laptop (1366×768) and on a phone
(390×844): most urgent first, the deadline and the next step in view, safe intake, repeat
callers, print, phones, contrast — each as a person at the screen would notice it.

Screenshots of each page at both sizes go to var/screenshots/ (<page>-laptop.png, <page>-phone.png).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from huiyin.cases.models import Case, Timer
from huiyin.cases.tests.helpers import RESULT, case_in
from huiyin.conftest import new_case
from huiyin.policies.models import Policy
from huiyin.policies.services import clear_cache
from huiyin.sla.calendar import add_business_minutes, business_minutes_between

from .browser import (
    SIZES,
    Screens,
    contrast_failures,
    in_first_screen,
    page_fits,
    reddish,
    rgb,
    screens_fixture,  # noqa: F401 (the `screens` fixture)
    shot,
    yellowish,
)
from .support import sync_deadline

pytestmark = pytest.mark.django_db(transaction=True)


def due_in(number: str, code: str, *, working_minutes: int, at_risk: bool) -> None:
    """Move one stage deadline of a case to `working_minutes` of working time from now (negative:
    that long ago), at risk or not; the case's other deadlines far away."""
    now = timezone.now()
    if working_minutes >= 0:
        due = add_business_minutes(now, working_minutes).due_at
    else:
        due = now - timedelta(minutes=-working_minutes)
        # out of office hours (evenings, weekends) that long ago is not that much working time
        while business_minutes_between(due, now) < -working_minutes:
            due -= timedelta(minutes=30)
    remind = now - timedelta(minutes=5) if at_risk or working_minutes < 0 else due - timedelta(minutes=1)
    Timer.objects.filter(case__number=number, stopped_at__isnull=True).exclude(code=code).update(
        due_at=now + timedelta(days=30), remind_at=now + timedelta(days=29))
    Timer.objects.filter(case__number=number, code=code, stopped_at__isnull=True).update(
        started_at=now - timedelta(days=2), due_at=due, remind_at=remind)
    sync_deadline(number)


def row_numbers(page: Any, scope: str) -> list[str]:
    return [n for n in page.locator(f"{scope} [data-case]").evaluate_all("rows => rows.map(r => r.dataset.case)")]


def flash(page: Any) -> str:
    return " ".join(page.locator(".messages .alert").all_inner_texts())


# --- 1. urgency first -------------------------------------------------------------------------


def test_every_queue_puts_the_most_urgent_first_and_marks_risk_and_overdue(screens: Screens, api: Any) -> None:
    five_hours, twenty_minutes, late = (case_in(api, "accepted") for _ in range(3))
    due_in(five_hours, "resolve", working_minutes=300, at_risk=False)
    due_in(twenty_minutes, "resolve", working_minutes=20, at_risk=True)
    due_in(late, "resolve", working_minutes=-90, at_risk=True)
    first, second = case_in(api, "pending_approval"), case_in(api, "pending_approval")
    due_in(first, "dispatch", working_minutes=200, at_risk=False)
    due_in(second, "dispatch", working_minutes=30, at_risk=True)
    for size in SIZES:
        handler = screens.as_("handler_a", size)
        handler.goto("/")
        assert row_numbers(handler, "#workbench-rows") == [late, twenty_minutes, five_hours]
        row = f'#workbench-rows [data-case="{twenty_minutes}"]'
        assert handler.locator(f"{row} .remaining").inner_text() == "剩余 20 个工作分钟"
        assert handler.locator(row).get_attribute("data-urgency") == "at_risk"
        assert yellowish(rgb(handler, f"{row} .remaining"))
        overdue = f'#workbench-rows [data-case="{late}"]'
        assert handler.locator(f"{overdue} .remaining").inner_text().startswith("超期")
        assert reddish(rgb(handler, f"{overdue} .remaining"))
        assert handler.locator(f'#workbench-rows [data-case="{five_hours}"] .remaining').inner_text() == "剩余 5 个工作小时"
        shot(handler, "workbench-by-time-left", size)
        handler.click('[data-sort="id"]')
        handler.wait_for_url(re.compile(r"sort=id"))
        assert row_numbers(handler, "#workbench-rows") == [five_hours, twenty_minutes, late]
        dispatcher = screens.as_("dispatcher", size)
        dispatcher.goto("/cases/?sort=due")
        assert row_numbers(dispatcher, "#case-results")[:5] == [late, twenty_minutes, second, first, five_hours]
        supervisor = screens.as_("supervisor", size)
        supervisor.goto("/board/")
        assert row_numbers(supervisor, ".list-group")[:3] == [late, twenty_minutes, second]
        shot(supervisor, "board", size)
        leader = screens.as_("leader", size)
        leader.goto("/approvals/")
        assert row_numbers(leader, "#approvals-dispatch") == [second, first]
        assert leader.locator(f'#approvals-dispatch [data-case="{second}"]').get_attribute("data-urgency") == "at_risk"


# --- 2. the case header -----------------------------------------------------------------------


def test_the_case_header_carries_what_matters_without_scrolling(screens: Screens, api: Any) -> None:
    case_in(api, "closed")  # the caller's earlier case: the new one is a repeat complaint
    cases = {size: case_in(api, "dispatched") for size in SIZES}
    for size, number in cases.items():
        assert api("agent").act(number, "urge", {"note": "客户再次来电催促"}).status_code == 200
        handler = screens.as_("handler_a", size)
        handler.goto(f"/cases/{number}/")
        for what in ("[data-state]", "#case-summary .case-number", "[data-waiting]", "[data-unit]", "[data-round]",
                     "[data-deadline] .remaining", "[data-urged]", "[data-repeat-of]",
                     '[data-next-action="acknowledge"]', '[data-next-action="return"]'):
            assert in_first_screen(handler, what), (size, what)
        assert handler.locator("[data-deadline] .remaining").inner_text().startswith("剩余")
        assert "签收" in handler.locator("[data-waiting]").inner_text()
        shot(handler, "case-header", size)
        # One click acknowledges; the next expected step is the result, whose form opens at once.
        with handler.expect_navigation():
            handler.click('[data-next-action="acknowledge"]')
        assert handler.locator("[data-state]").get_attribute("data-state") == "accepted"
        assert "签收：已完成" in flash(handler)
        handler.click('[data-next-action="submit_result"]')
        form = handler.locator('details[data-action-form="submit_result"]')
        assert form.get_attribute("open") is not None
        assert handler.evaluate("document.activeElement.closest('details') !== null")
        for name, value in RESULT.items():
            form.locator(f'[name="{name}"]').fill(value)
        button = form.locator("button[type=submit]")
        assert button.bounding_box()["height"] >= 44
        with handler.expect_navigation():
            button.click()
        assert handler.locator("[data-state]").get_attribute("data-state") == "result_submitted"
        assert page_fits(handler), size


# --- 3. the next step ---------------------------------------------------------------------------


def test_the_next_step_is_always_clear(screens: Screens, api: Any) -> None:
    number = case_in(api, "pending_callback")
    agent = screens.as_("agent", "laptop")
    agent.goto(f"/cases/{number}/")
    form = agent.locator('details[data-action-form="callback"]')
    form.locator("[name=satisfaction]").select_option("unsatisfied")
    form.locator("[name=notes]").fill("客户不认可处理结果")
    with agent.expect_navigation():
        form.locator("button[type=submit]").click()
    assert "二次派单" in flash(agent)
    assert agent.locator("[data-waiting]").get_attribute("data-waiting") == "redispatch"
    assert "二次派单" in agent.locator("[data-waiting]").inner_text()
    assert agent.locator('details[data-action-form="close"]').count() == 0  # the agent can no longer close
    shot(agent, "case-waits-for-redispatch", "laptop")
    for size in SIZES:
        supervisor = screens.as_("supervisor", size)
        supervisor.goto("/")
        row = supervisor.locator(f'#workbench-rows [data-case="{number}"]')
        assert "不满意后的处置决定" in row.inner_text()  # the decision's own deadline
        assert row.locator(".remaining").inner_text().startswith("剩余")
        shot(supervisor, "workbench-supervisor", size)
        supervisor.goto(f"/cases/{number}/")
        assert supervisor.locator("[data-next-action]").first.get_attribute("data-next-action") == "redispatch"
    # A dispatch that waits for the leader's instruction says so, and never "done".
    registered = new_case(api)["number"]
    dispatcher = screens.as_("dispatcher", "phone")
    dispatcher.goto(f"/cases/{registered}/")
    form = dispatcher.locator('details[data-action-form="dispatch"]')
    form.locator("[name=unit]").select_option("county_a")
    with dispatcher.expect_navigation():
        form.locator("button[type=submit]").click()
    assert dispatcher.locator("[data-state]").get_attribute("data-state") == "pending_approval"
    message = flash(dispatcher)
    assert "批示" in message and "已完成" not in message, message


# --- 5. safe intake -----------------------------------------------------------------------------


def test_intake_is_safe_from_the_keyboard(screens: Screens, api: Any) -> None:
    agent = screens.as_("agent", "laptop")
    agent.goto("/intake/")
    agent.fill("#f-phone", "88886666")  # a landline without its area code
    agent.fill("#f-name", "李四")
    agent.fill("#f-subject", "卷烟断货")
    agent.locator("#f-subject").press("Enter")  # Enter in a single-line field never sends the form
    agent.locator("[data-phone-problem]").wait_for()  # the number is checked as it is typed
    assert agent.url.endswith("/intake/") and not Case.objects.filter(subject="卷烟断货").exists()
    # Text pasted over a limit is kept, counted and stops the form.
    agent.fill("#f-subject", "长" * 250)
    assert agent.locator("#f-subject").input_value() == "长" * 250
    assert agent.locator("#f-subject-count").inner_text().startswith("250 / 200")
    assert not agent.evaluate("document.getElementById('intake-form').checkValidity()")
    agent.fill("#f-subject", "卷烟断货")
    with agent.expect_navigation():
        agent.locator("#f-subject").press("Control+Enter")
    problem = agent.locator("#f-phone ~ .invalid-feedback").inner_text()
    assert "手机号" in problem and "0871-12345678" in problem and "^" not in problem
    assert agent.locator("#f-subject").input_value() == "卷烟断货"
    shot(agent, "intake-refused", "laptop")
    # No way to reach the caller, for a kind the policy calls back: refused, with the reason.
    agent.fill("#f-phone", "")
    with agent.expect_navigation():
        agent.locator("#f-subject").press("Control+Enter")
    assert "回访" in agent.locator("#f-phone ~ .invalid-feedback").inner_text()
    agent.fill("#f-phone", "+86 138-0013-8000")
    with agent.expect_navigation():
        agent.locator("#f-subject").press("Control+Enter")
    assert Case.objects.get(subject="卷烟断货").complainant_phone == "13800138000"
    # The sign-in form keeps Enter.
    login = screens.browser.new_page(base_url=screens.base_url)
    login.goto("/login/")
    login.fill("#id_username", "agent")
    login.fill("#id_password", "pw-for-tests")
    with login.expect_navigation():
        login.locator("#id_password").press("Enter")
    assert login.url.rstrip("/") == screens.base_url.rstrip("/")
    login.close()
    # The caller's name finds the case for those who may read it.
    dispatcher = screens.as_("dispatcher", "phone")
    dispatcher.goto("/cases/?q=李四")
    assert row_numbers(dispatcher, "#case-results") == [Case.objects.get(subject="卷烟断货").number]
    auditor = screens.as_("auditor", "laptop")
    auditor.goto("/cases/?q=李四")
    assert row_numbers(auditor, "#case-results") == []


def test_enter_in_the_one_line_field_of_an_action_form_never_sends_it(screens: Screens, api: Any) -> None:
    """A leader typing a comment beside 同意/不同意 and pressing Enter approves nothing; nor does a
    supervisor's urge note on the board."""
    number = case_in(api, "pending_approval")
    leader = screens.as_("leader", "laptop")
    leader.goto("/approvals/")
    comment = leader.locator(f'#approvals-dispatch [data-case="{number}"] input[name=comment]').first
    comment.fill("请先核实再派")
    comment.press("Enter")
    leader.wait_for_load_state("networkidle")
    assert Case.objects.get(number=number).state == "pending_approval"
    assert comment.input_value() == "请先核实再派"
    dispatched = case_in(api, "dispatched")
    due_in(dispatched, "acknowledge", working_minutes=-30, at_risk=True)  # overdue: on the board
    supervisor = screens.as_("supervisor", "phone")
    supervisor.goto("/board/")
    note = supervisor.locator(f"#urge-{dispatched}-note")
    note.fill("请今天内签收")
    note.press("Enter")
    supervisor.wait_for_load_state("networkidle")
    assert Case.objects.get(number=dispatched).urge_count == 0
    assert supervisor.locator(f"#urge-{dispatched}-note-count").inner_text().startswith("6 / 5000")


# --- 6. repeat callers, several questions --------------------------------------------------------


def test_a_caller_with_several_questions_and_a_history(screens: Screens, api: Any) -> None:
    open_number = case_in(api, "accepted", complainant={"name": "王五", "phone": "13900001111"})
    agent = screens.as_("agent", "laptop")
    agent.goto("/intake/")
    agent.locator("#f-phone").press_sequentially("13900001111")
    entry = agent.locator(f'[data-open-case="{open_number}"]')
    entry.wait_for()
    # The history tells the caller how far the open case is: unit, step, deadline.
    assert "县局A" in entry.inner_text() and entry.locator("[data-waiting]").count() == 1
    assert entry.locator("[data-progress] .remaining").inner_text().startswith("剩余")
    assert agent.locator("#f-name").input_value() == "王五"  # from the caller's history
    # A consultation's answer box follows the question.
    agent.click('label[for="f-kind-consultation"]')
    question = agent.locator("#f-description").bounding_box()
    answer = agent.locator("#f-answer").bounding_box()
    demands = agent.locator("#f-demands").bounding_box()
    assert question["y"] < answer["y"] < demands["y"]
    agent.fill("#f-subject", "咨询许可证延续")
    shot(agent, "intake-repeat-caller", "laptop")
    with agent.expect_navigation():
        agent.click('[data-then="same"]')
    # Another question of the same call: the caller's details stay.
    assert agent.locator("[data-same-caller]").count() == 1
    assert agent.locator("#f-phone").input_value() == "13900001111"
    assert agent.locator("#f-name").input_value() == "王五"
    agent.fill("#f-subject", "另一个问题：送货时间")
    with agent.expect_navigation():
        agent.locator("#f-subject").press("Control+Enter")
    second = Case.objects.get(subject="另一个问题：送货时间")
    assert (second.complainant_phone, second.complainant_name) == ("13900001111", "王五")


# --- 7. print -----------------------------------------------------------------------------------


def test_every_case_prints_as_a_clean_a4_record(screens: Screens, api: Any) -> None:
    number = case_in(api, "closed")
    policy = Policy.objects.get(active=True)
    Policy.objects.filter(pk=policy.pk).update(config={**policy.config, "forms": {**policy.config.get("forms", {}),
        "record": {"title": {"complaint": "客户投诉受理监督记录表"}, "signatures": ["受理员", "分管领导批示"],
                   "basis": "第一篇 二(一)2"}}})
    clear_cache()
    page = screens.as_("dispatcher", "laptop")
    page.goto(f"/cases/{number}/")
    assert page.locator("[data-print]").is_visible()
    page.emulate_media(media="print")
    assert page.locator("#print-record").is_visible()
    assert not page.locator(".navbar").is_visible() and not page.locator("#case-summary").is_visible()
    assert page.locator("[data-print-title]").inner_text() == "客户投诉受理监督记录表"
    record = page.locator("#print-record").inner_text()
    for part in (number, "配送延误", "张三", "县局A", "答复客户", "满意", "签收", "受理员", "分管领导批示"):
        assert part in record, part
    pdf = page.pdf(format="A4", print_background=False)
    assert pdf.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page[^s]", pdf)) <= 3
    (shot(page, "case-print", "a4"))
    page.emulate_media(media="screen")


def record_rows(page: Any) -> list[tuple[str, str]]:
    """The printed record form's rows: (label, value) of each, in order."""
    return [(r["th"], r["td"]) for r in page.locator("#print-record [data-record-form] tr").evaluate_all(
        "rows => rows.map(r => ({th: r.querySelector('th').innerText.trim(),"
        " td: (r.querySelector('td') || {innerText: ''}).innerText.trim()}))")]


def test_the_print_button_prints_the_presets_record_form_as_the_case_page_shows_it(screens: Screens, api: Any) -> None:
    """Tobacco has its own record form (客户投诉受理监督记录表, documents.record_form): the case page
    prints it, row by row in the preset's order, with what the reader may see of the caller."""
    number = case_in(api, "closed", complainant={"name": "张三", "phone": "13800138000", "account": "RT-0001"})
    labels = ["工单编号", "受理时间", "受理渠道", "投诉人", "联系方式", "客户编号/账号", "投诉主题", "投诉内容", "客户诉求",
              "问题分类", "承办单位", "派单意见/领导批示", "签收时间", "调查处理情况", "答复意见", "客户满意度", "回访情况",
              "督办情况", "办结时间", "受理人签字", "分管领导批示"]
    for size in SIZES:
        page = screens.as_("dispatcher", size)
        page.goto(f"/cases/{number}/")
        assert page.locator("[data-print]").is_visible()
        page.emulate_media(media="print")
        assert page.locator("#print-record [data-record-form]").is_visible()
        assert not page.locator("[data-plain-record]").count()
        assert page.locator("[data-print-title]").inner_text() == "客户投诉受理监督记录表"
        rows = dict(record_rows(page))
        assert [label for label, _value in record_rows(page)] == labels
        assert rows["工单编号"] == number and rows["投诉人"] == "张三" and rows["联系方式"] == "13800138000"
        assert rows["客户编号/账号"] == "RT-0001" and rows["承办单位"] == "县局A" and rows["答复意见"] == "答复客户"
        assert "原因：原因" in rows["调查处理情况"] and rows["客户满意度"] == "满意" and "年" in rows["办结时间"]
        assert page.locator("#print-record .print-timeline").is_visible()  # the case's steps follow the form
        steps = page.locator("#print-record .print-timeline").inner_text()
        assert "分管领导" in steps and "leader" not in steps  # the role awaited, in words (item 4)
        box = page.locator("#print-record [data-record-form]").bounding_box()
        assert box and box["width"] <= page.viewport_size["width"]  # the form fits the paper, not the screen
        shot(page, "case-print-record-form", size)
        page.emulate_media(media="screen")
        assert not page.locator("#print-record").is_visible()
    # A role without identity access (the auditor) prints no name and no phone.
    for size in SIZES:
        auditor = screens.as_("auditor", size)
        auditor.goto(f"/cases/{number}/")
        auditor.emulate_media(media="print")
        rows = dict(record_rows(auditor))
        printed = auditor.locator("#print-record").inner_text()
        assert rows["投诉人"] == "—" and rows["客户编号/账号"] == "—"
        assert "张三" not in printed and "13800138000" not in printed and "RT-0001" not in printed
        shot(auditor, "case-print-record-form-auditor", size)
        auditor.emulate_media(media="screen")
    # The English interface prints the same form in English; the form's title is the policy's own.
    english = screens.as_("dispatcher", "laptop", lang="en")
    english.goto(f"/cases/{number}/")
    english.emulate_media(media="print")
    assert [label for label, _value in record_rows(english)][:3] == ["Case number", "Received at", "Channel"]
    assert dict(record_rows(english))["Customer satisfaction"] == "Satisfied"
    english.emulate_media(media="screen")
    # A policy without a record form of its own prints the plain A4 record.
    policy = Policy.objects.get(active=True)
    Policy.objects.filter(pk=policy.pk).update(config={**policy.config, "documents": {
        k: v for k, v in (policy.config.get("documents") or {}).items() if k != "record_form"}})
    clear_cache()
    page = screens.as_("dispatcher", "phone")
    page.goto(f"/cases/{number}/")
    page.emulate_media(media="print")
    assert page.locator("#print-record [data-plain-record]").is_visible()
    assert not page.locator("#print-record [data-record-form]").count()
    assert "张三" in page.locator("#print-record").inner_text()
    page.emulate_media(media="screen")


# --- 8. phones ----------------------------------------------------------------------------------


def test_a_leader_approves_and_every_page_fits_on_a_phone(screens: Screens, api: Any) -> None:
    number = case_in(api, "pending_approval")
    leader = screens.as_("leader", "phone")
    leader.goto("/approvals/")
    assert not leader.locator("#navbar-menu .nav-link").first.is_visible()  # the menu is folded
    leader.click(".navbar-toggler")
    leader.locator("#navbar-menu .nav-link").first.wait_for(state="visible")
    button = leader.locator(f'#approvals-dispatch [data-case="{number}"] [data-decision="approve"]')
    box = button.bounding_box()
    assert box["height"] >= 44 and box["width"] >= 44
    assert page_fits(leader)
    button.click()
    leader.locator(f'#approvals-dispatch [data-case="{number}"] [data-act-result="ok"]').wait_for()
    assert Case.objects.get(number=number).state == "dispatched"
    for url in ("/", "/cases/", f"/cases/{number}/", "/approvals/", "/board/", "/dashboard/", "/inbox/"):
        leader.goto(url)
        assert page_fits(leader), url
        for table in leader.locator(".table-responsive").all():
            assert table.evaluate("e => getComputedStyle(e).overflowX") == "auto", url
    leader.goto("/dashboard/")
    leader.locator("#chart-open svg, #chart-open canvas").first.wait_for()
    assert leader.locator("#chart-open").bounding_box()["width"] <= SIZES["phone"]["width"]


# --- 9 and 10. contrast on every page; screenshots of every page at both sizes ---------------------


def test_every_page_meets_wcag_aa_contrast_and_is_photographed(screens: Screens, api: Any) -> None:
    numbers = {s: case_in(api, s) for s in ("registered", "accepted", "pending_callback", "closed")}
    urgent = case_in(api, "accepted")
    due_in(urgent, "resolve", working_minutes=-30, at_risk=True)
    risky = case_in(api, "pending_approval")
    due_in(risky, "dispatch", working_minutes=15, at_risk=True)
    plan = [
        ("agent", "/", "workbench-agent"), ("agent", "/intake/", "intake"),
        ("agent", f"/cases/{numbers['pending_callback']}/", "case-pending-callback"),
        ("dispatcher", "/cases/?sort=due", "cases"), ("dispatcher", f"/cases/{numbers['registered']}/", "case-registered"),
        ("handler_a", "/", "workbench-handler"), ("handler_a", f"/cases/{urgent}/", "case-overdue"),
        ("leader", "/approvals/", "approvals"), ("leader", "/dashboard/", "dashboard"),
        ("leader", f"/cases/{numbers['closed']}/", "case-closed"), ("supervisor", "/board/", "board-supervisor"),
        ("handler_a", "/inbox/", "inbox"), ("handler_a", "/inbox/?show=unread", "inbox-unread"),
        ("handler_b", f"/cases/{numbers['accepted']}/", "not-found"),
    ]
    failures: list[str] = []
    for size in SIZES:
        for username, url, name in plan:
            page = screens.as_(username, size)
            page.goto(url)
            if url == "/dashboard/":
                page.locator("#chart-open svg, #chart-open canvas").first.wait_for()
            failures += [f"{size} {url}: {f}" for f in contrast_failures(page)]
            if not page_fits(page):
                failures.append(f"{size} {url}: wider than the screen")
            shot(page, name, size)
        login = screens.browser.new_page(base_url=screens.base_url, viewport=SIZES[size])
        login.goto("/login/")
        failures += [f"{size} /login/: {f}" for f in contrast_failures(login)]
        shot(login, "login", size)
        login.close()
    english = screens.as_("dispatcher", "laptop", lang="en")
    english.goto(f"/cases/{numbers['registered']}/")
    failures += [f"en case: {f}" for f in contrast_failures(english)]
    shot(english, "case-registered-en", "laptop")
    assert not failures, "\n".join(failures[:40])
