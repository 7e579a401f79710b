"""Bulk-load N synthetic cases (and their timers) straight into the tables, with SQL.

PostgreSQL: INSERT … SELECT over generate_series; SQLite: INSERT … SELECT over a recursive
CTE. Both databases get the same rows: every "random" choice is a multiplicative hash of
the row number g (no random()), so the data is deterministic and identical on both.

The shape of the data (a city complaint centre after ~3 years at 960 cases a day):

- ids 1..N in time order, received_at 90 s apart (960 a day, Beijing days), the newest
  yesterday; numbers PREFIX+YYYYMMDD+"-"+6 digits, unique (the 6-digit sequence is the
  row's slot in its day, shared by all prefixes — so per-prefix numbers have gaps);
- all registered by the centre (agent / dispatcher), handled by marketing 25 %,
  logistics 25 %, monopoly 15 %, county_a 30 %, county_b 5 % (the small county);
- kinds complaint 55 %, consultation 25 %, suggestion 7 %, report 6 %, praise 4 %,
  employee_complaint 3 %; severity major ~3 % and difficult ~9 % of non-praise,
  non-consultation cases;
- states by age: the last 2 days mostly open (registered … accepted), the last 30 days
  about half open, older cases 97 % closed / invalid with 1 % still open (long-running,
  overdue);
- one open timer per open case at its stage (dispatch, acknowledge, resolve — paused when
  suspended —, feedback, callback; plus first_contact for 30 % of accepted), due times
  approximated with calendar days; past-due timers older than a day are already
  `breached`, the rest `running` (the worker has work); one stopped `resolve` timer
  (met or breached) per closed case.

Columns not named here get their model default (or NULL / '' / false), so a column added
to the model later does not break the loader.
"""

from __future__ import annotations

import json
import math
import sys
import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

PER_DAY = 960
SLOT_S = 86400 // PER_DAY  # 90 s
SHANGHAI = ZoneInfo("Asia/Shanghai")

# Multipliers of the hash streams (odd, "golden-ratio-like").
A = {
    "kind": 2654435761, "sev": 2246822519, "state": 3266489917, "unit": 668265263,
    "chan": 374761393, "misc": 2870177451, "sub": 1103515245 * 2 + 1, "phone": 3339675911,
    "name": 1597334677, "cat": 2891336453,
}

SUBJECTS = {
    "complaint": ["配送延误，卷烟未按约定时间送达", "客户经理服务态度差", "货源分配不公平", "卷烟质量问题（受潮、断支）",
                  "结算扣款金额错误", "网上订货系统无法登录", "送货员未按规定交接", "专卖执法人员态度粗暴"],
    "consultation": ["办理烟草专卖零售许可证需要哪些材料", "许可证延续办理流程咨询", "订货时间调整咨询",
                     "新品规上市时间咨询", "电子结算开通咨询"],
    "suggestion": ["建议增加紧俏品规投放", "建议延长网上订货时间", "建议优化送货线路"],
    "report": ["举报无证经营卷烟", "举报销售假冒卷烟", "举报跨区域销售卷烟"],
    "praise": ["表扬客户经理热情周到", "表扬送货员雨天准时送达"],
    "employee_complaint": ["员工对绩效考核结果有异议", "员工反映加班费未足额发放"],
}
DESCRIPTIONS = [
    "客户来电反映，本周二订购的卷烟至今未送达，多次联系送货员无人接听，影响正常经营，要求尽快处理并给予答复。",
    "零售户反映在网上订货平台提交订单后显示失败，但货款已被扣除，要求核实并退还多扣款项，同时说明原因。",
    "来电人称在本市某商店购买的卷烟疑似假冒，包装印刷模糊、口感异常，请求专卖部门核查并依法处理。",
    "客户反映客户经理近两个月未按规定上门拜访，对货源投放政策解释不清，态度敷衍，希望更换客户经理。",
    "咨询新办烟草专卖零售许可证的条件、所需材料及办理时限，并询问是否可以网上申请。",
]
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗")
PHONE_HEADS = ["38", "39", "35", "37", "58", "59", "86", "88"]


def _wpick(r: str, choices: list[tuple[str, int]]) -> str:
    """CASE picking choices[i] when r (0..999) is below the cumulative permille."""
    parts = [f"WHEN {r} < {c} THEN {v}" for v, c in choices[:-1]]
    return f"CASE {' '.join(parts)} ELSE {choices[-1][0]} END"


