"""GET /api/v1/notifications and POST /api/v1/notifications/{id}/read."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from huiyin.api.auth import token_issue
from huiyin.notify import scope
from huiyin.notify.models import InboxItem
from huiyin.notify.services import enqueue

from .conftest import People


@pytest.fixture(autouse=True)
def _notify_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """These notifications name cases that do not exist: the inbox as notify serves it, without the
    cases app's visibility rule (notify.scope; the inbox's scope is tested in huiyin/cases/tests)."""
    monkeypatch.setattr(scope, "_visible", None)


def client_for(user: Any) -> tuple[Client, dict[str, str]]:
    return Client(), {"Authorization": f"Bearer {token_issue(user)}"}


def notify(people: People, n: int) -> None:
    for i in range(n):
        enqueue("case.dispatched", case_number=f"HY20260213-{i:06d}", context={}, dedupe=f"d{i}",
                recipients=[people.alice.pk])


def test_it_lists_the_callers_inbox_newest_first_with_the_unread_count(people: People) -> None:
    notify(people, 3)
    enqueue("case.closed", case_number="B1", context={}, recipients=[people.bob.pk], dedupe="b")
    client, headers = client_for(people.alice)
    r = client.get("/api/v1/notifications", headers=headers)
    assert r.status_code == 200
    data = r.json()
    assert data["unread"] == 3 and data["next_cursor"] is None
    assert [i["case_number"] for i in data["items"]] == ["HY20260213-000002", "HY20260213-000001",
                                                         "HY20260213-000000"]
    item = data["items"][0]
    assert set(item) == {"id", "event", "case_number", "title", "body", "created_at", "read"}
    assert item["event"] == "case.dispatched" and item["read"] is False
    assert item["created_at"].endswith("+08:00")


def test_it_pages_with_limit_and_cursor(people: People, django_assert_max_num_queries: Any) -> None:
    notify(people, 5)
    client, headers = client_for(people.alice)
    with django_assert_max_num_queries(5):  # issue 11: + the token's last_used_at (written at most once a minute)
        first = client.get("/api/v1/notifications", {"limit": 2}, headers=headers).json()
    second = client.get("/api/v1/notifications", {"limit": 2, "cursor": first["next_cursor"]}, headers=headers).json()
    third = client.get("/api/v1/notifications", {"limit": 2, "cursor": second["next_cursor"]}, headers=headers).json()
    numbers = [i["case_number"][-1] for page in (first, second, third) for i in page["items"]]
    assert numbers == ["4", "3", "2", "1", "0"]
    assert third["next_cursor"] is None


def test_it_marks_read_and_repeating_is_a_no_op(people: People) -> None:
    notify(people, 2)
    item = InboxItem.objects.filter(user=people.alice).order_by("id").first()
    assert item is not None
    client, headers = client_for(people.alice)
    r = client.post(f"/api/v1/notifications/{item.pk}/read", headers=headers)
    assert r.status_code == 200 and r.json()["read"] is True
    first_read = InboxItem.objects.get(pk=item.pk).read_at
    assert client.post(f"/api/v1/notifications/{item.pk}/read", headers=headers).status_code == 200
    assert InboxItem.objects.get(pk=item.pk).read_at == first_read
    assert client.get("/api/v1/notifications", headers=headers).json()["unread"] == 1


def test_it_validates_ownership(people: People) -> None:
    notify(people, 1)
    item = InboxItem.objects.get(user=people.alice)
    client, headers = client_for(people.bob)
    r = client.post(f"/api/v1/notifications/{item.pk}/read", headers=headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert client.post("/api/v1/notifications/999999/read", headers=headers).status_code == 404
    assert InboxItem.objects.get(pk=item.pk).read_at is None
    assert client.get("/api/v1/notifications", headers=headers).json() == {
        "items": [], "unread": 0, "next_cursor": None}


def test_it_needs_a_token(people: People) -> None:
    assert Client().get("/api/v1/notifications").status_code == 401
