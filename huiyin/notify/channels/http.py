"""A small HTTP client for the transports: urllib, short timeouts, errors classified.

Connection errors and timeouts are temporary `DeliveryError`s; the caller decides what an
HTTP status or a JSON error code means.
"""

from __future__ import annotations

import functools
import http.client
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from . import DeliveryError

USER_AGENT = "Huiyin-Notify/1.0"


def timeout() -> float:
    return float(getattr(settings, "NOTIFY_HTTP_TIMEOUT", 5.0))


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None

    def snippet(self) -> str:
        return self.body[:300].decode("utf-8", "replace")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is an answer (3xx), not something to follow with our body


@functools.cache
def _build_opener(direct: bool) -> urllib.request.OpenerDirector:
    # Built once: each opener loads the system CA certificates (~20 ms).
    handlers: list[Any] = [_NoRedirect()]
    if direct:
        handlers.append(urllib.request.ProxyHandler({}))  # never send loopback through a proxy
    return urllib.request.build_opener(*handlers)


def _opener(url: str) -> urllib.request.OpenerDirector:
    return _build_opener((urlsplit(url).hostname or "") in ("127.0.0.1", "localhost", "::1"))


def post(url: str, body: bytes, headers: dict[str, str], *, timeout_s: float | None = None) -> Response:
    """POST `body`; return the response whatever its status. Raise a temporary
    DeliveryError when no response arrives (refused, reset, timed out, DNS)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeliveryError(f"not an http(s) URL: {url!r}", permanent=True)
    request = urllib.request.Request(url, data=body, method="POST",  # noqa: S310 (http(s) only, above)
                                     headers={"User-Agent": USER_AGENT, **headers})
    try:
        with _opener(url).open(request, timeout=timeout_s or timeout()) as resp:
            return Response(resp.status, resp.read(), dict(resp.headers.items()))
    except urllib.error.HTTPError as exc:
        try:
            data = exc.read()
        except OSError:
            data = b""
        return Response(exc.code, data, dict(exc.headers.items()) if exc.headers else {})
    except TimeoutError:
        raise DeliveryError(f"timed out after {timeout_s or timeout():g} s") from None
    except urllib.error.URLError as exc:
        raise DeliveryError(f"connection failed: {exc.reason}") from None
    except (ConnectionError, OSError, http.client.HTTPException) as exc:
        raise DeliveryError(f"connection failed: {type(exc).__name__}: {exc}") from None


def post_json(url: str, data: Any, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return post(url, body, {"Content-Type": "application/json; charset=utf-8", **(headers or {})})


def check_status(resp: Response, what: str) -> None:
    """Robots and gateways: 5xx, 408 and 429 are temporary, other non-2xx permanent."""
    if 200 <= resp.status < 300:
        return
    permanent = not (resp.status >= 500 or resp.status in (408, 429))
    raise DeliveryError(f"{what} answered HTTP {resp.status}: {resp.snippet()}", permanent=permanent)
