"""The search box over the Chinese full-text index: what an agent finds, in which order, and
what a reader outside a case's scope or without identity rights never finds."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from huiyin.cases.models import Case
from huiyin.cases.tests.helpers import case_in
from huiyin.conftest import new_case
from huiyin.text.models import CaseText


@pytest.fixture
def web(org: Any):
    cache: dict[str, Client] = {}

    def as_(username: str) -> Client:
        if username not in cache:
            cache[username] = Client()
            cache[username].force_login(getattr(org, username))
        return cache[username]

    return as_


def found(api: Any, q: str, user: str = "agent") -> list[str]:
    r = api(user).get("/cases", q=q)
    assert r.status_code == 200, r.content
    return [c["number"] for c in r.json()["items"]]


def test_it_finds_words_of_the_description_and_domain_words_whole_or_in_part(api) -> None:
    a = new_case(api, subject="卷烟配送问题", description="客户经理说本月货源分配按档位执行，专卖许可证到期未续")["number"]
    b = new_case(api, subject="服务态度差", description="营业厅工作人员态度恶劣")["number"]
    assert found(api, "货源分配") == [a]
    assert found(api, "许可证") == [a]  # a part of the dictionary word 专卖许可证
    assert found(api, "专卖许可证") == [a]
    assert found(api, "态度恶劣") == [b]
    assert found(api, "完全无关的词语") == []


def test_it_searches_replies_and_comments_once_they_are_written(api) -> None:
    number = case_in(api, "result_submitted", subject="路灯不亮", description="小区路灯坏了")
    assert found(api, "答复客户") == [number]  # the reply of the investigation report (helpers.RESULT)
    r = api("dispatcher").act(number, "review", {"accept": False, "comment": "请补充电表检定记录"})
    assert r.status_code == 200, r.content
    assert found(api, "电表检定") == [number]


def test_exact_matches_come_first_then_the_best_matches(api) -> None:
    weak = new_case(api, subject="投诉物流", description="物流")["number"]
    strong = new_case(api, subject="物流配送延误", description="物流配送延误三天，物流电话打不通，物流很差")["number"]
    by_phone = new_case(api, subject="别的事情", description="无关", complainant={"phone": "13700137000"})["number"]
    assert found(api, "物流")[:2] == [strong, weak]
    assert found(api, "13700137000") == [by_phone]
    assert found(api, by_phone) == [by_phone]
    assert weak in found(api, "物流")


def test_ranked_pages_continue_where_they_stopped(api) -> None:
    numbers = {new_case(api, subject=f"卷烟断货第{i}次", description="断货" * (1 + i % 3))["number"] for i in range(7)}
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"q": "断货", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        body = api("agent").get("/cases", **params).json()
        seen += [c["number"] for c in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(numbers) and len(seen) == len(set(seen))


def test_it_never_finds_a_case_outside_the_readers_scope(api) -> None:
    mine = case_in(api, "accepted", subject="县局A的投诉", description="假烟举报线索核查")
    other = new_case(api, subject="未派单的投诉", description="假烟举报线索核查")["number"]
    assert set(found(api, "假烟", "leader")) == {mine, other}
    assert found(api, "假烟", "handler_a") == [mine]
    assert found(api, "假烟", "handler_b") == []


def test_a_reporters_phone_finds_the_report_only_for_roles_that_may_know_who_reported(api) -> None:
    number = case_in(api, "accepted", kind="report", subject="举报私烟", description="某店销售私烟",
                     complainant={"name": "李四", "phone": "13600136000"})
    assert found(api, "13600136000", "agent") == [number]
    assert found(api, "私烟", "handler_a") == [number]  # the matter: yes
    assert found(api, "13600136000", "handler_a") == []  # who reported it: no
    assert found(api, "李四", "handler_a") == []  # identity is never indexed


def test_the_index_follows_every_change_in_the_same_transaction(api) -> None:
    number = new_case(api, subject="水费异常", description="本月水费翻倍")["number"]
    case = Case.objects.get(number=number)
    assert "水费" in CaseText.objects.get(case=case).tokens.split()


def test_the_index_of_a_new_case_is_what_a_rebuild_writes(api) -> None:
    """The intake writes a new case's index row without reading its timeline (a new case has no
    comment yet): a rebuild from its fields and every comment writes the same row, also for a
    repeat complaint that an intake rule made major (its repeat, rule and obligation steps)."""
    from huiyin.cases.tests.helpers import custom_policy
    from huiyin.text import index

    def large_loss_is_major(config: dict[str, Any]) -> None:
        config["rules"] = [*config.get("rules", []), {
            "name": "损失三万元以上按重大", "triggers": ["intake"], "when": {"field": "amount", "gte": 30000},
            "then": [{"set_severity": "major"}]}]

    first = case_in(api, "closed", subject="卷烟配送延误", complainant={"name": "孙八", "phone": "13500004444"})
    custom_policy(large_loss_is_major)
    again = new_case(api, subject="配送又延误了", description="第二次反映卷烟配送问题，损失很大", amount="50000",
                     complainant={"name": "孙八", "phone": "13500004444"})
    assert again["repeat_of"] == first and again["severity"] == "major"
    for number in (first, again["number"]):
        case = Case.objects.get(number=number)
        written = CaseText.objects.get(case=case).tokens
        assert written
        index.reindex([case.pk])
        assert CaseText.objects.get(case=case).tokens == written, number
    assert set(found(api, "延误")) == {again["number"], first}


def test_a_new_cases_words_are_cut_before_the_intakes_transaction(api, monkeypatch) -> None:
    """Cutting Chinese words is most of the index row's cost: the intake does it before its
    transaction (text.index.case_prepare), not while it holds the lock (on SQLite, the whole
    database's), and writes the same row as a rebuild."""
    from django.db import connection

    from huiyin.text import index, tokens

    cut = tokens.index_tokens
    depth = len(connection.savepoint_ids)  # the test's own transaction; the intake's adds a savepoint
    inside: list[bool] = []

    def watched(*args: Any, **kwargs: Any) -> str:
        inside.append(len(connection.savepoint_ids) > depth)
        return cut(*args, **kwargs)

    monkeypatch.setattr(index.tokens, "index_tokens", watched)
    number = new_case(api, subject="卷烟配送延误", description="零售户反映卷烟配送延误三天")["number"]
    assert inside and not any(inside), inside
    case = Case.objects.get(number=number)
    written = CaseText.objects.get(case=case).tokens
    assert "配送" in written.split()
    monkeypatch.undo()
    index.reindex([case.pk])
    assert CaseText.objects.get(case=case).tokens == written


def test_the_search_page_shows_ranked_hits_with_marked_snippets(api, web) -> None:
    number = new_case(api, subject="配送延误", description="零售户反映<b>卷烟</b>配送延误三天，影响正常经营")["number"]
    html = web("agent").get("/text/search/", {"q": "配送延误"}).content.decode()
    assert number in html
    assert "<mark>配送</mark>" in html or "<mark>配送延误</mark>" in html
    assert "<b>卷烟</b>" not in html and "&lt;b&gt;" in html  # the case's text is escaped
    assert 'data-hits="0"' in web("handler_b").get("/text/search/", {"q": "配送延误"}).content.decode()


def test_the_api_search_answers_snippets_and_refuses_an_empty_query(api) -> None:
    number = new_case(api, subject="网点缺货", description="网上订货系统显示缺货")["number"]
    body = api("agent").get("/text/search", q="订货").json()
    assert [h["number"] for h in body["items"]] == [number]
    assert "<mark>" in body["items"][0]["snippet"]
    assert api("agent").get("/text/search", q="").status_code == 422


def test_punctuation_alone_finds_nothing_and_breaks_nothing(api) -> None:
    new_case(api, subject="普通投诉")
    assert found(api, "！！？？") == []
    assert found(api, '"*) OR (') == []


def test_a_word_in_very_many_cases_finds_the_newest_of_them(api, monkeypatch) -> None:
    from huiyin.cases import selectors

    monkeypatch.setattr(selectors, "SEARCH_WINDOW", 2)
    numbers = [new_case(api, subject=f"常见问题{i}", description="卷烟")["number"] for i in range(4)]
    assert sorted(found(api, "卷烟")) == sorted(numbers[-2:])
    assert found(api, "卷烟 常见问题0") == [numbers[0]]  # another word reaches further back


def test_the_newest_matches_are_counted_among_the_readers_own_cases(api, monkeypatch) -> None:
    """The window (the newest SEARCH_WINDOW matches) is taken within the reader's scope: newer
    matches elsewhere do not push a handler's own cases out of its search."""
    from huiyin.cases import selectors

    monkeypatch.setattr(selectors, "SEARCH_WINDOW", 2)
    mine = [case_in(api, "accepted", subject=f"县局A假烟线索{i}", description="假烟线索核查") for i in range(2)]
    for i in range(3):  # newer, not dispatched: outside handler_a's scope
        new_case(api, subject=f"未派单假烟线索{i}", description="假烟线索核查")
    assert sorted(found(api, "假烟线索", "handler_a")) == sorted(mine)
    assert found(api, "假烟线索", "handler_b") == []


def test_the_lists_filters_apply_before_the_window(api, monkeypatch) -> None:
    from huiyin.cases import selectors

    monkeypatch.setattr(selectors, "SEARCH_WINDOW", 1)
    accepted = case_in(api, "accepted", subject="县局A断供投诉", description="卷烟断供")
    new_case(api, subject="新的断供投诉", description="卷烟断供")
    r = api("agent").get("/cases", q="断供", state="accepted")
    assert r.status_code == 200, r.content
    assert [c["number"] for c in r.json()["items"]] == [accepted]


def test_bm25_ranks_more_occurrences_shorter_documents_and_rarer_words_higher() -> None:
    from huiyin.text.index import bm25

    rows = [(1, "物流 物流 配送"), (2, "物流 配送 延误 三天 电话 打不通"), (3, "物流 配送"), (4, "投诉 延误")]
    score = dict(bm25(rows, {"物流": 1.0}))
    assert score[1] > score[3] > score[2] and score[4] == 0
    score = dict(bm25(rows, {"物流": 0.1, "延误": 2.0}))  # the rarer word weighs more
    assert score[4] > score[3]


def test_a_search_leaves_the_planner_settings_of_the_transaction_as_they_were(api) -> None:
    """PostgreSQL: the search forces its plan with SET LOCAL, which would outlive it in the
    caller's transaction (the request's, the test's) and slow every later query there."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's planner settings")
    new_case(api, subject="配送延误", description="卷烟配送延误三天")
    assert found(api, "配送延误") and found(api, "完全没有的词语") == []
    with connection.cursor() as cur:
        for name in ("enable_seqscan", "enable_bitmapscan", "enable_indexscan", "enable_nestloop", "enable_hashjoin"):
            cur.execute(f"SHOW {name}")
            assert cur.fetchone()[0] == "on", name


def _reference(index: Any, terms: list[list[str]], scope: Any, window: int) -> list[int]:
    """What `newest_matches` means, computed from every match: the in-scope matches among the
    newest PROBE rows (at most `window`), then the in-scope ones among the first EXAMINE matches
    below them, until the window is full."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT case_id FROM text_casetext WHERE document @@ to_tsquery('simple', %s) "
                    "ORDER BY case_id DESC", [index.ts_query(terms)])
        matches = [r[0] for r in cur.fetchall()]
        cur.execute("SELECT case_id FROM text_casetext ORDER BY case_id DESC LIMIT %s", [index.PROBE])
        low = min(r[0] for r in cur.fetchall())
    seen = set(scope.values_list("pk", flat=True))
    out = [m for m in matches if m >= low and m in seen][:window]
    older = [m for m in matches if m < low][: index.EXAMINE]
    return out + [m for m in older if m in seen][: window - len(out)]


