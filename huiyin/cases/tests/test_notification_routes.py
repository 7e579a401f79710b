"""Notification routes as the clauses write them (issue 14.8), and notices without noise
(issue 15.9): routes by severity, kind, channel and flags; the transport a route chooses; each
level of an approval chain told in turn; the duty leader out of office hours; nobody told of
their own action; a notice that names what changed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine

from huiyin.cases.tests.helpers import RESULT, case_in, custom_policy
from huiyin.conftest import bj, new_case
from huiyin.notify.models import InboxItem, Message, Notice, TransportConfig
from huiyin.notify.texts import render_inbox
from huiyin.org.models import DutyShift, Membership, Unit, User
from huiyin.policies.services import policy_load_preset

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _transports(tmp_path: Any) -> Iterator[None]:
    """E-mail and SMS both on (SMS into a file): a route's choice between them can show."""
    TransportConfig.objects.update_or_create(transport="sms", defaults={
        "enabled": True, "options": {"gateway": "file", "path": str(tmp_path / "sms.log")}})
    TransportConfig.objects.update_or_create(transport="email", defaults={"enabled": True, "options": {}})
    TransportConfig.clear_cache()
    yield
    TransportConfig.clear_cache()


def told(event: str, number: str) -> set[str]:
    """The usernames whose inbox got `event` about case `number`."""
    return set(InboxItem.objects.filter(event=event, case_number=number).values_list("user__username", flat=True))


def via(event: str, number: str, username: str) -> set[str]:
    """The personal transports a person was sent `event` about case `number` over."""
    return set(Message.objects.filter(event=event, case_number=number, recipient__username=username)
               .values_list("transport", flat=True))


def _large_loss_is_major(config: dict[str, Any]) -> None:
    config["rules"] = [*config.get("rules", []), {
        "name": "损失三万元以上按重大", "triggers": ["intake"], "when": {"field": "amount", "gte": 30000},
        "then": [{"set_severity": "major"}]}]


def _dispatch(api: Any, number: str, unit: str) -> None:
    """The dispatcher proposes the unit, the leader's 批示 sends the case there (tobacco)."""
    assert api("dispatcher").act(number, "dispatch", {"unit": unit}).status_code == 200
    assert api("leader").act(number, "approve", {"comment": "同意"}).json()["state"] == "dispatched"


def _severity_routes(config: dict[str, Any]) -> None:
    _large_loss_is_major(config)
    config.setdefault("notifications", {})["routes"] = {
        "case.dispatched": [
            {"roles": ["handler"], "over": "unit"},
            # 重大投诉: the supervisor hears at once, by SMS, whatever their own choices
            {"roles": ["supervisor"], "over": "owner", "when": {"severities": ["major"]}, "transport": ["sms"]},
            # letters are followed by the centre's dispatcher, in the inbox and by e-mail
            {"roles": ["dispatcher"], "over": "owner", "when": {"channels": ["letter"]}, "transport": ["email"]},
        ],
    }


def test_a_route_fires_for_the_severity_and_channel_it_names_over_the_transport_it_chooses(api, org) -> None:
    custom_policy(_severity_routes)
    org.supervisor.phone = "13900000001"
    org.supervisor.save()
    # The supervisor turned SMS off for themselves; the policy's route wins for this event.
    org.supervisor.notify_preferences.create(transport="sms", enabled=False)

    general = new_case(api, subject="配送延误")["number"]
    _dispatch(api, general, "county_a")
    assert told("case.dispatched", general) == {"handler_a"}

    major = new_case(api, subject="多名零售户反映假烟", amount=50000)["number"]
    _dispatch(api, major, "county_a")
    assert told("case.dispatched", major) == {"handler_a", "supervisor"}
    assert via("case.dispatched", major, "supervisor") == {"sms"}  # not e-mail: the route chose SMS
    assert via("case.dispatched", major, "handler_a") == {"email"}  # their own preferences (no phone)

    letter = new_case(api, subject="来信反映服务态度", channel="letter")["number"]
    _dispatch(api, letter, "county_b")
    assert told("case.dispatched", letter) == {"handler_b", "dispatcher"}
    assert via("case.dispatched", letter, "dispatcher") == {"email"}


def _reply_chain(config: dict[str, Any]) -> None:
    config["workflow"]["reply_approval"] = ["leader", "supervisor"]


def test_each_level_of_a_reply_approval_chain_is_told_in_turn_and_the_approver_not_of_their_own_step(api) -> None:
    custom_policy(_reply_chain)
    n = case_in(api, "accepted")  # the leader's 批示 before dispatch asked the leader once
    asked = Notice.objects.filter(event="case.approval_needed", case_number=n)
    assert asked.count() == 1
    assert api("handler_a").act(n, "submit_result", RESULT).status_code == 200
    assert asked.count() == 2 and set(asked.latest("pk").recipients) == {User.objects.get(username="leader").pk}
    assert api("leader").act(n, "approve_reply", {"accept": True, "comment": "同意"}).status_code == 200
    assert asked.count() == 3 and set(asked.latest("pk").recipients) == {User.objects.get(username="supervisor").pk}
    assert api("supervisor").act(n, "approve_reply", {"accept": True}).status_code == 200
    assert asked.count() == 3  # the chain is done: nobody else is asked


