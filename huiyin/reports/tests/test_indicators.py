"""Every indicator on the hand-checked October 2026 data set (tests/data.py), through the API
contract, and the figures reconcile with the case list behind them."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import time_machine

from huiyin.conftest import bj

from .data import october

pytestmark = pytest.mark.django_db

OCT = {"unit": "bureau", "from": "2026-10-01", "to": "2026-10-31"}


@pytest.fixture
def oct_cases(api: Any) -> dict[str, str]:
    return october(api)


def _indicators(api: Any, user: str = "leader", **params: Any) -> Any:
    with time_machine.travel(bj(2026, 11, 10, 10, 0), tick=False):
        return api(user).get("/reports/indicators", **params)


def _count(api: Any, user: str, url: str) -> int:
    """How many cases the API's case list gives for a drill-down URL (following the cursor)."""
    parts = urlsplit(url)
    assert parts.path == "/api/v1/cases"
    params: list[tuple[str, str]] = [*parse_qsl(parts.query), ("limit", "100")]
    total, cursor = 0, None
    while True:
        query = params + ([("cursor", str(cursor))] if cursor else [])
        r = api(user).client.get("/api/v1/cases", query, headers=api(user).headers)
        assert r.status_code == 200, r.content
        body = r.json()
        total += len(body["items"])
        cursor = body["next_cursor"]
        if not cursor:
            return total


def test_the_october_figures_are_the_hand_checked_ones(api: Any, oct_cases: dict[str, str]) -> None:
    r = _indicators(api, **OCT)
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["period"] == {"from": "2026-10-01", "to": "2026-10-31", "label": "2026年10月",
                              "counted_by": "received_at"}
    assert body["unit"] == "bureau"
    ind = body["indicators"]
    # Received in October: B C D E F G H J (I came on 30 September; F on 31 October, a Saturday).
    assert ind["received"] == 8
    assert ind["by_kind"] == {"complaint": 6, "consultation": 1, "report": 1}
    assert ind["by_channel"] == {"phone": 6, "web": 2}
    assert ind["by_customer_class"] == {"A": 2, "B": 1, "none": 5}
    assert ind["by_category"] == {"logistics_delivery": 1, "service": 1, "marketing_policy": 1, "other": 1,
                                  "billing": 1, "quality": 1, "counterfeit": 1, "unclassified": 1}
    # 响应率: due a response B C D F G J (D answered on the spot; J's acknowledgement overdue);
    # responded in time B D F G (C acknowledged late, J never) → 4/6.
    assert ind["response_rate"] == 0.6667
    assert body["counts"]["response_rate"] == {"numerator": 4, "denominator": 6}
    # 解决率: concluded B C D F (G was reopened, E is invalid, H and J are open), all resolved —
    # F on 3 November: the boundary case counts in October, with what happened after.
    assert ind["resolution_rate"] == 1.0
    assert body["counts"]["resolution_rate"] == {"numerator": 4, "denominator": 4}
    # 一次解决率: C needed 二次派单 → 3/4.
    assert ind["first_contact_resolution"] == 0.75
    # 满意率: reached B C F G; the last answer of G was 不满意; F 一般 counts as satisfied → 3/4.
    assert ind["satisfaction_rate"] == 0.75
    # 回访率: handled by a unit and concluded B C F, each called back.
    assert ind["callback_rate"] == 1.0
    assert body["counts"]["callback_rate"] == {"numerator": 3, "denominator": 3}
    # 重复投诉率: H (B's customer again, within 30 days of B's closing) → 1/8.
    assert ind["repeat_rate"] == 0.125
    # 重办率: ended B C D E F G; reopened G → 1/6.
    assert ind["reopen_rate"] == 0.1667
    # 二次/三次派单: dispatched B C F G J; C went to a second round → 1/5.
    assert ind["redispatch_rate"] == 0.2
    assert (ind["second_round_rate"], ind["third_round_rate"], ind["escalation_rate"]) == (0.2, 0.0, 0.0)
    assert ind["invalid_rate"] == 0.125
    # 及时率 per clock:
    # dispatch — every case has one decided; G's second cycle (reopened 22 Oct) and H were still
    # waiting on 10 November → 6/8 (J, received on a holiday, was dispatched in time on 8 Oct);
    # acknowledge — B F G in time, C late (round 1), J never → 3/5;
    # resolve — J's two working days ran out on Saturday 10 Oct (a make-up working day) → 4/5;
    # callback — same-day callbacks all met → 4/4.
    assert ind["timeliness"]["dispatch"] == 0.75
    assert ind["timeliness"]["acknowledge"] == 0.6
    assert ind["timeliness"]["resolve"] == 0.8
    assert ind["timeliness"]["callback"] == 1.0
    assert body["counts"]["timeliness:resolve"] == {"numerator": 4, "denominator": 5}
    # Handling time of B C D F in working days: B 810 business minutes (8 Oct 09:00 → 9 Oct 16:30),
    # C 1110 (9 Oct 10:00 → 12 Oct 15:00, Saturday 10 Oct a working day, Sunday not), D 5, F 630
    # (Sat 31 Oct 10:00 → Tue 3 Nov 11:30: the weekend does not count) — 450 minutes a day.
    assert ind["handling_days"] == {"cases": 4, "average": 1.42, "p90": 2.47}
    # 环比 (September: I alone) and 同比 (October 2025: nothing).
    assert body["previous"]["received"] == 1 and body["previous"]["from"] == "2026-09-01"
    assert body["year_ago"]["received"] == 0 and body["year_ago"]["rates"]["resolution_rate"] is None