def _pick(idx: str, values: list[str]) -> str:
    return "CASE " + idx + " " + " ".join(f"WHEN {i} THEN {v}" for i, v in enumerate(values[:-1])) + \
        f" ELSE {values[-1]} END"


def _q(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


class Dialect:
    def __init__(self, vendor: str) -> None:
        self.pg = vendor == "postgresql"

    def h(self, g: str, stream: str) -> str:
        """A 20-bit hash of g (0..1048575) for stream `stream`."""
        return f"(((CAST({g} AS BIGINT) * {A[stream]}) % 4294967296) / 4096)"

    def hbig(self, g: str, stream: str) -> str:
        return f"((CAST({g} AS BIGINT) * {A[stream]}) % 4294967296)"

    def pad(self, expr: str, width: int) -> str:
        if self.pg:
            return f"lpad(CAST({expr} AS text), {width}, '0')"
        return f"substr('{'0' * width}' || ({expr}), -{width})"

    def add_s(self, ts: str, seconds: str) -> str:
        if self.pg:
            return f"({ts} + ({seconds}) * INTERVAL '1 second')"
        return f"datetime({ts}, '+' || ({seconds}) || ' seconds')"

    def ts(self, dt: datetime) -> str:
        if self.pg:
            return f"TIMESTAMPTZ '{dt.isoformat()}'"
        return _q(dt.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M:%S"))

    def yyyymmdd(self, base_date: str, days: str) -> str:
        if self.pg:
            return f"to_char(DATE '{base_date}' + CAST({days} AS integer), 'YYYYMMDD')"
        return f"strftime('%Y%m%d', '{base_date}', '+' || ({days}) || ' days')"

    def json(self, value: Any) -> str:
        lit = _q(json.dumps(value, ensure_ascii=False))
        return f"CAST({lit} AS jsonb)" if self.pg else lit

    def changes_pair(self, field: str, old: str, new: str) -> str:
        """{field: [old, new]} (an event's `changes`) from SQL expressions."""
        if self.pg:
            return f"jsonb_build_object('{field}', jsonb_build_array({old}, {new}))"
        return f"json_object('{field}', json_array({old}, {new}))"

    def bool(self, value: bool) -> str:
        return "TRUE" if value else "FALSE"

    def series(self, lo: int, hi: int) -> tuple[str, str]:
        """(WITH prefix, FROM source) producing column g from lo to hi."""
        if self.pg:
            return "", f"generate_series({lo}, {hi}) AS s(g)"
        return f"WITH RECURSIVE s(g) AS (SELECT {lo} UNION ALL SELECT g + 1 FROM s WHERE g < {hi}) ", "s"


def _defaults(model: Any, d: Dialect, given: dict[str, str]) -> list[tuple[str, str]]:
    """(column, SQL expression) for every concrete column of `model`; `given` wins."""
    from django.db import models

    out = []
    for f in model._meta.concrete_fields:
        col = f.column
        if col in given:
            out.append((col, given[col]))
            continue
        if f.primary_key:
            continue
        if f.null:
            expr = "NULL"
        elif isinstance(f, models.JSONField):
            expr = d.json(f.get_default())
        elif isinstance(f, models.BooleanField):
            expr = d.bool(bool(f.get_default()))
        elif f.has_default() and isinstance(f.get_default(), (int, float)):
            expr = str(f.get_default())
        elif f.has_default() and isinstance(f.get_default(), str):
            expr = _q(f.get_default())
        elif isinstance(f, (models.CharField, models.TextField)):
            expr = "''"
        else:
            raise RuntimeError(f"bench loader: no value for NOT NULL column {model._meta.db_table}.{col}; "
                               "add it to bench/dataset.py")
        out.append((col, expr))
    return out


def _log(msg: str) -> None:
    print(f"    {msg}", file=sys.stderr, flush=True)


def load(n: int, *, chunk: int = 100_000) -> dict[str, Any]:
    from django.db import connection

    from huiyin.cases.models import Case, Category, Timer
    from huiyin.org.models import Unit, User
    from huiyin.policies.services import active_policy

    from .guard import check_configured

    check_configured()
    d = Dialect(connection.vendor)
    units = dict(Unit.objects.values_list("code", "id"))
    users = dict(User.objects.values_list("username", "id"))
    cats = list(Category.objects.order_by("id").values_list("id", flat=True))
    policy_id = active_policy().pk
    if Case.objects.exists():
        raise RuntimeError("bench loader: cases_case is not empty; it needs a fresh database")

    days = math.ceil(n / PER_DAY)
    today = datetime.now(SHANGHAI).date()
    base_date = today - timedelta(days=days)  # the newest day is yesterday
    base = datetime(base_date.year, base_date.month, base_date.day, tzinfo=SHANGHAI)
    now = datetime.now(SHANGHAI)

    # Layer 1: g and its hash streams. Layer 2: kind, state, unit, channel. Layer 3: columns.
    l1 = (f"g, (g - 1) / {PER_DAY} AS d, {days - 1} - (g - 1) / {PER_DAY} AS age, "
          + ", ".join(f"{d.h('g', s)} % 1000 AS r_{s}" for s in ("kind", "sev", "state", "unit", "chan", "misc",
                                                                  "sub", "name", "cat"))
          + f", {d.hbig('g', 'phone')} % {max(1000, n * 3 // 10)} AS ph")
    kind = _wpick("r_kind", [("'complaint'", 550), ("'consultation'", 800), ("'suggestion'", 870),
                             ("'report'", 930), ("'praise'", 970), ("'employee_complaint'", 1000)])
    state = (
        "CASE WHEN age < 2 THEN " + _wpick("r_state", [
            ("'registered'", 150), ("'pending_approval'", 250), ("'dispatched'", 450), ("'accepted'", 800),
            ("'returned'", 820), ("'closed'", 950), ("'invalid'", 1000)])
        + " WHEN age < 30 THEN " + _wpick("r_state", [
            ("'accepted'", 250), ("'suspended'", 270), ("'plan_approval'", 285), ("'result_submitted'", 400),
            ("'pending_callback'", 520), ("'closed'", 960), ("'invalid'", 1000)])
        + " ELSE " + _wpick("r_state", [
            ("'accepted'", 4), ("'suspended'", 8), ("'pending_callback'", 10), ("'closed'", 970),
            ("'invalid'", 1000)])
        + " END")
    unit_pick = _wpick("r_unit", [(str(units["marketing"]), 250), (str(units["logistics"]), 500),
                                  (str(units["monopoly"]), 650), (str(units["county_a"]), 950),
                                  (str(units["county_b"]), 1000)])
    channel = _wpick("r_chan", [("'phone'", 600), ("'wechat'", 720), ("'web'", 800), ("'upstream'", 850),
                                ("'sms'", 880), ("'email'", 910), ("'walk_in'", 940), ("'letter'", 960),
                                ("'regulator'", 975), ("'fax'", 985), ("'api'", 1000)])
    l2 = (f"t1.*, {kind} AS kind, {state} AS state, {unit_pick} AS unit_pick, {channel} AS channel, "
          f"{d.add_s(d.ts(base), f'(g - 1) * {SLOT_S} + r_misc % {SLOT_S - 1}')} AS received_at")

    prefix = "CASE kind " + " ".join(
        f"WHEN '{k}' THEN '{p}'" for k, p in [("complaint", "TS"), ("consultation", "ZX"), ("suggestion", "JY"),
                                             ("report", "JB"), ("praise", "BY")]) + " ELSE 'YG' END"
    number = (f"{prefix} || {d.yyyymmdd(base_date.isoformat(), 'd')} || '-' || "
              f"{d.pad(f'(g - 1) % {PER_DAY} + 1', 6)}")
    no_unit = "state IN ('registered', 'pending_approval', 'returned', 'invalid')"
    subject = "CASE kind " + " ".join(
        f"WHEN '{k}' THEN {_pick(f'r_sub % {len(v)}', [_q(s) for s in v])}" for k, v in SUBJECTS.items()
    ) + " END"
    severity = ("CASE WHEN kind IN ('praise', 'consultation') THEN 'general' ELSE "
                + _wpick("r_sev", [("'general'", 880), ("'difficult'", 970), ("'major'", 1000)]) + " END")
    closed_days = "(1 + r_misc % 4)"  # closed 1–4 days after receipt; resolve due after 3
    # How a closed case ended (the reports' 处理情况 and 回访率): a quarter of the consultations
    # answered on the spot, 5 % of the rest closed without a callback, the others after one.
    close_reason = ("CASE WHEN state = 'invalid' THEN 'invalid' WHEN state <> 'closed' THEN '' "
                    "WHEN kind = 'consultation' AND r_chan % 4 = 0 THEN 'resolved_on_spot' "
                    "WHEN r_chan % 20 = 1 THEN 'no_callback' ELSE 'callback' END")
    given = {
        "id": "g",
        "number": number,
        "kind": "kind",
        "channel": "channel",
        "state": "state",
        "round": f"CASE WHEN r_misc < 5 AND NOT ({no_unit}) THEN 3 WHEN r_misc < 30 AND NOT ({no_unit}) THEN 2 "
                 "ELSE 1 END",
        "close_reason": close_reason,
        # a valid complaint (有效投诉): a closed complaint found true, the organisation liable — a third
        "liability": "CASE WHEN state = 'closed' AND kind = 'complaint' AND r_sev % 3 = 0 THEN 'enterprise' ELSE '' END",
        "customer_class": _wpick("r_name", [("'A'", 100), ("'B'", 350), ("'C'", 750), ("'D'", 900), ("''", 1000)]),
        "escalated": f"CASE WHEN r_misc < 5 AND NOT ({no_unit}) THEN {d.bool(True)} ELSE {d.bool(False)} END",
        # 2 % repeat an earlier case of the last few days (the rows before this one)
        "repeat_of_id": "CASE WHEN g > 1000 AND r_cat % 50 = 7 THEN g - 1 - r_cat % 500 END",
        "version": "CASE WHEN state = 'registered' THEN 1 ELSE 2 + r_misc % 9 END",
        "policy_id": str(policy_id),
        "subject": subject,
        "description": _pick("r_sub % 5", [_q(s) for s in DESCRIPTIONS]),
        "demands": "CASE WHEN kind = 'complaint' THEN '尽快处理并答复' ELSE '' END",
        "people_count": "1",
        "flags": f"CASE WHEN r_misc = 7 THEN {d.json(['media'])} WHEN r_misc = 8 THEN {d.json(['lawsuit'])} "
                 f"ELSE {d.json([])} END",
        "complainant_name": f"{_pick('r_name % 20', [_q(s) for s in SURNAMES])} || "
                            "CASE WHEN r_name % 2 = 0 THEN '先生' ELSE '女士' END",
        "complainant_phone": f"'1' || {_pick('ph % 8', [_q(s) for s in PHONE_HEADS])} || {d.pad('ph', 8)}",
        "complainant_account": f"CASE WHEN r_chan % 5 < 3 THEN '4401' || {d.pad('ph % 60000', 8)} ELSE '' END",
        "category_id": ("NULL" if not cats else
                        f"CASE WHEN r_cat < 100 THEN NULL ELSE {_pick(f'r_cat % {len(cats)}', [str(c) for c in cats])} END"),
        "severity": severity,
        "validity": "CASE WHEN state = 'invalid' THEN 'invalid' WHEN state = 'closed' THEN 'valid' ELSE '' END",
        "invalid_reason": "CASE WHEN state = 'invalid' THEN '重复投诉' ELSE '' END",
        "owner_unit_id": str(units["centre"]),
        "unit_id": f"CASE WHEN {no_unit} THEN NULL ELSE unit_pick END",
        "proposed_unit_id": "CASE WHEN state = 'pending_approval' THEN unit_pick ELSE NULL END",
        "registered_by_id": f"CASE WHEN r_misc % 2 = 0 THEN {users['agent']} ELSE {users['dispatcher']} END",
        "received_at": "received_at",
        "satisfaction": f"CASE WHEN state <> 'closed' OR ({close_reason}) <> 'callback' THEN '' WHEN r_sev < 300 THEN 'very_satisfied' WHEN r_sev < 900 "
        "THEN 'satisfied' WHEN r_sev < 960 THEN 'neutral' ELSE 'unsatisfied' END",
        "supervised": f"CASE WHEN r_misc < 30 AND NOT ({no_unit}) THEN {d.bool(True)} ELSE {d.bool(False)} END",
        "created_at": "received_at",
        "updated_at": d.add_s("received_at", f"CASE WHEN state = 'closed' THEN {closed_days} * 86400 ELSE 3600 END"),
        "closed_at": f"CASE WHEN state = 'closed' THEN {d.add_s('received_at', f'{closed_days} * 86400')} END",
    }
    cols = _defaults(Case, d, given)
    col_sql = ", ".join(c for c, _ in cols)
    sel_sql = ", ".join(e for _, e in cols)

    t0 = time.perf_counter()
    with connection.cursor() as cur:
        for lo in range(1, n + 1, chunk):
            hi = min(n, lo + chunk - 1)
            with_, src = d.series(lo, hi)
            sql = (f"{with_}INSERT INTO cases_case ({col_sql}) SELECT {sel_sql} FROM "
                   f"(SELECT {l2} FROM (SELECT {l1} FROM {src}) t1) t2")
            cur.execute(sql)
            _log(f"cases {hi:,}/{n:,} ({time.perf_counter() - t0:.0f}s)")
        if d.pg:
            cur.execute("SELECT setval(pg_get_serial_sequence('cases_case', 'id'), %s)", [n])
    cases_s = time.perf_counter() - t0

    # Timers, from the loaded cases (ids are g, so the hash streams are recomputed from id).
    now_sql = d.ts(now)
    day_ago = d.ts(now - timedelta(days=1))
    open_code = ("CASE state WHEN 'dispatched' THEN 'acknowledge' WHEN 'accepted' THEN 'resolve' "
                 "WHEN 'suspended' THEN 'resolve' WHEN 'plan_approval' THEN 'feedback' "
                 "WHEN 'result_submitted' THEN 'feedback' WHEN 'pending_callback' THEN 'callback' "
                 "ELSE 'dispatch' END")
    # (start offset, due offset) in seconds from received_at, per stage
    start_off = ("CASE code WHEN 'dispatch' THEN 0 WHEN 'acknowledge' THEN 14400 WHEN 'resolve' THEN 21600 "
                 "WHEN 'first_contact' THEN 21600 ELSE 172800 END")
    due_off = ("CASE code WHEN 'dispatch' THEN 14400 WHEN 'acknowledge' THEN 21600 WHEN 'resolve' THEN 259200 "
               "WHEN 'first_contact' THEN 86400 ELSE 201600 END")
    amount = ("CASE code WHEN 'dispatch' THEN 4 WHEN 'acknowledge' THEN 2 WHEN 'resolve' THEN 2 "
              "WHEN 'first_contact' THEN 1 ELSE 0 END")
    unit = "CASE WHEN code IN ('dispatch', 'acknowledge') THEN 'business_hours' ELSE 'working_days' END"
    due = d.add_s("received_at", due_off)
    open_rows = (
        f"SELECT id AS case_id, {open_code} AS code, round, state AS case_state, received_at FROM cases_case "
        f"WHERE state NOT IN ('closed', 'invalid') AND id BETWEEN @LO AND @HI "
        f"UNION ALL SELECT id, 'first_contact', round, state, received_at FROM cases_case "
        f"WHERE state = 'accepted' AND {d.h('id', 'misc')} % 1000 < 300 AND id BETWEEN @LO AND @HI"
    )
    open_given = {
        "case_id": "case_id", "code": "code", "round": "round",
        "state": f"CASE WHEN case_state = 'suspended' THEN 'paused' WHEN {due} < {day_ago} THEN 'breached' "
                 "ELSE 'running' END",
        "amount": amount, "unit": unit, "basis": "'bench'",
        "started_at": d.add_s("received_at", start_off), "due_at": due,
        "paused_at": f"CASE WHEN case_state = 'suspended' THEN {d.add_s('received_at', '86400')} END",
        "breached_at": f"CASE WHEN case_state <> 'suspended' AND {due} < {day_ago} THEN {due} END",
    }
    closed_days_id = f"(1 + {d.h('id', 'misc')} % 1000 % 4)"
    closed_given = {
        "case_id": "id", "code": "'resolve'", "round": "round",
        "state": f"CASE WHEN {closed_days_id} > 3 THEN 'breached' ELSE 'met' END",
        "amount": "2", "unit": "'working_days'", "basis": "'bench'",
        "started_at": d.add_s("received_at", "21600"), "due_at": d.add_s("received_at", "259200"),
        "stopped_at": d.add_s("received_at", f"{closed_days_id} * 86400"),
        "breached_at": f"CASE WHEN {closed_days_id} > 3 THEN {d.add_s('received_at', '259200')} END",
        "breach_seconds": f"CASE WHEN {closed_days_id} > 3 THEN ({closed_days_id} - 3) * 86400 END",
    }
    t1 = time.perf_counter()
    ocols = _defaults(Timer, d, open_given)
    ccols = _defaults(Timer, d, closed_given)
    with connection.cursor() as cur:
        for lo in range(1, n + 1, chunk * 2):
            hi = min(n, lo + chunk * 2 - 1)
            cur.execute(f"INSERT INTO cases_timer ({', '.join(c for c, _ in ocols)}) "
                        f"SELECT {', '.join(e for _, e in ocols)} FROM "
                        f"({open_rows.replace('@LO', str(lo)).replace('@HI', str(hi))}) o")
            cur.execute(f"INSERT INTO cases_timer ({', '.join(c for c, _ in ccols)}) "
                        f"SELECT {', '.join(e for _, e in ccols)} FROM cases_case "
                        f"WHERE state = 'closed' AND id BETWEEN {lo} AND {hi}")
            _log(f"timers for cases {hi:,}/{n:,} ({time.perf_counter() - t1:.0f}s)")
    timers_s = time.perf_counter() - t1

    t3 = time.perf_counter()
    _events(d, n, chunk, users)
    events_s = time.perf_counter() - t3
    _volumes(base_date, today)

    t2 = time.perf_counter()
    with connection.cursor() as cur:
        if d.pg:
            cur.execute("VACUUM ANALYZE cases_case")
            cur.execute("VACUUM ANALYZE cases_timer")
            cur.execute("VACUUM ANALYZE cases_event")
        else:
            cur.execute("ANALYZE")
            cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    analyze_s = time.perf_counter() - t2

    stats: dict[str, Any] = {}
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM cases_case")
        stats["cases"] = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM cases_timer")
        stats["timers"] = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM cases_event")
        stats["events"] = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM cases_timer WHERE stopped_at IS NULL")
        stats["open_timers"] = cur.fetchone()[0]
        cur.execute(f"SELECT count(*) FROM cases_timer WHERE stopped_at IS NULL AND due_at < {now_sql}")
        stats["open_timers_past_due"] = cur.fetchone()[0]
        cur.execute(f"SELECT count(*) FROM cases_timer WHERE state = 'running' AND due_at < {now_sql}")
        stats["running_past_due"] = cur.fetchone()[0]
        cur.execute("SELECT state, count(*) FROM cases_case GROUP BY state ORDER BY 2 DESC")
        stats["by_state"] = dict(cur.fetchall())
        cur.execute("SELECT u.code, count(*) FROM cases_case c JOIN org_unit u ON u.id = c.unit_id "
                    "GROUP BY u.code ORDER BY 2 DESC")
        stats["by_unit"] = dict(cur.fetchall())
        cur.execute("SELECT kind, count(*) FROM cases_case GROUP BY kind ORDER BY 2 DESC")
        stats["by_kind"] = dict(cur.fetchall())
        cur.execute("SELECT severity, count(*) FROM cases_case GROUP BY severity ORDER BY 2 DESC")
        stats["by_severity"] = dict(cur.fetchall())
        if d.pg:
            cur.execute("SELECT pg_total_relation_size('cases_case'), pg_total_relation_size('cases_timer')")
            a, b = cur.fetchone()
            stats["size_mb"] = {"cases_case": round(a / 2**20), "cases_timer": round(b / 2**20)}
    return {
        "n": n, "days": days, "first_day": base_date.isoformat(),
        "seconds": {"cases": round(cases_s, 1), "timers": round(timers_s, 1), "events": round(events_s, 1),
                    "analyze": round(analyze_s, 1)},
        "stats": stats,
    }


# The timeline events the reports read (`cases.outcomes`): (action, from, to, seconds after receipt,
# which cases). Closed cases: closed_at = received_at + (1..4) days; the callback 1 h and the
# result 2 h before it; a redispatch (二次派单) at 5 h, an escalation (三次派单) at 6 h; 1 % of the
# closed cases were reopened once (at 3 h) before their last closing.
ON_SPOT = "close_reason = 'resolved_on_spot'"
HANDLED = f"unit_id IS NOT NULL AND NOT ({ON_SPOT})"
EVENTS: list[tuple[str, str, str, str, str]] = [
    ("register", "", "registered", "0", "TRUE"),
    ("mark_invalid", "registered", "invalid", "3600", "state = 'invalid'"),
    ("dispatch", "registered", "dispatched", "3600", HANDLED),
    ("acknowledge", "dispatched", "accepted", "7200", f"{HANDLED} AND state <> 'dispatched'"),
    ("reopen", "closed", "accepted", "10800", "state = 'closed' AND @R % 100 = 42 AND " + HANDLED),
    ("redispatch", "pending_callback", "dispatched", "18000", "round >= 2"),
    ("escalate", "pending_callback", "dispatched", "21600", "escalated"),
    ("submit_result", "accepted", "result_submitted", "@CLOSE - 7200",
     f"({HANDLED} AND state = 'closed') OR state IN ('result_submitted', 'pending_callback')"),
    ("callback", "pending_callback", "pending_callback", "@CLOSE - 3600", "close_reason = 'callback'"),
    ("close", "pending_callback", "closed", "@CLOSE", f"state = 'closed' AND NOT ({ON_SPOT})"),
    ("resolve_on_spot", "registered", "closed", "@CLOSE", ON_SPOT),
]


def _events(d: Dialect, n: int, chunk: int, users: dict[str, int]) -> None:
    """The timeline of every loaded case, in case order (one INSERT … SELECT per chunk of cases)."""
    from django.db import connection

    from huiyin.cases.models import Event

    close_s = f"(1 + {d.h('id', 'misc')} % 1000 % 4) * 86400"
    r = f"({d.h('id', 'state')} % 1000)"
    parts = []
    for seq, (action, frm, to, offset, where) in enumerate(EVENTS):
        off = offset.replace("@CLOSE", close_s)
        changes = ({"callback": d.changes_pair("satisfaction", "''", "satisfaction"),
                    "escalate": d.json({"escalated": [False, True]})}.get(action, d.json({})))
        cond = where.replace("@R", r).replace("TRUE", "1 = 1")
        if action == "escalate":
            cond = "escalated = " + d.bool(True)
        parts.append(f"SELECT id AS case_id, {seq} AS seq, '{action}' AS action, '{frm}' AS from_state, "
                     f"'{to}' AS to_state, {d.add_s('received_at', off)} AS at, {changes} AS changes, "
                     f"CASE WHEN {seq} < 3 THEN {users['dispatcher']} ELSE NULL END AS actor_id "
                     f"FROM cases_case WHERE id BETWEEN @LO AND @HI AND ({cond})")
    given = {"case_id": "case_id", "action": "action", "from_state": "from_state", "to_state": "to_state",
             "at": "at", "changes": "changes", "actor_id": "actor_id", "source": "'web'"}
    cols = _defaults(Event, d, given)
    union = " UNION ALL ".join(parts)
    t0 = time.perf_counter()
    with connection.cursor() as cur:
        for lo in range(1, n + 1, chunk):
            hi = min(n, lo + chunk - 1)
            cur.execute(f"INSERT INTO cases_event ({', '.join(c for c, _ in cols)}) "
                        f"SELECT {', '.join(e for _, e in cols)} FROM "
                        f"({union.replace('@LO', str(lo)).replace('@HI', str(hi))}) e ORDER BY case_id, seq")
            _log(f"events for cases {hi:,}/{n:,} ({time.perf_counter() - t0:.0f}s)")
        if d.pg:
            cur.execute("SELECT setval(pg_get_serial_sequence('cases_event', 'id'), "
                        "(SELECT COALESCE(max(id), 1) FROM cases_event))")


def _volumes(first_day: Any, last_day: Any) -> None:
    """Business volumes per unit and month (customers; orders, summed), for 投诉/万户."""
    from huiyin.org.models import Unit, User
    from huiyin.reports.models import BusinessVolume

    by = User.objects.get(username="leader")
    rows = []
    m = first_day.replace(day=1)
    units = list(Unit.objects.filter(parent__isnull=False).order_by("id"))
    while m <= last_day:
        for u in units:
            rows.append(BusinessVolume(unit=u, month=m, measure="customers", value=2000 + (u.pk * 7919) % 3000,
                                       entered_by=by))
            rows.append(BusinessVolume(unit=u, month=m, measure="orders", value=40000 + (u.pk * 104729) % 30000,
                                       entered_by=by))
        m = (m + timedelta(days=32)).replace(day=1)
    BusinessVolume.objects.bulk_create(rows, ignore_conflicts=True)
