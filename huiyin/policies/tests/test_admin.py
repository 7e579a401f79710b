"""Administrators edit the policy in the admin pages: a new version, audited; errors by line."""

from __future__ import annotations

import pytest
import yaml
from django.test import Client

from huiyin.org.models import AuditEntry
from huiyin.policies.models import Policy

pytestmark = pytest.mark.django_db


def _admin_client(org) -> Client:
    c = Client()
    c.force_login(org.admin)
    return c


def test_editing_a_rule_makes_a_new_audited_version(org) -> None:
    policy = Policy.objects.get(active=True)
    config = dict(policy.config)
    config["rules"] = [*config["rules"], {"name": "大额投诉", "when": {"field": "amount", "gte": 10000},
                                          "then": [{"set_severity": "difficult"}]}]
    c = _admin_client(org)
    r = c.post(f"/admin/policies/policy/{policy.pk}/change/",
               {"yaml_text": yaml.safe_dump(config, allow_unicode=True)})
    assert r.status_code == 302
    new = Policy.objects.get(active=True)
    assert new.version == policy.version + 1
    assert Policy.objects.get(pk=policy.pk).config == policy.config  # the old version is untouched
    entry = AuditEntry.objects.get(action="policy_change")
    assert entry.actor == org.admin
    assert entry.details["rules"] == {"added": ["大额投诉"], "removed": [], "changed": []}


def test_a_broken_edit_is_refused_with_its_line(org) -> None:
    policy = Policy.objects.get(active=True)
    text = yaml.safe_dump(policy.config, allow_unicode=True, sort_keys=False)
    text = text.replace("unit: working_days", "unit: fortnights", 1)
    r = _admin_client(org).post(f"/admin/policies/policy/{policy.pk}/change/", {"yaml_text": text})
    assert r.status_code == 200
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "fortnights" in s)
    assert f"第 {line} 行" in r.content.decode()
    assert Policy.objects.count() == 1
    assert not AuditEntry.objects.filter(action="policy_change").exists()


def test_non_admins_cannot_reach_the_admin(org) -> None:
    c = Client()
    c.force_login(org.dispatcher)
    assert c.get("/admin/policies/policy/").status_code == 302


def test_logins_are_audited_without_passwords(org) -> None:
    c = Client()
    assert c.login(username="agent", password="pw-for-tests")
    assert not c.login(username="agent", password="wrong-password")
    actions = list(AuditEntry.objects.order_by("id").values_list("action", "target"))
    assert actions == [("login", "agent"), ("login_failed", "agent")]
    assert "wrong-password" not in str(list(AuditEntry.objects.values()))
