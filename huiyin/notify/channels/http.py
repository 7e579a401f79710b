"""A small HTTP client for the transports: urllib, short timeouts, errors classified.

Connection errors and timeouts are temporary `DeliveryError`s; the caller decides what an
HTTP status or a JSON error code means. Every request goes only to a public address, or one
HUIYIN_OUTBOUND_ALLOW names, checked when the name is resolved (notify.outbound); no proxy, no
redirect, and no answer's body ever goes into an error message.
"""

from __future__ import annotations

import functools
import http.client
import json
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from huiyin.notify import outbound

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
        """What an error message says about the answer: its size and type, never its content (a
        body from the target is not shown back to the administrator: issue 11)."""
        ctype = next((v for k, v in self.headers.items() if k.lower() == "content-type"), "")
        return f"({len(self.body)} bytes{', ' + ctype.split(';')[0][:50] if ctype else ''}, not shown)"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is an answer (3xx), not something to follow with our body


def _guarded(scheme: str) -> Any:
    """A connection factory that connects only to the checked addresses of the host
    (notify.outbound): each resolved address public or allowed, the socket opened to it."""

    def create_connection(address: tuple[str, int], timeout: Any = None, source_address: Any = None,
                          **kwargs: Any) -> socket.socket:
        host, port = address
        shown = f"[{host}]" if ":" in host else host
        return outbound.connect_checked(f"{scheme}://{shown}:{port}/",
                                        timeout if isinstance(timeout, (int, float)) else None)

    return create_connection


class _GuardedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _guarded("http")


class _GuardedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _guarded("https")  # the TLS name check still uses the host name


class _GuardedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_GuardedHTTPConnection, req)


class _GuardedHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_GuardedHTTPSConnection, req, context=self._context)  # type: ignore[attr-defined]


@functools.cache
def _build_opener() -> urllib.request.OpenerDirector:
    # Built once: it loads the system CA certificates (~20 ms). Always direct: a proxy from the
    # environment would connect on our behalf to addresses nobody checked.
    return urllib.request.build_opener(_NoRedirect(), urllib.request.ProxyHandler({}), _GuardedHTTPHandler(),
                                       _GuardedHTTPSHandler())


def _opener(url: str) -> urllib.request.OpenerDirector:
    return _build_opener()


def post(url: str, body: bytes, headers: dict[str, str], *, timeout_s: float | None = None) -> Response:
    """POST `body`; return the response whatever its status. Raise a temporary
    DeliveryError when no response arrives (refused, reset, timed out, DNS)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeliveryError("not an http(s) URL", permanent=True)
    try:
        outbound.check_url(url)
    except outbound.OutboundRefused as exc:
        raise DeliveryError(f"address refused: {exc}", permanent=True) from None
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
        if isinstance(exc.reason, outbound.OutboundRefused):
            # a name that resolves inside, checked again at delivery: refused (retried: DNS may change)
            raise DeliveryError(f"address refused: {exc.reason}") from None
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
