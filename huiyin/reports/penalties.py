"""Accountability (考核, DESIGN §11): penalty points and fines from the policy's `penalties`,
attached to the responsible unit and person when a case is closed as a valid complaint, each on
the case's timeline (a `penalty` event with the points and the rule); the appeal path (the person
contests, a supervisor over the unit decides); summaries per person and unit for a period.

A complaint counts (有效投诉, 经核查属实) when it was concluded with the organisation found liable
(`liability` enterprise) — the `liable` outcome of `cases.outcomes`; a case marked invalid never
counts. Praise (表扬) closes into the policy's rewards. The job `step` follows the timeline's
closing events; an entry is unique per case, rule and key, so two workers never write it twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from huiyin.cases import grading, outcomes, workflow
from huiyin.cases.access import cases_for
from huiyin.cases.errors import BadInput, Forbidden, InvalidTransition
from huiyin.cases.models import Case, Event, Kind, State, Timer, TimerState
from huiyin.notify.services import enqueue
from huiyin.org.access import roles_over, subtree_ids, users_with_roles_over
from huiyin.org.models import Membership, Role, Unit, User
from huiyin.policies.config import PenaltySpec
from huiyin.policies.rules import matches
from huiyin.policies.services import config_for

from .follow import follow
from .models import PenaltyAppeal, PenaltyEntry, PenaltyKind, PenaltyStatus, QualityInspection

COMPLAINT_KINDS = (Kind.COMPLAINT, Kind.REPORT, Kind.EMPLOYEE_COMPLAINT)
IN_FORCE = (PenaltyStatus.ACTIVE, PenaltyStatus.APPEALED, PenaltyStatus.UPHELD)


# --- who answers for a case ---------------------------------------------------------------------


def responsible(case: Case) -> tuple[Unit, User | None, str]:
    """The unit and person a case's penalties attach to: the handling unit (or the registering
    one); the person named as 责任人 in the investigation report when that name is a user of the
    unit, else whoever submitted the unit's last result, else the unit's first responsible
    (第一责任人). Praise goes to the praised person (`respondent_person`) and unit when named."""
    unit = case.unit or case.owner_unit
    name = case.responsible_person.strip()
    if case.kind == Kind.PRAISE:
        unit = case.respondent_unit or unit
        name = case.respondent_person.strip() or name
    members = User.objects.filter(memberships__unit_id__in=subtree_ids({unit.path}), is_active=True).distinct()
    if name:
        found = members.filter(Q(username=name) | Q(display_name=name)).order_by("id").first()
        if found is not None:
            return unit, found, found.display_name or found.username
        if case.kind == Kind.PRAISE:
            return unit, None, name
    submitter = (Event.objects.filter(case=case, action="submit_result", actor__isnull=False).order_by("-id")
                 .values_list("actor_id", flat=True).first())
    if submitter is not None and members.filter(pk=submitter).exists():
        user = User.objects.get(pk=submitter)
        return unit, user, user.display_name or user.username
    head = (Membership.objects.filter(unit=unit, role=Role.FIRST_RESPONSIBLE, user__is_active=True)
            .select_related("user").order_by("id").first())
    if head is not None:
        return unit, head.user, head.user.display_name or head.user.username
    return unit, None, name


# --- which rules apply to a closed case -----------------------------------------------------------


def is_valid_complaint(case: Case) -> bool:
    """有效投诉: concluded with the organisation liable (the `liable` outcome)."""
    return Case.objects.filter(pk=case.pk).filter(outcomes.outcome_q("liable")).exists()


def applicable(case: Case, now: datetime) -> list[tuple[PenaltySpec, str]]:
    """The (rule, key) pairs of the case's policy that apply to it now: rewards to concluded
    praise, the others to a valid complaint of the rule's kinds, severities and tags, under its
    `when`; `per: late_stage` gives one key per breached stage timer."""
    if case.state != State.CLOSED:
        return []
    cfg = config_for(case.policy_id)
    specs = [s for s in cfg.penalty_specs if not s.manual]
    if not specs:
        return []
    concluded = Case.objects.filter(pk=case.pk).filter(outcomes.outcome_q("concluded")).exists()
    valid = concluded and case.kind in COMPLAINT_KINDS and is_valid_complaint(case)
    facts = None
    out: list[tuple[PenaltySpec, str]] = []
    for spec in specs:
        kinds = spec.kinds or ([Kind.PRAISE] if spec.reward else list(COMPLAINT_KINDS))
        if case.kind not in kinds:
            continue
        if spec.reward:
            if not concluded:
                continue
        elif not valid:
            continue
        if spec.severities and case.severity not in spec.severities:
            continue
        if spec.tags and not set(spec.tags) & set(case.tags):
            continue
        if spec.when is not None:
            facts = facts or grading.facts_for(case, now)
            if not matches(spec.when, facts):
                continue
        if spec.per == "late_stage":
            late = Timer.objects.filter(case=case, co_unit__isnull=True, state=TimerState.BREACHED).order_by("id")
            out += [(spec, f"timer:{t.pk}") for t in late]
        else:
            out.append((spec, ""))
    return out


def _closed_at(case: Case) -> datetime:
    at = Event.objects.filter(case=case, to_state=State.CLOSED).order_by("-id").values_list("at", flat=True).first()
    return at or case.closed_at or timezone.now()


def _event_value(entry: PenaltyEntry, **more: Any) -> dict[str, Any]:
    return {"rule": entry.rule, "kind": entry.kind, "points": str(entry.points),
            "fine": _fine_text(entry), "unit": entry.unit.code, "person": entry.person_name, **more}


def _fine_text(entry: PenaltyEntry) -> str:
    if entry.fine_min is None:
        return ""
    if entry.fine_max is not None and entry.fine_max != entry.fine_min:
        return f"{entry.fine_min}–{entry.fine_max}"
    return str(entry.fine_min)


def apply(case: Case, *, now: datetime | None = None) -> int:
    """Record the penalties the policy gives this closed case that are not recorded yet, each
    with its `penalty` event on the case's timeline; returns how many. Repeating it is a no-op."""
    now = now or timezone.now()
    todo = applicable(case, now)
    if not todo:
        return 0
    have = set(PenaltyEntry.objects.filter(case=case).values_list("rule", "key"))
    todo = [(s, k) for s, k in todo if (s.code, k) not in have]
    if not todo:
        return 0
    unit, person, person_name = responsible(case)
    at = _closed_at(case)
    written: list[PenaltyEntry] = []
    for spec, key in todo:
        try:
            with workflow.change(case, "penalty", actor=None, source="worker", at=now) as step:
                if PenaltyEntry.objects.filter(case=case, rule=spec.code, key=key).exists():
                    raise _Skip
                entry = PenaltyEntry.objects.create(
                    case=case, rule=spec.code, key=key, kind=PenaltyKind.REWARD if spec.reward else PenaltyKind.PENALTY,
                    points=spec.points, fine_min=spec.fine_min, fine_max=spec.fine_max, action=spec.action,
                    basis=spec.basis[:300], unit=unit, person=person, person_name=person_name[:100], at=at,
                )
                step.note("penalty", _event_value(entry, id=entry.pk))
                _tell_person(entry)
                written.append(entry)
        except (_Skip, IntegrityError):
            continue  # another worker wrote it first
    return len(written)