@pytest.mark.parametrize("plan", ["key_ranges", "key_order", "merged_with_the_scope"])
def test_each_postgresql_plan_finds_the_newest_matches_in_the_readers_scope(api, org, monkeypatch, plan) -> None:
    """PostgreSQL reads the matches older than its probe in key order (checking the scope
    match by match, or merged with a narrow scope's cases read in key order) or by key ranges
    through the GIN index (guided by the rarest word every match has, each range sized from
    the last): every plan finds the same newest matches, in the same order, as reading them all."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's plans")
    from huiyin.cases.access import cases_for
    from huiyin.text import index

    for i in range(12):
        if i % 3 == 0:  # handler_a's county: in handler_a's scope
            case_in(api, "accepted", subject=f"县局A跨区域销售{i}", description="送货员跨区域销售卷烟")
        elif i % 4 == 1:
            new_case(api, subject=f"其他投诉{i}", description="配送延误")
        else:
            new_case(api, subject=f"跨区域销售{i}", description="送货员跨区域销售卷烟")
    monkeypatch.setattr(index, "PROBE", 2)
    if plan == "key_ranges":  # every range a few keys wide: several ranges, some with nothing in the scope
        monkeypatch.setattr(index, "RANGE_ROWS", -1)
        monkeypatch.setattr(index, "RANGE_MARGIN", 0.01)
    else:  # key order, whatever the share
        monkeypatch.setattr(index, "RANGE_ROWS", 10**9)
        monkeypatch.setattr(index, "PAGE_COST", 10**9)
    users = ["agent"] if plan == "key_order" else ["handler_a"] if plan == "merged_with_the_scope" else ["agent", "handler_a"]
    scopes = [cases_for(getattr(org, username)) for username in users]
    if plan == "key_ranges":  # a scope that sees every case but the newest
        scopes.append(Case.objects.exclude(pk=Case.objects.order_by("-pk").values_list("pk", flat=True)[0]))
    queries = [index.SEARCH.terms(q) for q in ("跨区域销售", "卷烟", "送货员", "配送延误", "完全没有的词语")]
    # one term of two alternatives: no word every match has
    queries.append([[queries[1][0][0], queries[3][0][0]]])
    for examine in (100, 3):
        monkeypatch.setattr(index, "EXAMINE", examine)
        for scope in scopes:
            username = str(scope.query)[-40:]
            for terms in queries:
                q = str(terms)
                for window in (1, 2, 3, 50):
                    got = index.CASES.newest_matches(terms, window=window, scope=scope)
                    assert [k for k, _ in got] == _reference(index, terms, scope, window), (username, q, window, examine)
                    tokens = dict(CaseText.objects.filter(case_id__in=[k for k, _ in got]).values_list("case_id", "tokens"))
                    assert all(text == tokens[k] for k, text in got)
    with connection.cursor() as cur:  # the plans' settings end with the search (the test's transaction goes on)
        for name in ("enable_seqscan", "enable_bitmapscan", "enable_indexscan", "enable_nestloop", "enable_hashjoin"):
            cur.execute(f"SHOW {name}")
            assert cur.fetchone()[0] == "on", name


@pytest.mark.django_db
def test_the_readers_scope_is_read_from_one_index_and_each_unit_indexed_once() -> None:
    """A search checks the reader's scope on each match, or reads a narrow scope's cases in key
    order: on PostgreSQL the case's key with its two units is one index (`case_id_units`), so
    these reads never fetch the case's wide row. Each unit column is indexed once, by its
    (unit, -id) index, on both databases (one index fewer to write at each intake, each)."""
    from django.db import connection

    with connection.cursor() as cur:
        constraints = connection.introspection.get_constraints(cur, "cases_case")
        indexed = [c["columns"] for c in constraints.values() if c["index"] and not c["primary_key"]]
        assert ["unit_id", "id"] in indexed and ["owner_unit_id", "id"] in indexed
        assert ["unit_id"] not in indexed and ["owner_unit_id"] not in indexed
        if connection.vendor == "postgresql":
            cur.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'cases_case' AND indexname = 'case_id_units'")
            (definition,) = cur.fetchone()
            assert definition.endswith("USING btree (id) INCLUDE (owner_unit_id, unit_id)")