def test_every_figure_reconciles_with_the_case_list_behind_it(api: Any, oct_cases: dict[str, str]) -> None:
    body = _indicators(api, **OCT).json()
    assert _count(api, "leader", body["cases_url"]) == body["indicators"]["received"] == 8
    for name, urls in body["drilldown"].items():
        for part in ("numerator", "denominator"):
            assert _count(api, "leader", urls[part]) == body["counts"][name][part], (name, part, urls[part])
    # The staff page's list reads the same filters.
    page = urlsplit(body["page_url"])
    assert page.path == "/cases/"
    r = api("leader").client.get("/cases/", dict(parse_qsl(page.query)))
    # (the page needs a session; the API list is the contract checked above)
    assert r.status_code in (200, 302)


def test_a_unit_outside_the_callers_subtree_is_not_found(api: Any, oct_cases: dict[str, str]) -> None:
    assert _indicators(api, "handler_a", **{**OCT, "unit": "county_b"}).status_code == 404
    assert _indicators(api, "handler_a", **{**OCT, "unit": "nowhere"}).status_code == 404
    mine = _indicators(api, "handler_a", **{**OCT, "unit": "county_a"}).json()
    # county A handles B, C (its second round) and G
    assert mine["indicators"]["received"] == 3
    everything = _indicators(api, "handler_a", **{k: v for k, v in OCT.items() if k != "unit"}).json()
    assert everything["indicators"]["received"] == 3 and everything["unit"] is None


def test_bad_periods_are_refused_with_a_clear_error(api: Any, org: Any) -> None:
    assert _indicators(api, **{**OCT, "to": "2026-09-01"}).status_code == 422
    assert _indicators(api, **{**OCT, "from": "not-a-day"}).status_code == 422
    assert _indicators(api, unit="bureau", to="2026-10-31").status_code == 422
    assert _indicators(api, **{**OCT, "kind": "nonsense"}).status_code == 422


def test_a_unit_with_nothing_received_has_null_rates(api: Any, org: Any) -> None:
    body = _indicators(api, **OCT).json()
    assert body["indicators"]["received"] == 0
    assert body["indicators"]["resolution_rate"] is None and body["indicators"]["timeliness"] == {}


def test_the_kind_narrows_every_figure(api: Any, oct_cases: dict[str, str]) -> None:
    body = _indicators(api, **OCT, kind="complaint").json()
    assert body["indicators"]["received"] == 6
    assert body["kind"] == "complaint" and "kind=complaint" in body["cases_url"]
    assert _count(api, "leader", body["cases_url"]) == 6


def test_the_api_case_list_refuses_an_unknown_outcome(api: Any, org: Any) -> None:
    r = api("leader").get("/cases", outcome="nonsense")
    assert r.status_code == 422 and r.json()["error"]["fields"] == {"outcome": "unknown outcome"}
    r = api("handler_a").get("/cases", within="county_b")
    assert r.status_code == 422