class _Skip(Exception):
    pass


def _tell_person(entry: PenaltyEntry) -> None:
    """The person (or the unit's first responsible) hears of the entry, with the way to appeal."""
    ids = {entry.person_id} if entry.person_id else users_with_roles_over([Role.FIRST_RESPONSIBLE], [entry.unit])
    if not ids:
        return
    enqueue("penalty.recorded", case_number=entry.case.number, recipients=ids,
            dedupe=f"penalty.recorded:{entry.pk}",
            context={"subject": f"{entry.rule}:{'+' if entry.kind == PenaltyKind.REWARD else '-'}{entry.points}",
                     "unit": entry.unit.name, "note": entry.basis[:200], "url": f"/reports/penalties/?case={entry.case.number}"})


def step() -> int:
    """The job: apply the policy's penalties to the cases closed since the last step."""
    return follow("penalties", Q(to_state=State.CLOSED), _apply_ids)


def _apply_ids(case_ids: Iterable[int]) -> int:
    done = 0
    now = timezone.now()
    for case in Case.objects.filter(pk__in=list(case_ids), state=State.CLOSED).select_related(
            "unit", "owner_unit", "respondent_unit").order_by("id"):
        done += apply(case, now=now)
    return done


# --- a person's entry, the appeal -----------------------------------------------------------------


def entries_for(user: User, *, unit: Unit | None = None, start: date | None = None, end: date | None = None,
                status: str = "") -> QuerySet[PenaltyEntry]:
    """The entries of the cases the user sees (the cases' own scope), newest first; narrowed to a
    unit's subtree and to the days of `at` (when the case was closed)."""
    qs = PenaltyEntry.objects.filter(case__in=cases_for(user).values("pk")).select_related(
        "case", "unit", "person").order_by("-at", "-id")
    if unit is not None:
        qs = qs.filter(unit_id__in=subtree_ids({unit.path}))
    if start:
        qs = qs.filter(at__gte=timezone.make_aware(datetime.combine(start, time.min)))
    if end:
        qs = qs.filter(at__lt=timezone.make_aware(datetime.combine(end + timedelta(days=1), time.min)))
    if status:
        qs = qs.filter(status=status)
    return qs