def _duty(config: dict[str, Any]) -> None:
    _large_loss_is_major(config)
    config.setdefault("notifications", {})["routes"] = {
        "case.major_opened": [
            {"roles": ["leader"], "over": "owner", "when": {"hours": "in"}},
            # 值班领导: out of office hours only the leader on duty, by SMS
            {"roles": ["leader"], "over": "owner", "when": {"hours": "out"}, "duty": True, "transport": ["sms"]},
        ],
    }


def test_out_of_hours_a_major_case_goes_to_the_leader_on_duty_and_in_hours_to_every_leader(api, org) -> None:
    custom_policy(_duty)
    night = User.objects.create(username="night_leader", display_name="值班副局长", phone="13900000002")
    Membership.objects.create(user=night, unit=Unit.objects.get(code="bureau"), role="leader")
    DutyShift.objects.create(unit=Unit.objects.get(code="bureau"), user=night,
                             starts_at=bj(2026, 3, 10, 17, 30), ends_at=bj(2026, 3, 11, 8, 30))
    with time_machine.travel(bj(2026, 3, 10, 21, 0), tick=False):  # a Tuesday evening
        evening = new_case(api, subject="门店起火", amount=50000)["number"]
    assert told("case.major_opened", evening) == {"night_leader"}
    assert via("case.major_opened", evening, "night_leader") == {"sms"}
    with time_machine.travel(bj(2026, 3, 11, 10, 0), tick=False):  # Wednesday morning
        morning = new_case(api, subject="门店起火", amount=50000)["number"]
    assert told("case.major_opened", morning) == {"leader", "night_leader"}
    with time_machine.travel(bj(2026, 3, 14, 10, 0), tick=False):  # a Saturday, nobody rostered
        weekend = new_case(api, subject="门店起火", amount=50000)["number"]
    # nobody on duty: every leader rather than no one
    assert told("case.major_opened", weekend) == {"leader", "night_leader"}


def _policy_role_route(config: dict[str, Any]) -> None:
    config["roles"] = {"centre_head": {"name": "监控中心主任", "role": "supervisor", "unit": "centre"}}
    config.setdefault("notifications", {})["routes"] = {
        "case.result_submitted": [{"roles": ["centre_head"], "over": "owner"}],
    }


def test_a_route_to_a_role_the_policy_defines_reaches_its_holder_only(api) -> None:
    custom_policy(_policy_role_route)
    head = User.objects.create(username="centre_head")
    Membership.objects.create(user=head, unit=Unit.objects.get(code="centre"), role="supervisor")
    n = case_in(api, "result_submitted")
    # the bureau's supervisor is a supervisor, but not the centre's head
    assert told("case.result_submitted", n) == {"centre_head"}


def _everyone_on_dispatch(config: dict[str, Any]) -> None:
    config.setdefault("notifications", {})["routes"] = {
        "case.dispatched": [{"roles": ["dispatcher", "leader"], "over": "owner"}, {"roles": ["handler"], "over": "unit"}],
    }


def test_nobody_is_told_of_their_own_action_and_the_notice_names_what_changed(api) -> None:
    custom_policy(_everyone_on_dispatch)
    n = new_case(api)["number"]
    _dispatch(api, n, "county_a")
    assert told("case.dispatched", n) == {"dispatcher", "handler_a"}  # not the leader, whose 批示 it was
    item = InboxItem.objects.get(event="case.dispatched", case_number=n, user__username="handler_a")
    render_inbox([item])
    assert "状态：待批示 → 已派单" in item.body
    assert "承办单位：— → 县局A" in item.body


def test_routes_the_language_cannot_follow_are_refused_with_their_line(db) -> None:
    import yaml

    from huiyin.policies.presets import PresetError, preset_text

    for route, reason in [
        ({"roles": ["leader"], "transport": ["fax"]}, "unknown value 'fax'; allowed: email, sms"),
        ({"roles": ["leader"], "over": "nowhere"}, "unknown value 'nowhere'"),
        ({"roles": ["leader"], "when": {"hours": "night"}}, "unknown value 'night'; allowed: in, out"),
        ({"roles": ["leader"], "when": {"severities": ["huge"]}}, "unknown value 'huge'"),
        ({"roles": ["leader"], "when": {"weather": "rain"}}, "unknown key 'weather'"),
        ({"roles": ["leader"], "duty": "yes"}, "must be true or false"),
    ]:
        config = yaml.safe_load(preset_text("tobacco"))
        config["name"] = "custom"
        config["notifications"] = {"routes": {"case.created": [route]}}
        text = yaml.safe_dump(config, allow_unicode=True, sort_keys=False)
        with pytest.raises(PresetError) as refused:
            policy_load_preset("custom", text=text, origin="file")
        assert reason in refused.value.reason
        assert text.splitlines()[refused.value.line - 1].strip().startswith(("- roles", "roles", "transport",
                                                                             "over", "when", "hours", "severities",
                                                                             "weather", "duty", "- "))


def test_a_duty_shift_must_end_after_it_starts(db) -> None:
    from django.core.exceptions import ValidationError

    unit = Unit.objects.create(code="u1", name="单位")
    user = User.objects.create(username="u1")
    shift = DutyShift(unit=unit, user=user, starts_at=bj(2026, 3, 10, 8, 0), ends_at=bj(2026, 3, 10, 8, 0))
    with pytest.raises(ValidationError):
        shift.full_clean()
    shift.ends_at += timedelta(hours=12)
    shift.full_clean()
