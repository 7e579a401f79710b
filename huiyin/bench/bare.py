"""The bench-only bare view: POST /bench/bare does exactly one INSERT and nothing else.

It is the baseline of the intake benchmark: the same gunicorn, the same WSGI module, the
same middleware stack and the same request (JSON body, Authorization header) as
POST /api/v1/cases, but no token lookup, no validation, no case number, no timer, no
event — one INSERT of the raw body into `bench_bare`, in autocommit, and a tiny 201.
It exists only in `huiyin.bench.urls`; the product's URLconf never sees it.
"""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

TABLE = "bench_bare"

DESCRIPTION = (
    "POST /bench/bare: same gunicorn, WSGI app, middleware and request as POST /api/v1/cases; "
    "the view skips auth and does one INSERT of the raw body into bench_bare (autocommit), "
    "then returns a small JSON 201"
)


def ensure_table() -> None:
    """Create the bench table with raw SQL if it is missing (called before gunicorn starts)."""
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
