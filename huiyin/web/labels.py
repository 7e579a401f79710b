"""What the pages call things: English msgids (zh_Hans in huiyin/locale) for the codes the back
end stores — actions, timers, input fields. Model enums carry their own labels (TextChoices)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext

from huiyin.cases.models import (
    Channel,
    CloseReason,
    CompensationStatus,
    ExtensionStatus,
    Flag,
    InvalidReason,
    Kind,
    Liability,
    Satisfaction,
    Severity,
    State,
    TimerState,
    Validity,
)
from huiyin.org.models import Role

ACTIONS = {
    "register": _("Register"),
    "attach": _("Attach file"),
    "approve": _("Approve (批示)"),
    "reject": _("Reject"),
    "mark_invalid": _("Mark invalid"),
    "resolve_on_spot": _("Answer on the spot"),
    "dispatch": _("Dispatch"),
    "acknowledge": _("Acknowledge"),
    "return": _("Return to centre"),
    "request_extension": _("Request extension"),
    "grant_extension": _("Grant extension"),
    "refuse_extension": _("Refuse extension"),
    "suspend": _("Suspend"),
    "resume": _("Resume"),
    "record_contact": _("Record first contact"),
    "submit_result": _("Submit result"),
    "approve_plan": _("Approve plan"),
    "review": _("Review result"),
    "callback": _("Call back"),
    "close": _("Close"),
    "redispatch": _("Redispatch (round 2)"),
    "escalate": _("Escalate (round 3)"),
    "urge": _("Urge"),
    "merge": _("Merge into"),
    "link": _("Link"),
    "reopen": _("Reopen"),
    "appeal": _("Appeal"),
    "compensate": _("Record compensation"),
    "transfer_out": _("Transfer out"),
    "classify": _("Classify"),
    "co_acknowledge": _("Acknowledge (co-handling)"),
    "co_submit_result": _("Submit contribution (co-handling)"),
    "dispute_return": _("Dispute return"),
    "decide_return": _("Decide disputed return"),
    "approve_reply": _("Approve reply (答复审核)"),
    "approve_compensation": _("Approve compensation"),
    "refuse_compensation": _("Refuse compensation"),
    "breach": _("Deadline breached"),
    "rule": _("Rule applied"),
    "repeat": _("Repeat complaint"),
    "remind": _("Reminder"),
}

# Which actions are shown first and in which colour on the case page.
PRIMARY = {
    "dispatch", "approve", "acknowledge", "submit_result", "approve_plan", "review", "callback",
    "grant_extension", "approve_compensation", "approve_reply", "redispatch", "resume", "co_acknowledge", "co_submit_result", "decide_return", "close",
}
DANGER = {"reject", "mark_invalid", "return", "refuse_extension", "refuse_compensation", "escalate", "merge", "transfer_out"}
ORDER = [
    "approve", "reject", "dispatch", "resolve_on_spot", "mark_invalid", "transfer_out", "acknowledge",
    "record_contact", "submit_result", "co_acknowledge", "co_submit_result", "approve_plan", "review",
    "approve_reply", "callback", "close", "redispatch", "escalate", "grant_extension", "refuse_extension", "request_extension",
    "suspend", "resume", "return", "dispute_return", "decide_return", "compensate", "approve_compensation", "refuse_compensation", "urge", "classify",
    "merge", "link", "reopen", "appeal",
]

# What an open case waits for (`cases.selectors.waiting_for`, the API's `waiting_for`): the step,
# shown with the roles that take it (read off the workflow's table).
WAITING_STEPS = {
    "dispatch": _("dispatch"),
    "decide_return": _("a decision on the disputed return"),
    "approve": _("the leader's instruction before dispatch"),
    "acknowledge": _("acknowledgement by the unit"),
    "submit_result": _("the unit's result"),
    "resume": _("resumption (the case is suspended)"),
    "approve_plan": _("approval of the handling plan"),
    "review": _("review of the unit's result"),
    "callback": _("the callback to the customer"),
    "redispatch": _("the second dispatch or a reasoned close"),
    "escalate": _("the third dispatch or a reasoned close"),
    "close": _("sign-off and close"),
}


def waiting_text(action: str, who: tuple[str, ...] = ()) -> Any:
    """"等待二次派单或说明理由办结（派单员、督办）": the step and the roles that take it (from
    `cases.selectors.waiting_roles`); "" for a case that waits for nothing."""
    if not action:
        return ""
    step: Any = WAITING_STEPS.get(action) or ACTIONS.get(action) or action
    roles = join(label("role", r) for r in who)
    if not roles:
        return _("Waiting for %(step)s") % {"step": step}
    return _("Waiting for %(step)s (%(roles)s)") % {"step": step, "roles": roles}


TIMERS = {
    "dispatch": _("Dispatch"),
    "acknowledge": _("Acknowledgement"),
    "first_contact": _("First contact"),
    "resolve": _("Resolution"),
    "feedback": _("Review of result"),
    "callback": _("Callback"),
    "decision": _("Decision after an unsatisfied callback"),
}

TIME_UNITS = {
    "minutes": _("minutes"),
    "hours": _("hours"),
    "business_hours": _("business hours"),
    "working_days": _("working days"),
    "calendar_days": _("calendar days"),
}

FIELDS = {
    "comment": _("Comment"),
    "unit": _("Unit"),
    "co_units": _("Co-handling units"),
    "instructions": _("Instructions"),
    "reason": _("Reason"),
    "explanation": _("Explanation to the customer"),
    "reply": _("Reply to the customer"),
    "amount": _("Amount"),
    "cause": _("Cause"),
    "course": _("Course of events"),
    "responsible_person": _("Responsible person"),
    "conclusion": _("Conclusion"),
    "countermeasures": _("Countermeasures"),
    "liability": _("Liability"),
    "accept": _("Decision"),
    "satisfaction": _("Satisfaction"),
    "notes": _("Notes"),
    "note": _("Note"),
    "into": _("Merge into case number"),
    "to": _("Link to case number"),
    "form": _("Form (refund, gift, cash …)"),
    "authority": _("Competent authority"),
    "recourse": _("Recourse offered (regulator, mediation, court)"),
    "result": _("Contribution"),
    "uphold": _("Decision"),
    "category": _("Category"),
    "severity": _("Severity"),
    "case_class": _("Class"),
    "customer_class": _("Customer class"),
    "state": _("State"),
    "round": _("Round"),
    "validity": _("Validity"),
    "invalid_reason": _("Invalid reason"),
    "proposed_unit": _("Proposed unit"),
    "owner_unit": _("Registering unit"),
    "kind": _("Kind"),
    "channel": _("Channel"),
    "policy": _("Policy"),
    "supervised": _("Supervised"),
    "escalated": _("Escalated"),
    "urge_count": _("Urged"),
    "callback_attempts": _("Callback attempts"),
    "closed_at": _("Closed at"),
    "close_reason": _("Close reason"),
    "merged_into": _("Merged into"),
    "linked_to": _("Linked to"),
    "compensation_amount": _("Compensation"),
    "compensation_form": _("Compensation form"),
    "return_reason": _("Return reason"),
    "returned_by_unit": _("Returned by"),
    "suspend_reason": _("Suspend reason"),
    "contact_notes": _("Contact notes"),
    "extension": _("Extension"),
    "attachment": _("Attachment"),
    "transfer_authority": _("Authority"),
    "return_disputed": _("Return disputed"),
    "appeal": _("Appeal"),
    "file": _("File"),
    "status": _("Status"),
    "resolve_due_at": _("New resolution deadline"),
    "name": _("Name"),
    "size": _("Size"),
    "type": _("Type"),
    "co_result": _("Contribution"),
    "tags": _("Tags"),
    "rule": _("Rule"),
    "notify": _("Notified"),
    "region": _("Region"),
    "due_at": _("Deadline"),
    "timer": _("Stage"),
    "invalid_code": _("Invalid criterion"),
    "reason_code": _("Invalid criterion"),
    "compensation_status": _("Compensation approval"),
    "reply_level": _("Reply approval level"),
    "level": _("Approval level"),
    "chain": _("Approval chain"),
    "requires_approval": _("Needs the leader's instruction"),
    "proposed_co_units": _("Proposed co-handling units"),
    "co_unit": _("Co-handling unit"),
    "repeat_of": _("Repeat of"),
}

# Where an event came from (`Event.source`).
SOURCES = {
    "web": _("staff pages"),
    "api": _("API"),
    "worker": _("scheduler"),
    "rules": _("rules"),
    "portal": _("customer portal"),
    "email": _("e-mail"),
    "import": _("import"),
}

# Tags that the workflow and the presets' rules put on cases (other tags are shown as written).
TAGS = {
    "repeat": _("repeat complaint"),
    "unsatisfied": _("unsatisfied"),
    "escalated": _("escalated"),
    "risk": _("risk"),
    "group": _("group complaint"),
    "appeal": _("appeal"),
    "appeal_risk": _("appeal risk"),
    "batch_incident": _("batch incident"),
    "compensation": _("compensation"),
    "compensation_approval": _("compensation approval"),
    "conduct": _("staff conduct"),
    "emergency": _("emergency"),
    "escalation_risk": _("escalation risk"),
    "extreme_watch": _("watch: extreme action"),
    "green_channel": _("green channel"),
    "late": _("late"),
    "legal": _("legal"),
    "media": _("media"),
    "media_or_regulator": _("media or regulator"),
    "onsite": _("on site"),
    "overdue": _("overdue"),
    "public_opinion": _("public opinion"),
    "recomplaint": _("complained again"),
    "special": _("special"),
    "upgraded": _("upgraded"),
    "zero_tolerance": _("zero tolerance"),
}

# The intake form's fields (named as the form posts them).
INTAKE_FIELDS = {
    "kind": _("Kind"),
    "channel": _("Channel"),
    "subject": _("Subject"),
    "description": _("What happened"),
    "demands": _("Demands"),
    "amount": _("Amount involved (yuan)"),
    "people_count": _("People involved"),
    "flags": _("Risk flags"),
    "category": _("Category"),
    "received_at": _("Received at"),
    "occurred_at": _("Occurred at"),
    "product": _("Product / service"),
    "upstream_ref": _("Upstream reference"),
    "upstream_due_at": _("Upstream deadline"),
    "region": _("Region"),
    "complainant_name": _("Name"),
    "complainant_phone": _("Caller's phone"),
    "complainant_email": _("Email"),
    "complainant_address": _("Address"),
    "complainant_account": _("Account / contract / order no."),
    "complainant_id_number": _("ID number"),
    "complainant_customer_class": _("Customer class"),
    "complainant_anonymous": _("Anonymous"),
    "complainant": _("Complainant"),
}

# --- issue 14 (policy language): new actions, clocks and fields — one block, owned by policy14 ---
ACTIONS.update({
    "withdraw": _("Withdraw"),
    "fulfil": _("Fulfil obligation"),
    "oblige": _("Obligation started"),
})
TIMERS.update({
    "end_to_end": _("Receipt to closure"),
    "appeal": _("Appeal review"),
})
TIME_UNITS["business_minutes"] = _("business minutes")
FIELDS.update({
    "requested_at": _("Request received at"),
    "obligation": _("Obligation"),
    "obligations": _("Obligations"),
    "level": _("Approval level"),
    "chain": _("Approval chain"),
    "cycle": _("Handling cycle"),
    "reopened_at": _("Reopened at"),
    "respondent_unit": _("Complained-about unit"),
    "respondent_person": _("Complained-about person"),
    "recusal": _("Recusal"),
    "representatives": _("Representatives"),
    "approval_level": _("Approval level"),
    "awaiting": _("Awaiting"),
    "dispatched_at": _("Dispatched at"),
    "acknowledged_at": _("Acknowledged at"),
    "result_at": _("Result at"),
    "approver": _("Approver"),
    "timer": _("Deadline"),
})
# --- end of the issue 14 block ---

# Per action, a field whose meaning differs from the generic label.
ACTION_FIELD_LABELS = {
    ("review", "accept"): _("Decision"),
    ("request_extension", "amount"): _("Extra time"),
    ("request_extension", "unit"): _("Time unit"),
    ("compensate", "amount"): _("Amount (yuan)"),
    ("dispatch", "unit"): _("Lead unit"),
    ("redispatch", "unit"): _("Unit (round 2)"),
    ("escalate", "unit"): _("Unit (round 3)"),
}

BOOL_CHOICES = {
    "accept": [("true", _("Accept the result")), ("false", _("Send back to the unit"))],
    "uphold": [("true", _("Uphold the return (re-dispatch)")), ("false", _("Overrule: the unit must handle it"))],
}

CLOSE_REASONS = {value: label for value, label in CloseReason.choices if value}

# Enum value → label lookups for rendering stored codes.
CHOICES: dict[str, dict[str, Any]] = {
    "kind": dict(Kind.choices),
    "channel": dict(Channel.choices),
    "state": dict(State.choices),
    "severity": dict(Severity.choices),
    "satisfaction": dict(Satisfaction.choices),
    "liability": dict(Liability.choices),
    "validity": dict(Validity.choices),
    "flag": dict(Flag.choices),
    "timer_state": dict(TimerState.choices),
    "extension_status": dict(ExtensionStatus.choices),
    "role": dict(Role.choices),
    "time_unit": TIME_UNITS,
    "timer": TIMERS,
    "action": ACTIONS,
    "field": FIELDS,
    "close_reason": CLOSE_REASONS,
    "invalid_reason": dict(InvalidReason.choices),
    "compensation_status": {v: lab for v, lab in CompensationStatus.choices if v},
    "tag": TAGS,
    "source": SOURCES,
}

STATE_COLOURS = {
    "registered": "blue",
    "pending_approval": "purple",
    "dispatched": "cyan",
    "accepted": "azure",
    "suspended": "secondary",
    "returned": "orange",
    "plan_approval": "purple",
    "result_submitted": "teal",
    "pending_callback": "indigo",
    "closed": "green",
    "invalid": "dark",
}

SEVERITY_COLOURS = {"general": "secondary", "difficult": "orange", "major": "red"}


def label(kind: str, code: Any) -> Any:
    """The display label of a stored code, or the code itself when unknown."""
    if code is None or code == "":
        return ""
    return CHOICES.get(kind, {}).get(code, code)


# Punctuation differs between the languages (、 ， ； ： in Chinese sentences).
def join(items: Iterable[Any]) -> str:
    """"派单员、督办" / "Dispatcher, Supervisor"."""
    return pgettext("list separator", ", ").join(str(i) for i in items)


def statements(items: Iterable[Any]) -> str:
    """"原因：…；结论：…" / "Cause: …; Conclusion: …"."""
    return pgettext("statement separator", "; ").join(str(i) for i in items)


def pair(name: Any, value: Any) -> str:
    """"原因：配送延误" / "Cause: late delivery"."""
    return pgettext("label and value", "%(label)s: %(value)s") % {"label": name, "value": value}
