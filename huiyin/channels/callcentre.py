"""The call centre's screen-pop (弹屏): when a call comes in, the CTI system asks by the caller's
number and the agent sees at once who is calling — their open cases (with the step each waits
for and its deadline), their recent closed ones, and two hints: an open case of theirs means
this call is most likely an urge (催办); a case closed within the policy's repeat window means a
new complaint is a repeat (重复投诉). The intake form opens pre-filled with the number, the name
and the call's recording reference, which is stored on the new case.

One request, one indexed read of cases (the phone index, newest first, capped, only the columns
shown): under 50 ms at a million cases (`make bench`, docs/benchmarks.md).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from huiyin.cases import identity, selectors, workflow
from huiyin.cases.access import complainant_view, identity_scope, may_see_identity
from huiyin.cases.errors import BadInput
from huiyin.cases.models import FINAL_STATES, Case
from huiyin.cases.phones import is_chinese_phone, normalise_phone
from huiyin.org.models import User
from huiyin.policies.services import active_policy, config_for

OPEN_LIMIT = 10
RECENT_LIMIT = 10
SCAN_LIMIT = 60
# The columns the pop reads (its rows, the waiting step, the urge and identity rules); the long
# texts and the other sealed identities are neither fetched nor decrypted.
READ = ("id", "number", "kind", "state", "subject", "unit", "owner_unit", "policy", "received_at", "next_due_at",
        "closed_at", "satisfaction", "urge_count", "return_disputed", "awaiting", "round", "cycle",
        "complainant_name", "customer_class", "anonymous")

def _brief(case: Case, now: Any) -> dict[str, Any]:
    return {
        "number": case.number,
        "kind": case.kind,
        "state": case.state,
        "subject": case.subject,
        "unit": case.unit.name if case.unit_id and case.unit else None,
        "received_at": selectors.iso(case.received_at),
        "deadline": selectors.iso(case.next_due_at) if case.is_open else None,
        "overdue": bool(case.is_open and case.next_due_at and case.next_due_at < now),
        "waiting_for": selectors.waiting_for(case) if case.is_open else None,
        "closed_at": selectors.iso(case.closed_at),
        "satisfaction": case.satisfaction or None,
        "urge_count": case.urge_count,
    }


def screen_pop(user: User, phone: str, *, recording: str = "") -> dict[str, Any]:
    """What the agent sees when `phone` calls (the cases `user` may see, by the identity rule)."""
    if not isinstance(phone, str) or len(phone) > 32:
        raise BadInput("phone is too long.", fields={"phone": "at most 32 characters"})
    number = normalise_phone(phone)
    if sum(ch.isdigit() for ch in number) < 5:
        raise BadInput("phone must have at least 5 digits.", fields={"phone": "not a phone number"})
    if len(recording) > 200:
        raise BadInput("recording is too long.", fields={"recording": "at most 200 characters"})
    now = timezone.now()
    # One indexed read (the phone's keyed hash, newest first; identities are sealed): the open cases
    # and those of the last year. A caller with more than SCAN_LIMIT such cases sees the newest.
    # Only the cases whose complainant the user may know (`identity_scope`: a guessed number
    # confirms nothing, above all not a report). That rule is narrower than `cases_for` (its units
    # are among the user's visible ones), so it alone is the scope: one plain condition instead of
    # two, which halves the time Django takes to build the query (the pop's main cost, `make bench`).
    rows = list(Case.objects.filter(identity.matches("complainant_phone", number), identity_scope(user)).filter(
        ~Q(state__in=FINAL_STATES) | Q(received_at__gte=now - timedelta(days=365))
    ).select_related("unit", "owner_unit").only(*READ).order_by("-id")[:SCAN_LIMIT])
    open_cases = [c for c in rows if c.state not in FINAL_STATES][:OPEN_LIMIT]
    recent = [c for c in rows if c.state in FINAL_STATES][:RECENT_LIMIT]
    repeat_days = config_for(active_policy().pk).repeat_days
    since = now - timedelta(days=repeat_days)
    name, customer_class = "", ""
    for c in open_cases + recent:
        if may_see_identity(user, c):
            person = complainant_view(user, c, keys=("name",))
            name, customer_class = person["name"], person["customer_class"]
            break
    urge = next((c for c in open_cases if "urge" in workflow.possible(user, c, ("urge",))), None)
    repeat = next((c for c in recent if c.closed_at and c.closed_at >= since), None)
    prefill = {k: v for k, v in (("phone", number), ("name", name), ("recording", recording)) if v}
    return {
        "phone": number,
        "valid_phone": is_chinese_phone(phone),
        "name": name,
        "customer_class": customer_class,
        "open": [_brief(c, now) for c in open_cases],
        "recent": [_brief(c, now) for c in recent],
        "hints": {
            "urge": urge.number if urge else None,
            "repeat": repeat.number if repeat else None,
            "repeat_days": repeat_days,
        },
        "intake_url": reverse("web:intake") + "?" + urlencode(prefill),
        "recording": recording,
    }