def entry_for(user: User, pk: int) -> PenaltyEntry | None:
    return entries_for(user).filter(pk=pk).first()


def entry_json(e: PenaltyEntry) -> dict[str, Any]:
    return {
        "id": e.pk, "case": e.case.number, "rule": e.rule, "kind": e.kind, "points": float(e.points),
        "fine_min": str(e.fine_min) if e.fine_min is not None else None,
        "fine_max": str(e.fine_max) if e.fine_max is not None else None,
        "action": e.action, "basis": e.basis, "unit": e.unit.code, "unit_name": e.unit.name,
        "person": e.person.username if e.person else None, "person_name": e.person_name,
        "at": timezone.localtime(e.at).isoformat(), "status": e.status, "manual": e.manual,
    }


def totals(entries: Iterable[PenaltyEntry]) -> dict[str, float]:
    deducted = sum((e.points for e in entries if e.status in IN_FORCE and e.kind == PenaltyKind.PENALTY), Decimal(0))
    rewarded = sum((e.points for e in entries if e.status in IN_FORCE and e.kind == PenaltyKind.REWARD), Decimal(0))
    return {"points_deducted": float(deducted), "points_rewarded": float(rewarded), "net": float(rewarded - deducted)}


def may_appeal(user: User, entry: PenaltyEntry) -> bool:
    """The person contests; an entry without a person is contested by the unit's first responsible."""
    if entry.status != PenaltyStatus.ACTIVE:
        return False
    if entry.person_id is not None:
        return entry.person_id == user.pk
    return Role.FIRST_RESPONSIBLE in roles_over(user, entry.unit)


def may_decide(user: User, entry: PenaltyEntry) -> bool:
    """A supervisor over the unit decides an appeal — never the person who made it."""
    if entry.status != PenaltyStatus.APPEALED:
        return False
    open_appeal = entry.appeals.filter(decided_at__isnull=True).first()
    return Role.SUPERVISOR in roles_over(user, entry.unit) and (open_appeal is None or open_appeal.by_id != user.pk)


def appeal(entry: PenaltyEntry, *, by: User, reason: str) -> PenaltyAppeal:
    """The person contests the entry (申诉): it waits for a supervisor's decision."""
    reason = reason.strip()
    if not reason:
        raise BadInput("Say why the entry is contested.", fields={"reason": "required"})
    if entry.status != PenaltyStatus.ACTIVE:
        raise InvalidTransition("This entry is not open to an appeal.")
    if not may_appeal(by, entry):
        raise Forbidden("Only the person concerned (or the unit's first responsible) may appeal.")
    now = timezone.now()
    with transaction.atomic():
        locked = PenaltyEntry.objects.select_for_update().get(pk=entry.pk)
        if locked.status != PenaltyStatus.ACTIVE:
            raise InvalidTransition("This entry is not open to an appeal.")
        row = PenaltyAppeal.objects.create(entry=locked, by=by, reason=reason[:2000], at=now)
        locked.status = PenaltyStatus.APPEALED
        locked.save(update_fields=["status"])
        with workflow.change(locked.case, "penalty", actor=by, source="web", comment=reason[:500]) as step:
            step.note("penalty", _event_value(locked, id=locked.pk, status=PenaltyStatus.APPEALED))
        ids = users_with_roles_over([Role.SUPERVISOR], [locked.unit]) - {by.pk}
        if ids:
            enqueue("penalty.appealed", case_number=locked.case.number, recipients=ids,
                    dedupe=f"penalty.appealed:{row.pk}",
                    context={"subject": f"{locked.rule}:-{locked.points}", "unit": locked.unit.name,
                             "actor": str(by), "note": reason[:200], "url": "/reports/penalties/?status=appealed"})
    entry.status = locked.status
    return row


