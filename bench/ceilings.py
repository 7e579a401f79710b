"""The two ceilings of the intake benchmark: bench-only views that do less than an intake.

Both are served by the same gunicorn, WSGI module and middleware stack as POST
/api/v1/cases, and get the same request (JSON body, Authorization header), but skip the
token lookup, validation, rules, repeat and urge look-ups and the response serialiser:

- POST /bench/bare — one INSERT of the raw body into `bench_bare`, in autocommit, and a
  tiny 201. What a request through Django costs with one write.
- POST /bench/rows — in one transaction, the rows an intake writes: the day's number
  (the `cases_casesequence` upsert and increment), the case, its first (dispatch) timer,
  its `register` timeline event and one outbox message (the webhook subscribed to
  `case.created`, as the bench sets the intake database up), each with one INSERT built
  from the model's columns; values that an intake looks up (policy, owner unit, user,
  webhook) are read once per process. What the rows cost, however fast the Python
  around them gets.

They exist only in `bench.urls`; the product's URLconf never sees them.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Model
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

TABLE = "bench_bare"

DESCRIPTION = (
    "POST /bench/bare: same gunicorn, WSGI app, middleware and request as POST /api/v1/cases; "
    "the view skips auth and does one INSERT of the raw body into bench_bare (autocommit), "
    "then returns a small JSON 201"
)
ROWS_DESCRIPTION = (
    "POST /bench/rows: same server and request; no auth, no validation, no look-ups per request: "
    "one transaction writing the rows an intake writes (number sequence upsert + increment, case, "
    "dispatch timer, register event, one webhook outbox message), one INSERT each, then a small JSON 201"
)


def ensure_table() -> None:
    """Create the bench table with raw SQL if it is missing (called before gunicorn starts)."""
    from .guard import check_configured

    check_configured()
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} "
                "(id bigserial PRIMARY KEY, created_at timestamptz NOT NULL, body text NOT NULL)"
            )
        else:
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} "
                "(id integer PRIMARY KEY AUTOINCREMENT, created_at datetime NOT NULL, body text NOT NULL)"
            )


@csrf_exempt
def bare(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {TABLE} (created_at, body) VALUES (%s, %s)",
            [timezone.now(), request.body.decode("utf-8", "replace")],
        )
    return JsonResponse({"ok": True}, status=201)


# --- the same rows as an intake ---------------------------------------------------------------

_sql: dict[type[Model], str] = {}
_fixed: dict[str, Any] = {}


def _insert(cur: Any, obj: Model) -> int:
    """INSERT every concrete column of `obj` (as the ORM would prepare it) and return its id."""
    meta = obj._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    sql = _sql.get(type(obj))
    if sql is None:
        q = connection.ops.quote_name
        sql = (f"INSERT INTO {q(meta.db_table)} ({', '.join(q(f.column) for f in fields)}) "
               f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {q(meta.pk.column)}")
        _sql[type(obj)] = sql
    cur.execute(sql, [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields])
    return int(cur.fetchone()[0])


def _lookups() -> dict[str, Any]:
    """What an intake looks up per request, read once per process here."""
    if not _fixed:
        from huiyin.notify.models import Webhook
        from huiyin.org.models import Unit, User
        from huiyin.policies.services import active_policy

        policy = active_policy()
        hook = Webhook.objects.filter(active=True).order_by("pk").first()
        _fixed.update(policy=policy, owner=Unit.objects.get(code="centre"),
                      actor=User.objects.get(username="agent"), hook_id=hook.pk if hook else 0)
    return _fixed


@csrf_exempt
def rows(request: HttpRequest) -> HttpResponse:
    from huiyin.cases.models import NUMBER_PREFIX, Case, Event, Timer
    from huiyin.notify.models import Message, Transport

    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    data = json.loads(request.body)
    fixed = _lookups()
    policy, owner, actor = fixed["policy"], fixed["owner"], fixed["actor"]
    now = timezone.now()
    kind = data.get("kind", "complaint")
    prefix, day = NUMBER_PREFIX[kind], timezone.localdate(now)
    with transaction.atomic(), connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("INSERT INTO cases_casesequence (prefix, day, last) VALUES (%s, %s, 0) "
                        "ON CONFLICT (prefix, day) DO NOTHING", [prefix, day])
        else:
            cur.execute("INSERT OR IGNORE INTO cases_casesequence (prefix, day, last) VALUES (%s, %s, 0)",
                        [prefix, day])
        cur.execute("UPDATE cases_casesequence SET last = last + 1 WHERE prefix = %s AND day = %s "
                    "RETURNING last", [prefix, day])
        number = f"{prefix}{day:%Y%m%d}-{cur.fetchone()[0]:06d}"
        complainant = data.get("complainant") or {}
        case = Case(number=number, kind=kind, channel=data.get("channel", "phone"), policy_id=policy.pk,
                    subject=data.get("subject", ""), description=data.get("description", ""),
                    complainant_name=complainant.get("name", ""), complainant_phone=complainant.get("phone", ""),
                    owner_unit_id=owner.pk, registered_by_id=actor.pk, received_at=now)
        case.id = _insert(cur, case)
        _insert(cur, Timer(case_id=case.id, code="dispatch", round=1, state="running", amount=4,
                           unit="business_hours", basis="bench", started_at=now, due_at=now + timedelta(hours=4),
                           remind_at=now + timedelta(hours=3)))
        _insert(cur, Event(case_id=case.id, action="register", actor_id=actor.pk, at=now, to_state=case.state,
                           source="api", ip=request.META.get("REMOTE_ADDR"),
                           changes={"kind": [None, kind], "channel": [None, case.channel],
                                    "owner_unit": [None, owner.code],
                                    "policy": [None, f"{policy.name}@{policy.version}"]}))
        _insert(cur, Message(event="case.created", case_number=number, transport=Transport.WEBHOOK,
                             address=str(fixed["hook_id"]), delivery_id=uuid.uuid4(), created_at=now,
                             next_attempt_at=now, dedupe_key=f"case.created:{number}|webhook|{fixed['hook_id']}",
                             payload={"context": {"subject": case.subject, "kind": kind, "state": case.state,
                                                  "case_number": number, "event": "case.created"}}))
    return JsonResponse({"number": number, "state": case.state}, status=201)
