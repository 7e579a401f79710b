"""Read access to a policy's configuration, with the defaults filled in.

The workflow asks questions ("does a complaint need the leader's approval before
dispatch?", "what is the resolve timer of an upstream case in round 2?", "who signs off the
reply of a consultation?") through this one class, so a newcomer finds every configurable
rule of the workflow here. What each key means is documented in docs/policies.md; what a
preset file may contain is checked by `policies.presets`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import Any

from huiyin.sla.calendar import BusinessHours, TimeUnit

from .rules import Rule, parse_rules

# The stage timers a policy may set. `decision`: after a callback, the time the centre (or the
# leader, under `workflow.satisfied_decision`) has to decide on 二次派单 or a reasoned close.
# `end_to_end`: from receipt to closure (至接到投诉 N 天结案); it caps every stage clock.
# `appeal`: the review (复审/核实) of an appealed case.
TIMER_CODES = ("dispatch", "acknowledge", "first_contact", "resolve", "feedback", "callback", "decision",
               "end_to_end", "appeal")

# What a clock may count from (`from:`): its stage's start, or a named moment of the case.
ANCHORS = ("stage", "receipt", "dispatch", "acknowledge", "result", "close")
TIMER_ANCHORS: dict[str, tuple[str, ...]] = {
    "dispatch": ("stage", "receipt"),
    "acknowledge": ("stage", "receipt", "dispatch"),
    "first_contact": ("stage", "receipt", "dispatch", "acknowledge"),
    "resolve": ("stage", "receipt", "dispatch", "acknowledge"),
    "feedback": ("stage", "result"),
    "callback": ("stage", "result"),
    "decision": ("stage",),
    "end_to_end": ("receipt",),
    "appeal": ("stage",),
}
# Obligations (duties around a case, e.g. 结案后3个工作日内报备总公司) count from one of these.
OBLIGATION_ANCHORS = ("receipt", "dispatch", "acknowledge", "result", "close")
# The kinds the public portal takes by default (an employee complaint is internal), and the
# formal notices a policy may make a step of the case (`documents.notices`).
PUBLIC_KINDS = ("complaint", "consultation", "suggestion", "report", "praise")
NOTICE_DOCUMENTS = ("acceptance_notice", "rejection_notice", "reply")
# What a record form (`documents.record_form.fields`) may print, in the order given.
RECORD_FORM_FIELDS = ("number", "received", "channel", "complainant", "contact", "account", "subject",
                      "description", "demands", "category", "severity", "unit", "instructions", "acknowledged",
                      "investigation", "reply", "compensation", "satisfaction", "callback", "supervision",
                      "closed", "signatures")
# The roles the product knows; a policy may add its own (`roles:`), each a built-in role held in
# a named unit (e.g. 上级分行核实岗: supervisor in unit `branch`).
BUILTIN_ROLES = ("agent", "dispatcher", "handler", "first_responsible", "leader", "supervisor", "auditor",
                 "admin")


@dataclass(frozen=True)
class TimerSpec:
    code: str
    amount: int
    unit: str
    basis: str
    anchor: str = "stage"  # what the clock counts from (ANCHORS)

    @property
    def from_receipt(self) -> bool:
        return self.anchor == "receipt"


@dataclass(frozen=True)
class Obligation:
    """A duty with its own deadline around a case (DESIGN §4 escalation reporting): started when
    its condition holds and its anchor has happened, assigned to a role, met by `fulfil`."""

    code: str
    name: str
    when: dict[str, Any] | None
    anchor: str
    amount: int
    unit: str
    role: str
    basis: str


@dataclass(frozen=True)
class ExtensionTier:
    """延期: an extension that keeps the extended clock within `amount`/`unit` of its start needs
    `approver`'s decision; a longer one needs the next tier's."""

    amount: int
    unit: str
    approver: str
    basis: str


@dataclass(frozen=True)
class PolicyRole:
    """A role the policy names that the product has no word for (法务室, 上级分行核实岗 …): the
    holders of the built-in `role` in the unit `unit` (in any unit when empty)."""

    code: str
    name: str
    role: str
    unit: str


# Personal data over its life (PIPL, DESIGN §8, issue 11): the groups of fields a policy sets a
# purpose and a retention period for, counted from the case's closing. `identity`: who complained
# (name, phone, e-mail, address, account, ID number, group representatives); `content`: the free
# text that may tell about people (the description, demands, the investigation and the reply, the
# respondent); `attachments`: the files. What is not personal — kind, category, units, dates,
# deadlines and whether they were met, satisfaction — is kept, so reports stay true.
RETENTION_GROUPS = ("identity", "content", "attachments")
DEFAULT_RETENTION: dict[str, tuple[int | None, str]] = {
    "identity": (3 * 365, "to handle the case, call the complainant back and recognise a repeat complaint"),
    "content": (None, "the record of the case (kept with the case)"),
    "attachments": (3 * 365, "evidence for the handling of the case"),
}


@dataclass(frozen=True)
class Retention:
    group: str
    days: int | None  # None: kept with the case
    purpose: str


@dataclass(frozen=True)
class Privacy:
    """What the policy says about records and personal data (`privacy:`)."""

    notice_version: str
    export_approvers: tuple[str, ...]  # roles that approve an export of case records; () = none needed
    export_basis: str
    retention: dict[str, Retention]
    request_amount: int  # data-subject requests are answered within this …
    request_unit: str  # … (calendar days move to the next working day when they end on a holiday)


def _roles(value: Any, default: list[str]) -> list[str]:
    return [str(r) for r in value] if isinstance(value, list) else list(default)


class PolicyConfig:
    def __init__(self, config: dict[str, Any]):
        self.raw = config

    @property
    def workflow(self) -> dict[str, Any]:
        return self.raw.get("workflow", {})

    # --- the organisation ---------------------------------------------------------------------

    @property
    def region(self) -> str:
        """The organisation's region (a provincial branch is one province), used when a case has
        none (DESIGN §5 counts by region)."""
        return str(self.raw.get("region", "") or "")

    @cached_property
    def roles(self) -> dict[str, PolicyRole]:
        out = {}
        for code, spec in (self.raw.get("roles") or {}).items():
            out[str(code)] = PolicyRole(str(code), str(spec.get("name", code)), str(spec["role"]),
                                        str(spec.get("unit", "") or ""))
        return out

    # --- approvals (批示, 方案审批, 答复审核, 复审) ------------------------------------------------------

    def approval_before_dispatch(self, kind: str, *, severity: str = "", channel: str = "") -> bool:
        """Leader 批示 before dispatch: a list of kinds, or {kinds, severities, channels}
        (any one matching is enough)."""
        spec = self.workflow.get("approval_before_dispatch", [])
        if isinstance(spec, list):
            return kind in spec
        return (
            kind in spec.get("kinds", []) or severity in spec.get("severities", []) or channel in spec.get("channels", [])
        )

    def dispatch_chain(self, kind: str) -> list[str]:
        """Who approves a dispatch, in order: the kind's own chain (`chains`), else `chain`, else
        the leader (分管领导)."""
        spec = self.workflow.get("approval_before_dispatch", [])
        if isinstance(spec, dict):
            chains = spec.get("chains") or {}
            if kind in chains:
                return _roles(chains[kind], ["leader"])
            return _roles(spec.get("chain"), ["leader"])
        return ["leader"]

    def plan_approval(self, severity: str) -> bool:
        return severity in self.workflow.get("plan_approval_severities", [])

    @property
    def plan_chain(self) -> list[str]:
        """Who approves a handling plan (重大问题处理方案), in order."""
        return _roles(self.workflow.get("plan_approval_chain"), ["leader"])

    @property
    def reply_approval_chain(self) -> list[str]:
        """答复审核: the default chain of roles that approve the reply before the centre reviews it."""
        spec = self.workflow.get("reply_approval", [])
        if isinstance(spec, dict):
            return _roles(spec.get("default"), [])
        return list(spec)

    def reply_chain(self, kind: str) -> list[str]:
        """The 答复审核 chain of a case of this kind (`reply_approval: {default, kinds}`)."""
        spec = self.workflow.get("reply_approval", [])
        if isinstance(spec, dict) and kind in (spec.get("kinds") or {}):
            return _roles(spec["kinds"][kind], [])
        return self.reply_approval_chain

    @property
    def satisfied_decision(self) -> list[str]:
        """After a satisfied callback, the roles that decide whether another round is needed
        (e.g. tobacco 二(三): 提交分管领导审查确定是否需进入二次派单阶段); empty: the case closes."""
        return _roles(self.workflow.get("satisfied_decision"), [])

    @property
    def appeal_kinds(self) -> list[str]:
        """The kinds a decided case of may be appealed (复审, upper-level review 核实)."""
        spec = self.workflow.get("appeal") or {}
        return _roles(spec.get("kinds"), ["employee_complaint"])

    @property
    def appeal_chain(self) -> list[str]:
        """Who decides an appeal, in order (the GM, the upper-level branch …)."""
        spec = self.workflow.get("appeal") or {}
        return _roles(spec.get("reviewers"), ["leader"])

    @property
    def withdrawal_allowed(self) -> bool:
        return bool(self.workflow.get("withdrawal", True))

    # --- the callback and closing -----------------------------------------------------------

    def callback_needed(self, *, kind: str, number: str) -> bool:
        """Whether this case is called back: `callback: {kinds: [...], sample: 0.3}` — every
        case of the listed kinds (all kinds when omitted), or a stable sample of them."""
        spec = self.raw.get("callback")
        if spec is None:
            return self.callback_required
        kinds = spec.get("kinds")
        if kinds is not None and kind not in kinds:
            return False
        share = float(spec.get("sample", 1.0))
        if share >= 1.0:
            return True
        import hashlib

        bucket = int(hashlib.sha256(number.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        return bucket < share

    @property
    def close_requires_signoff(self) -> bool:
        return bool(self.workflow.get("close_requires_signoff", False)) or bool(self.satisfied_decision)

    @property
    def callback_required(self) -> bool:
        return bool(self.workflow.get("callback_required", True))

    # --- a way to reach the complainant (issue 15, item 5) --------------------------------
    # The one rule the intake page, the API, the portal, e-mail and upstream transfers share
    # (cases.services.case_register applies it; docs/policies.md "A way to reach the complainant").

    def contact_required(self, kind: str, *, answered_on_spot: bool = False) -> bool:
        """Whether a new case of this kind must carry a way to reach the complainant (a phone,
        an e-mail address or a postal address): yes where the workflow has `callback_required`
        and the policy calls the kind back (its `callback.kinds`, in full or by a sample: any case
        may be drawn) — except a report (举报), which may be anonymous; a case answered on the
        spot at intake (nobody calls it back unless `callback_on_spot`); a policy that turns it
        off (`workflow.contact_required: false`, e.g. one that registers such a complaint and
        then finds it invalid); and a policy whose registration form requires a contact field
        by name (`forms.registration.required`), whose own check names that field."""
        if kind == "report" or not self.callback_required:
            return False
        if not self.workflow.get("contact_required", True):
            return False
        if answered_on_spot and not self.workflow.get("callback_on_spot", False):
            return False
        if set(self.required("registration")) & {"complainant.phone", "complainant.email", "complainant.address"}:
            return False
        spec = self.raw.get("callback")
        if spec is None:
            return True
        kinds = spec.get("kinds")
        return (kinds is None or kind in kinds) and float(spec.get("sample", 1.0)) > 0

    @property
    def unreachable_attempts(self) -> int:
        return int(self.workflow.get("unreachable_attempts", 3))

    @property
    def max_round(self) -> int:
        return int(self.workflow.get("max_round", 3))

    # --- the portal and formal documents (issue 12) -----------------------------------------

    @property
    def portal_kinds(self) -> list[str]:
        """The kinds the public portal takes (`portal.kinds`; default every kind but the
        employee complaint)."""
        return _roles((self.raw.get("portal") or {}).get("kinds"), list(PUBLIC_KINDS))

    @property
    def reopen_days(self) -> int:
        """How many calendar days after closing the complainant may ask on the portal to have
        the case handled again (`portal.reopen_days`; 0: never)."""
        return int((self.raw.get("portal") or {}).get("reopen_days", 30))

    def notices_required(self, *, kind: str, channel: str) -> list[str]:
        """The formal notices (受理/不予受理告知书, 答复意见书) the regulation makes a step of a case
        of this kind and channel (`documents.notices`), e.g. the 12315 letters."""
        out = []
        for item in (self.raw.get("documents") or {}).get("notices") or []:
            if item.get("channels") and channel not in item["channels"]:
                continue
            if item.get("kinds") and kind not in item["kinds"]:
                continue
            out.append(str(item["document"]))
        return out

    def record_form(self, kind: str) -> tuple[str, list[str]]:
        """The title and rows of the policy's record form for a case of this kind
        (`documents.record_form`: `title`, a title per kind in `kinds`, `fields`)."""
        spec = (self.raw.get("documents") or {}).get("record_form") or {}
        titles = spec.get("kinds") or {}
        title = str(titles.get(kind) or spec.get("title") or "客户投诉处理记录表")
        fields = [str(f) for f in spec.get("fields") or RECORD_FORM_FIELDS]
        return title, fields

    # --- other settings ------------------------------------------------------------------------

    @property
    def open_contact(self) -> str:
        """A new contact from a customer whose case of the same kind is open: `urge` the open
        case instead of registering a new one, or register `new` (the default)."""
        return str(self.raw.get("repeat", {}).get("open_contact", "new"))

    @property
    def compensation_approval_above(self) -> Decimal | None:
        """Compensation above this amount waits for the leader's approval (DESIGN §1)."""
        value = (self.raw.get("compensation") or {}).get("approval_above")
        return Decimal(str(value)) if value is not None else None

    @property
    def repeat_days(self) -> int:
        return int(self.raw.get("repeat", {}).get("within_days", 30))

    @cached_property
    def rules(self) -> list[Rule]:
        return parse_rules(self.raw.get("rules"))

    def required(self, form: str) -> list[str]:
        """The fields the policy requires on a form (`forms.<form>.required`): `registration`
        (intake) or an action's name (e.g. `submit_result`'s investigation report)."""
        spec = (self.raw.get("forms") or {}).get(form) or {}
        return [str(f) for f in spec.get("required", [])]

    @cached_property
    def business_hours(self) -> BusinessHours:
        periods = self.raw.get("business_hours")
        return BusinessHours.parse(periods) if periods else BusinessHours.parse(
            [["08:30", "12:00"], ["13:30", "17:30"]]
        )

    @property
    def reminder_share(self) -> float:
        return float(self.raw.get("reminder_share", 0.75))

    # --- extensions ----------------------------------------------------------------------------

    @property
    def extension_timer(self) -> str:
        """The clock an extension (延期) moves: `resolve` (the default) or `end_to_end`."""
        return str((self.raw.get("extension") or {}).get("timer", "resolve"))

    @cached_property
    def extension_tiers(self) -> list[ExtensionTier]:
        """The extension tiers, shortest first: `extension.tiers`, else `extension_max` as one tier
        that the leader grants."""
        spec = self.raw.get("extension") or {}
        if spec.get("tiers"):
            return [ExtensionTier(int(t["max"]["amount"]), TimeUnit(t["max"]["unit"]).value,
                                  str(t.get("approver", "leader")), str(t.get("basis", "")))
                    for t in spec["tiers"]]
        limit = self.raw.get("extension_max")
        if not limit:
            return []
        return [ExtensionTier(int(limit["amount"]), TimeUnit(limit["unit"]).value, "leader",
                              str(limit.get("basis", "")))]

    @property
    def extension_max(self) -> tuple[int, str] | None:
        """The most any extension may reach (the last tier), from the clock's start."""
        tiers = self.extension_tiers
        return (tiers[-1].amount, tiers[-1].unit) if tiers else None

    # --- clocks --------------------------------------------------------------------------------

    def timer(self, code: str, *, kind: str, channel: str, severity: str = "general", round_no: int = 1,
              co_unit: bool = False) -> TimerSpec | None:
        """The timer `code` for a case of this kind, severity and channel in dispatch round
        `round_no` (of a co-handling unit when `co_unit`), or None if the policy has none.
        The most specific wins: a co-handling unit's own limit (`co_units`), the round's
        (`rounds`), then kind, severity, channel and the default. `from:` (on the chosen
        variant or the timer) names what the clock counts from."""
        spec = self.raw.get("timers", {}).get(code)
        if not spec:
            return None
        rounds = spec.get("rounds") or {}
        chosen = (
            (spec.get("co_units") if co_unit else None)
            or rounds.get(str(round_no)) or rounds.get(round_no)
            or (spec.get("kinds") or {}).get(kind)
            or (spec.get("severities") or {}).get(severity)
            or (spec.get("channels") or {}).get(channel)
            or spec.get("default")
        )
        if not chosen:
            return None
        anchor = str(chosen.get("from") or spec.get("from") or "stage")
        return TimerSpec(code, int(chosen["amount"]), TimeUnit(chosen["unit"]).value, spec.get("basis", ""),
                         anchor=anchor)

    @cached_property
    def privacy(self) -> Privacy:
        spec = self.raw.get("privacy") or {}
        export = spec.get("export") or {}
        retention = {}
        for group in RETENTION_GROUPS:
            days, purpose = DEFAULT_RETENTION[group]
            given = (spec.get("retention") or {}).get(group) or {}
            retention[group] = Retention(group, given.get("days", days), str(given.get("purpose", purpose)))
        asked = spec.get("requests") or {}
        return Privacy(
            notice_version=str(spec.get("notice_version", "") or ""),
            export_approvers=tuple(str(r) for r in export.get("approval", [])),
            export_basis=str(export.get("basis", "") or ""),
            retention=retention,
            request_amount=int(asked.get("amount", 30)),
            request_unit=str(asked.get("unit", "calendar_days")),
        )

    @cached_property
    def obligations(self) -> list[Obligation]:
        out = []
        for item in self.raw.get("obligations") or []:
            out.append(Obligation(
                code=str(item["code"]), name=str(item.get("name", item["code"])), when=item.get("when"),
                anchor=str(item.get("from", "close")), amount=int(item["due"]["amount"]),
                unit=TimeUnit(item["due"]["unit"]).value, role=str(item.get("role", "dispatcher")),
                basis=str(item.get("basis", "")),
            ))
        return out

    def obligation(self, code: str) -> Obligation | None:
        return next((o for o in self.obligations if o.code == code), None)

    # --- reports and accountability (read by huiyin.reports) -----------------------------------

    @cached_property
    def report_specs(self) -> list[ReportSpec]:
        """The periodic reports the regulation asks for (`reports`)."""
        out = []
        for item in self.raw.get("reports") or []:
            period = item.get("period")
            periods = [str(p) for p in period] if isinstance(period, list) else [str(period)] if period else []
            out.append(ReportSpec(
                code=str(item["code"]), name=str(item.get("name", item["code"])), periods=periods,
                by=[str(b) for b in item.get("by") or []], layout=str(item.get("layout") or _layout_of(item)),
                due_day=int(item["due_day"]) if item.get("due_day") else None,
                roles=_roles(item.get("roles"), ["leader", "supervisor"]), to=str(item.get("to", "") or ""),
                indicators=[str(i) for i in item.get("indicators") or []], basis=str(item.get("basis", "")),
            ))
        return out

    @cached_property
    def penalty_specs(self) -> list[PenaltySpec]:
        """The penalties and rewards (`penalties`): what each entry applies to and what it costs."""
        out = []
        for item in self.raw.get("penalties") or []:
            fine = item.get("fine")
            fines = (fine[0], fine[-1]) if isinstance(fine, list) and fine else (fine, fine) if fine is not None \
                else (None, None)
            points = item.get("points")
            if isinstance(points, list):
                points = points[0] if points else None
            numeric = isinstance(points, (int, float)) and not isinstance(points, bool)
            out.append(PenaltySpec(
                code=str(item["code"]), points=Decimal(str(points)) if numeric else Decimal(0),
                fine_min=Decimal(str(fines[0])) if fines[0] is not None else None,
                fine_max=Decimal(str(fines[1])) if fines[1] is not None else None,
                action=str(item.get("action", "") or ""), reward=bool(item.get("reward", False)),
                tags=[str(t) for t in item.get("tags") or []], severities=[str(s) for s in item.get("severities") or []],
                kinds=[str(k) for k in item.get("kinds") or []], when=item.get("when"),
                per=str(item.get("per", "case")), threshold=int(item["threshold"]) if item.get("threshold") else None,
                period=str(item.get("period", "") or ""),
                # without a figure or a condition of its own a clause is a person's judgement
                manual=bool(item.get("manual", False)) or bool(item.get("threshold"))
                or (points is not None and not numeric),
                basis=str(item.get("basis", "")),
            ))
        return out

    @property
    def warnings(self) -> dict[str, Any]:
        """预警: the policy's settings over the defaults (docs/policies.md, `warnings`)."""
        spec = dict(self.raw.get("warnings") or {})
        levels = {"yellow": 2.0, "orange": 3.0, "red": 5.0, **(spec.get("levels") or {})}
        return {
            "baseline_weeks": int(spec.get("baseline_weeks", 8)), "window_days": int(spec.get("window_days", 7)),
            "min_cases": int(spec.get("min_cases", 3)), "levels": levels,
            "by": list(spec.get("by") or ["category", "unit", "region"]),
            "group": {"cases": 5, "hours": 24, **(spec.get("group") or {})},
            "risk": {"flags": ["media", "regulator", "lawsuit", "extreme"], "urges": 2,
                     "keywords": ["曝光", "媒体", "记者", "起诉", "法院", "12315", "投诉到", "上访", "信访", "市长热线",
                                  "12345", "工信部", "银保监", "监管局", "律师"],
                     **(spec.get("risk") or {})},
            "notify": _roles(spec.get("notify"), ["leader", "supervisor"]),
        }

    @property
    def quality_checklist(self) -> list[dict[str, Any]]:
        """质检: the items a closed case is scored against (`quality.checklist`, else the product's)."""
        items = (self.raw.get("quality") or {}).get("checklist")
        if items:
            return [{"code": str(i["code"]), "name": str(i["name"]), "points": int(i["points"])} for i in items]
        return list(DEFAULT_CHECKLIST)


