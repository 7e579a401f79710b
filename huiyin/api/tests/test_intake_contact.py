"""A way to reach the complainant where the policy calls the case back (issue 15, item 5): the
one rule (PolicyConfig.contact_required, applied by cases.services.case_register) holds for the
API as for the intake page, the portal, e-mail and upstream transfers (docs/policies.md)."""

from __future__ import annotations

from typing import Any

import pytest

from huiyin.cases.models import Case, Event
from huiyin.cases.tests.helpers import custom_policy
from huiyin.conftest import COMPLAINT
from huiyin.policies.services import policy_load_preset

pytestmark = pytest.mark.django_db

NOBODY = {"name": "张三", "account": "RT-0001"}  # a name and a licence number: no way to reach him


def body(**complainant: Any) -> dict[str, Any]:
    return {**COMPLAINT, "complainant": complainant}


def test_a_complaint_without_a_way_to_reach_the_caller_is_refused_and_nothing_is_stored(api) -> None:
    before = (Case.objects.count(), Event.objects.count())
    for person in (NOBODY, {**NOBODY, "anonymous": True}, {}):
        r = api("agent").post("/cases", body(**person))
        assert r.status_code == 422, r.content
        error = r.json()["error"]
        assert error["code"] == "invalid_input"
        assert set(error["fields"]) == {"complainant"}
        assert "phone, e-mail address or postal address" in error["message"]  # English
        assert "电话、电子邮箱或通信地址" in error["message"]  # and zh-Hans
    assert (Case.objects.count(), Event.objects.count()) == before


@pytest.mark.parametrize("contact", [
    {"phone": "0871-6512 3456"},
    {"email": "zhangsan@example.com"},
    {"address": "昆明市五华区人民中路 1 号 张三(收)"},
], ids=["phone-only", "email-only", "address-only"])
def test_any_one_way_to_reach_the_caller_is_enough(api, contact: dict[str, str]) -> None:
    r = api("agent").post("/cases", body(name="张三", **contact))
    assert r.status_code == 201, r.content
    case = Case.objects.get(number=r.json()["number"])
    assert [case.complainant_phone, case.complainant_email, case.complainant_address] == [
        contact.get("phone", "").replace("-", "").replace(" ", ""), contact.get("email", ""), contact.get("address", "")]


def test_a_report_may_be_anonymous(api) -> None:
    r = api("agent").post("/cases", {**body(anonymous=True), "kind": "report", "subject": "有人销售假烟"})
    assert r.status_code == 201, r.content
    assert Case.objects.get(number=r.json()["number"]).anonymous


def test_a_group_complaint_is_reached_through_its_representative(api) -> None:
    r = api("agent").post("/cases", {**body(name="某小区业主"), "people_count": 30,
                                     "representatives": [{"name": "李四", "phone": "13900001111"}]})
    assert r.status_code == 201, r.content


def test_kinds_the_policy_does_not_call_back_need_no_contact(api) -> None:
    policy_load_preset("telecom")  # callback: kinds [complaint]
    assert api("agent").post("/cases", {**body(**NOBODY), "kind": "consultation"}).status_code == 201
    assert api("agent").post("/cases", body(**NOBODY)).status_code == 422
    policy_load_preset("retail")  # callback_required: false
    assert api("agent").post("/cases", body(**NOBODY)).status_code == 201


def test_a_policy_may_register_such_a_complaint_to_find_it_invalid(api) -> None:
    def no_contact_rule(config: dict[str, Any]) -> None:
        config["workflow"]["contact_required"] = False

    custom_policy(no_contact_rule)
    assert api("agent").post("/cases", body(**NOBODY)).status_code == 201