def decide(entry: PenaltyEntry, *, by: User, upheld: bool, note: str = "") -> PenaltyEntry:
    """A supervisor over the unit decides the appeal: the entry stands (upheld) or is cancelled."""
    if entry.status != PenaltyStatus.APPEALED:
        raise InvalidTransition("This entry has no appeal waiting for a decision.")
    if not may_decide(by, entry):
        raise Forbidden("A supervisor over the unit (not the appellant) decides the appeal.")
    now = timezone.now()
    with transaction.atomic():
        locked = PenaltyEntry.objects.select_for_update().get(pk=entry.pk)
        pending = locked.appeals.filter(decided_at__isnull=True).first()
        if locked.status != PenaltyStatus.APPEALED or pending is None:
            raise InvalidTransition("This entry has no appeal waiting for a decision.")
        pending.decided_by, pending.decided_at, pending.upheld = by, now, upheld
        pending.decision_note = note.strip()[:2000]
        pending.save(update_fields=["decided_by", "decided_at", "upheld", "decision_note"])
        locked.status = PenaltyStatus.UPHELD if upheld else PenaltyStatus.CANCELLED
        locked.save(update_fields=["status"])
        with workflow.change(locked.case, "penalty", actor=by, source="web", comment=note[:500]) as step:
            step.note("penalty", _event_value(locked, id=locked.pk, status=locked.status))
        enqueue("penalty.appealed", case_number=locked.case.number, recipients=[pending.by_id],
                dedupe=f"penalty.decided:{pending.pk}",
                context={"subject": f"{locked.rule}: {locked.get_status_display()}", "unit": locked.unit.name,
                         "actor": str(by), "note": note[:200], "url": "/reports/penalties/"})
    return locked


def record_manual(case: Case, *, by: User, rule: str, points: Decimal | None, fine: Decimal | None,
                  note: str) -> PenaltyEntry:
    """A supervisor records a rule a person must judge (隐瞒, 打击报复 …; `manual` in the policy)."""
    cfg = config_for(case.policy_id)
    spec = next((s for s in cfg.penalty_specs if s.code == rule), None)
    if spec is None:
        raise BadInput(f"The policy has no penalty rule {rule!r}.", fields={"rule": "unknown rule"})
    if Role.SUPERVISOR not in roles_over(by, case.unit or case.owner_unit):
        raise Forbidden("A supervisor over the case's unit records penalties.")
    unit, person, person_name = responsible(case)
    try:
        with workflow.change(case, "penalty", actor=by, source="web", comment=note[:500]) as step:
            entry = PenaltyEntry.objects.create(
                case=case, rule=spec.code, key=f"manual:{timezone.now().timestamp():.0f}",
                kind=PenaltyKind.REWARD if spec.reward else PenaltyKind.PENALTY,
                points=points if points is not None else spec.points,
                fine_min=fine if fine is not None else spec.fine_min,
                fine_max=fine if fine is not None else spec.fine_max, action=spec.action, basis=spec.basis[:300],
                unit=unit, person=person, person_name=person_name[:100], at=timezone.now(), manual=True,
                recorded_by=by, note=note[:2000],
            )
            step.note("penalty", _event_value(entry, id=entry.pk))
            _tell_person(entry)
    except IntegrityError:
        raise InvalidTransition("This rule was just recorded on the case.") from None
    return entry


# --- summaries for the performance review ---------------------------------------------------------


def summary(user: User, *, unit: Unit | None, start: date, end: date) -> dict[str, Any]:
    """Per unit and per person over the period: valid complaints, points deducted and rewarded,
    fines, quality scores, and the policy's threshold alerts (e.g. 一年三次有效投诉 → 诫勉)."""
    entries = [e for e in entries_for(user, unit=unit, start=start, end=end) if e.status in IN_FORCE]
    inspections = QualityInspection.objects.filter(
        case__in=cases_for(user).values("pk"), at__gte=timezone.make_aware(datetime.combine(start, time.min)),
        at__lt=timezone.make_aware(datetime.combine(end + timedelta(days=1), time.min)))
    if unit is not None:
        inspections = inspections.filter(unit_id__in=subtree_ids({unit.path}))

    def blank() -> dict[str, Any]:
        return {"cases": set(), "deducted": Decimal(0), "rewarded": Decimal(0), "fine_min": Decimal(0),
                "fine_max": Decimal(0), "entries": 0, "scores": [], "rules": {}}

    units: dict[int, dict[str, Any]] = {}
    people: dict[tuple[int | None, str, int], dict[str, Any]] = {}
    unit_names: dict[int, Unit] = {}
    for e in entries:
        unit_names[e.unit_id] = e.unit
        for row in (units.setdefault(e.unit_id, blank()),
                    people.setdefault((e.person_id, e.person_name, e.unit_id), blank())):
            row["entries"] += 1
            if e.kind == PenaltyKind.PENALTY:
                row["cases"].add(e.case_id)
                row["deducted"] += e.points
            else:
                row["rewarded"] += e.points
            row["fine_min"] += e.fine_min or 0
            row["fine_max"] += e.fine_max or e.fine_min or 0
            row["rules"][e.rule] = row["rules"].get(e.rule, 0) + 1
    for q in inspections.select_related("unit", "person"):
        unit_names[q.unit_id] = q.unit
        units.setdefault(q.unit_id, blank())["scores"].append(float(q.score) / float(q.max_score or 1) * 100)
        if q.person_id is not None:
            name = q.person.display_name or q.person.username if q.person else ""
            people.setdefault((q.person_id, name, q.unit_id), blank())["scores"].append(
                float(q.score) / float(q.max_score or 1) * 100)

    def finish(row: dict[str, Any]) -> dict[str, Any]:
        scores = row.pop("scores")
        return {**row, "cases": len(row["cases"]), "net": row["rewarded"] - row["deducted"],
                "quality": round(sum(scores) / len(scores), 1) if scores else None, "inspections": len(scores)}

    alerts = threshold_alerts(entries)
    return {
        "units": sorted(({"unit": unit_names[uid], **finish(r)} for uid, r in units.items()),
                        key=lambda r: (r["net"], r["unit"].path)),
        "people": sorted(({"person_id": pid, "person_name": name or "—", "unit": unit_names[uid], **finish(r),
                           "alerts": alerts.get((pid, name), [])}
                          for (pid, name, uid), r in people.items()),
                         key=lambda r: (r["net"], r["person_name"])),
        "totals": totals(entries), "entries": len(entries),
    }


