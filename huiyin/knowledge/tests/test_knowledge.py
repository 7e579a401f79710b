"""The knowledge base: articles found with the Chinese search and suggested while a consultation
is typed; expired ones leave the suggestions and their owners are told once; proposals after a
consultation; standard replies filled from the case without revealing a reporter."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from huiyin.conftest import new_case
from huiyin.knowledge import services
from huiyin.knowledge.models import Article, ArticleStatus, Purpose, ReplyTemplate
from huiyin.notify.models import InboxItem


@pytest.fixture
def web(org: Any):
    cache: dict[str, Client] = {}

    def as_(username: str) -> Client:
        if username not in cache:
            cache[username] = Client()
            cache[username].force_login(getattr(org, username))
        return cache[username]

    return as_


def article(title: str, body: str, **kw: Any) -> Article:
    return services.article_save(Article(title=title, body=body, status=kw.pop("status", ArticleStatus.PUBLISHED), **kw))


def test_articles_in_force_are_found_and_suggested_while_typing(org, web) -> None:
    supply = article("货源分配办法", "卷烟货源按客户档位分配，每月调整一次档位。", issuing_body="市局营销部", owner=org.leader)
    article("专卖许可证办理", "办理烟草专卖零售许可证需要营业执照和身份证。")
    assert [h.article for h in services.search("货源分配")] == [supply]
    assert services.suggest_for("咨询", "我想问一下货源是怎么分配的")[0].article == supply
    html = web("agent").get("/knowledge/suggest/", {"subject": "货源怎么分配", "kind": "consultation"}).content.decode()
    assert "货源分配办法" in html and "<mark>" in html
    assert 'data-fill="#f-answer"' in html  # a consultation can be answered with it on the spot


def test_expired_articles_leave_the_suggestions_and_their_owner_is_told_once(org, web) -> None:
    today = timezone.localdate()
    old = article("旧的营销政策", "二〇二五年营销政策：卷烟订货周期为每周一次。", owner=org.leader,
                  expires_on=today - timedelta(days=1))
    article("未生效的政策", "营销政策：明年起卷烟订货改为每周两次。", effective_from=today + timedelta(days=30))
    assert services.search("营销政策") == []
    assert services.suggest_for("营销政策", "订货周期") == []
    assert old in [h.article for h in services.search("营销政策", include_expired=True)]
    from huiyin.cases import jobs
    from huiyin.knowledge import jobs as knowledge_jobs
    from huiyin.notify.texts import render_inbox

    knowledge_jobs._rest_until = 0.0
    assert jobs.run_pass().get("expiry_sweep") == 1  # the worker tells the owner …
    assert services.notify_expired() == 0  # … once
    item = InboxItem.objects.get(user=org.leader, event="knowledge.expired")
    render_inbox([item])
    assert "旧的营销政策" in item.title and "不再推荐" in item.body and f"/knowledge/articles/{old.pk}/" in item.body


def test_an_agent_proposes_an_article_after_a_consultation_for_review(api, web, org) -> None:
    number = new_case(api, kind="consultation", subject="怎么办理零售许可证")["number"]
    c = web("agent")
    r = c.post("/knowledge/propose/", {"case": number, "title": "", "body": ""})
    assert r.status_code == 422 and not Article.objects.exists()
    r = c.post("/knowledge/propose/", {"case": number, "title": "零售许可证办理流程", "body": "带营业执照到政务大厅办理。"})
    assert r.status_code == 302
    a = Article.objects.get()
    assert a.status == ArticleStatus.REVIEW and a.proposed_from.number == number and a.proposed_by == org.agent
    assert services.search("许可证") == []  # not suggested before someone publishes it
    assert web("handler_b").post("/knowledge/propose/", {"case": number, "title": "x", "body": "y"}).status_code == 404


def test_standard_replies_are_filled_from_the_case_without_revealing_a_reporter(api, web) -> None:
    ReplyTemplate.objects.create(name="受理告知", purpose=Purpose.REPLY,
                                 body="{complainant}您好，您反映的“{subject}”（{number}）已受理。{unknown}")
    ReplyTemplate.objects.create(name="回访用语", purpose=Purpose.CALLBACK, body="您好，这里是回访。")
    complaint = new_case(api, subject="配送延误", complainant={"name": "张三", "phone": "13800138000"})["number"]
    report = new_case(api, kind="report", subject="举报私烟", complainant={"name": "李四", "phone": "13600136000"})["number"]
    body = api("agent").get("/knowledge/replies", case=complaint).json()
    assert [r["name"] for r in body["items"]] == ["受理告知"]
    assert body["items"][0]["text"] == f"张三您好，您反映的“配送延误”（{complaint}）已受理。{{unknown}}"
    html = web("agent").get("/knowledge/replies/", {"case": complaint, "purpose": "callback", "target": "#f-reply"}).content.decode()
    assert "回访用语" in html and 'data-fill="#f-reply"' in html
    assert "李四" not in api("auditor").get("/knowledge/replies", case=report).json()["items"][0]["text"]
    assert api("handler_b").get("/knowledge/replies", case=complaint).status_code == 404


def test_the_api_finds_articles(api, org) -> None:
    article("理赔规则", "货损理赔：到货三日内提出，附照片。", expires_on=date(2099, 1, 1))
    assert [a["title"] for a in api("agent").get("/knowledge/articles", q="理赔").json()["items"]] == ["理赔规则"]
    assert api("agent").get("/knowledge/articles", q="").status_code == 422


def test_the_article_pages_list_search_and_show_an_article(org, web) -> None:
    supply = article("货源分配办法", "卷烟货源按客户档位分配，每月调整一次档位。", issuing_body="市局营销部")
    article("专卖许可证办理", "办理烟草专卖零售许可证需要营业执照和身份证。")
    listing = web("agent").get("/knowledge/articles/").content.decode()
    assert "货源分配办法" in listing and "专卖许可证办理" in listing
    found = web("agent").get("/knowledge/articles/", {"q": "档位"}).content.decode()
    assert "货源分配办法" in found and "专卖许可证办理" not in found
    page = web("agent").get(f"/knowledge/articles/{supply.pk}/").content.decode()
    assert "市局营销部" in page and "每月调整一次档位" in page
    assert web("agent").get("/knowledge/articles/999999/").status_code == 404
    assert Client().get("/knowledge/articles/").status_code == 302  # staff only


def test_the_reply_and_callback_forms_offer_the_standard_replies(api, web) -> None:
    from huiyin.cases.tests.helpers import case_in

    ReplyTemplate.objects.create(name="配送答复", purpose=Purpose.REPLY, body="您反映的“{subject}”已查明。")
    n = case_in(api, "accepted")
    page = web("handler_a").get(f"/cases/{n}/").content.decode()
    assert 'data-standard-replies="submit_result"' in page
    assert f"/knowledge/replies/?case={n}&amp;purpose=reply&amp;target=%23act-submit_result-reply" in page
    assert 'id="act-submit_result-reply"' in page  # the field a click fills
    html = web("handler_a").get("/knowledge/replies/", {"case": n, "purpose": "reply",
                                                        "target": "#act-submit_result-reply"}).content.decode()
    assert 'data-fill="#act-submit_result-reply"' in html and "已查明" in html