@dataclass(frozen=True)
class ReportSpec:
    code: str
    name: str
    periods: list[str]  # month, quarter, week, year (scheduled); empty: on demand only
    by: list[str]
    layout: str
    due_day: int | None
    roles: list[str]
    to: str
    indicators: list[str]
    basis: str


@dataclass(frozen=True)
class PenaltySpec:
    code: str
    points: Decimal
    fine_min: Decimal | None
    fine_max: Decimal | None
    action: str
    reward: bool
    tags: list[str]
    severities: list[str]
    kinds: list[str]
    when: dict[str, Any] | None
    per: str
    threshold: int | None
    period: str
    manual: bool
    basis: str


def _layout_of(item: dict[str, Any]) -> str:
    """A report entry without `layout`: the analysis report, or its special form by the entry's
    own words (a bulletin, the volume ratios, a case's special report)."""
    code, name = str(item.get("code", "")), str(item.get("name", ""))
    if "bulletin" in code or "通报" in name and "分析" not in name:
        return "bulletin"
    if "volume" in code or "亿元" in name:
        return "volume"
    if item.get("due") or "special" in code or "专项" in name:
        return "major"
    return "analysis"


# 质检 checklist used when the policy names none (本系统默认; 100 points).
DEFAULT_CHECKLIST: tuple[dict[str, Any], ...] = (
    {"code": "intake", "name": "受理登记规范、信息完整", "points": 20},
    {"code": "dispatch", "name": "派单准确、及时", "points": 15},
    {"code": "handling", "name": "调查处理到位、责任明确", "points": 25},
    {"code": "reply", "name": "答复内容准确、用语规范", "points": 20},
    {"code": "callback", "name": "回访及时、记录完整", "points": 20},
)