def threshold_alerts(entries: list[PenaltyEntry]) -> dict[tuple[int | None, str], list[str]]:
    """The policy's `threshold` rules (e.g. 每年三次有效投诉给予诫勉): a person with that many valid
    complaints within the summary's entries gets the rule's action as an alert."""
    out: dict[tuple[int | None, str], list[str]] = {}
    by_person: dict[tuple[int | None, str], set[int]] = {}
    policy_ids: set[int] = set()
    for e in entries:
        if e.kind == PenaltyKind.PENALTY:
            by_person.setdefault((e.person_id, e.person_name), set()).add(e.case_id)
            policy_ids.add(e.case.policy_id)
    for pid in policy_ids:
        for spec in config_for(pid).penalty_specs:
            if spec.threshold is None:
                continue
            for person, cases in by_person.items():
                if len(cases) >= spec.threshold:
                    out.setdefault(person, []).append(f"{spec.action or spec.code}({len(cases)}≥{spec.threshold})")
    return out


def manual_rules(case: Case) -> list[PenaltySpec]:
    return [s for s in config_for(case.policy_id).penalty_specs if s.manual and s.threshold is None]

def summary_xlsx(user: User, *, unit: Unit | None, period: Any) -> bytes:
    """The accountability summary of a period as a workbook for the performance review: per unit,
    then per person (valid complaints, points, fines, quality scores, alerts), then the entries."""
    from . import excel

    data = summary(user, unit=unit, start=period.start, end=period.end)
    stamp = datetime.combine(period.end, time(23, 59, 59))
    headers = ["类别", "单位", "责任人", "有效投诉(件)", "扣分", "加分", "净分", "罚款下限(元)", "罚款上限(元)",
               "质检平均分", "质检(件)", "提示"]
    rows: list[list[Any]] = []
    for u in data["units"]:
        rows.append(["单位", u["unit"].name, "", u["cases"], float(u["deducted"]), float(u["rewarded"]), float(u["net"]),
                     float(u["fine_min"]), float(u["fine_max"]), u["quality"], u["inspections"], ""])
    for p in data["people"]:
        rows.append(["个人", p["unit"].name, p["person_name"], p["cases"], float(p["deducted"]), float(p["rewarded"]),
                     float(p["net"]), float(p["fine_min"]), float(p["fine_max"]), p["quality"], p["inspections"],
                     ";".join(p["alerts"])])
    for e in entries_for(user, unit=unit, start=period.start, end=period.end):
        rows.append(["明细", e.unit.name, e.person_name, e.case.number, float(e.points) if e.kind == "penalty" else 0,
                     float(e.points) if e.kind == "reward" else 0, "", float(e.fine_min or 0),
                     float(e.fine_max or e.fine_min or 0), "", "", f"{e.rule} {e.get_status_display()} {e.basis}"])
    return excel.table(f"{period.label}考核汇总", headers, rows, sheet="考核汇总", stamp=stamp,
                       numeric={4, 5, 6, 7, 8, 9, 10} | {3})
