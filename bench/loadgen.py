"""Load generators for the intake bench: wrk (preferred) or a built-in asyncio client.

Both keep C connections busy for D seconds against one URL with one static POST and
report completed requests, non-2xx/3xx responses, socket errors and latency percentiles.
wrk is C and costs the 2-core machine almost nothing, so the figures measure the server;
the asyncio fallback runs in one Python process and is noted as such in the results.
"""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import time
from pathlib import Path
from urllib.parse import urlsplit

from . import procs

WRK_LUA = Path(__file__).with_name("wrk.lua")



def phone(run_no: int, n: int) -> bytes:
    """A mobile number unique to the run and the request that intake's phone check accepts
    (China Mobile's 139 block: "1" + the run number would make prefixes like 110 that no
    carrier has, and intake answers 422)."""
    return f"139{run_no % 100:02d}{n % 10**6:06d}".encode()

def available() -> str:
    return "wrk" if shutil.which("wrk") else "python-asyncio"


_run_no = 9


def run(kind: str, url: str, *, clients: int, seconds: float, body: bytes, tokens: list[str],
        workdir: Path) -> dict[str, object]:
    """`body` may hold the placeholder @PHONE@: each request gets a phone number of its own
    ("1" + run number + client/thread digit + 7-digit counter), unique across the runs of
    one bench, so every intake is a new customer (no repeat/urge rules kick in)."""
    global _run_no
    _run_no = _run_no + 1 if _run_no < 99 else 10
    if kind == "wrk":
        return _run_wrk(url, clients=clients, seconds=seconds, body=body, tokens=tokens, workdir=workdir,
                        run_no=_run_no)
    return asyncio.run(_run_async(url, clients=clients, seconds=seconds, body=body, tokens=tokens,
                                  run_no=_run_no))


def _summarise(requests: int, failed: int, socket_errors: int, duration_s: float,
               lat: dict[str, float]) -> dict[str, object]:
    ok = max(0, requests - failed)
    return {
        "requests": requests,
        "ok": ok,
        "non_2xx": failed,
        "socket_errors": socket_errors,
        "duration_s": round(duration_s, 3),
        "rps": round(ok / duration_s, 1) if duration_s > 0 else 0.0,
        "p50_ms": round(lat["p50"], 2),
        "p95_ms": round(lat["p95"], 2),
        "p99_ms": round(lat["p99"], 2),
        "mean_ms": round(lat["mean"], 2),
        "max_ms": round(lat["max"], 2),
    }


def _run_wrk(url: str, *, clients: int, seconds: float, body: bytes, tokens: list[str],
             workdir: Path, run_no: int) -> dict[str, object]:
    body_file = workdir / "wrk-body.json"
    body_file.write_bytes(body)
    threads = min(2, clients)
    cmd = [
        "wrk", "-t", str(threads), "-c", str(clients), "-d", f"{max(1, round(seconds))}s",
        "--timeout", "30s", "-s", str(WRK_LUA), url, "--", str(body_file), ",".join(tokens), str(run_no),
    ]
    res = procs.run(cmd, env={"PATH": "/usr/bin:/bin"}, timeout=seconds + 60)
    line = next((ln for ln in res.stdout.splitlines() if ln.startswith("BENCHJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{res.stdout}\n{res.stderr}")
    data = json.loads(line[len("BENCHJSON "):])
    e = data["errors"]
    lat = {k: v / 1000.0 for k, v in data["latency_us"].items()}
    out = _summarise(data["requests"], e["status"], e["connect"] + e["read"] + e["write"] + e["timeout"],
                     data["duration_us"] / 1e6, lat)
    out["client"] = f"wrk -t{threads} -c{clients}"
    out["socket_error_detail"] = {k: v for k, v in e.items() if k != "status" and v}
    return out


def _pct(sorted_ms: list[float], p: float) -> float:
    if not sorted_ms:
        return 0.0
    return sorted_ms[max(0, math.ceil(p / 100 * len(sorted_ms)) - 1)]


async def _run_async(url: str, *, clients: int, seconds: float, body: bytes,
                     tokens: list[str], run_no: int) -> dict[str, object]:
    parts = urlsplit(url)
    host, port, path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path or "/"
    latencies: list[float] = []
    counters = {"requests": 0, "failed": 0, "socket": 0}
    start = time.perf_counter()
    end = start + seconds

    seq = iter(range(1, 10**8))  # one process: a shared counter makes every phone unique

    def request_bytes(i: int) -> bytes:
        data = body.replace(b"@PHONE@", phone(run_no, next(seq)))
        head = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Content-Type: application/json",
                f"Content-Length: {len(data)}"]
        if tokens:
            head.append(f"Authorization: Bearer {tokens[i % len(tokens)]}")
        return ("\r\n".join(head) + "\r\n\r\n").encode() + data

    async def client(i: int) -> None:
        reader = writer = None
        while time.perf_counter() < end:
            req = request_bytes(i)
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, port)
                t0 = time.perf_counter()
                writer.write(req)
                await writer.drain()
                status_line = await reader.readline()  # type: ignore[union-attr]
                if not status_line:
                    raise ConnectionError("closed")
                status = int(status_line.split()[1])
                length, close = 0, False
                while (line := await reader.readline()) not in (b"\r\n", b""):  # type: ignore[union-attr]
                    name, _, value = line.decode("latin-1").partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                    elif name.lower() == "connection" and value.strip().lower() == "close":
                        close = True
                await reader.readexactly(length)  # type: ignore[union-attr]
                latencies.append((time.perf_counter() - t0) * 1000)
                counters["requests"] += 1
                if status >= 400:
                    counters["failed"] += 1
                if close:
                    writer.close()
                    reader = writer = None
            except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError, IndexError):
                counters["socket"] += 1
                if writer is not None:
                    writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    await asyncio.gather(*(client(i) for i in range(clients)))
    duration = time.perf_counter() - start
    latencies.sort()
    lat = {
        "p50": _pct(latencies, 50), "p95": _pct(latencies, 95), "p99": _pct(latencies, 99),
        "mean": sum(latencies) / len(latencies) if latencies else 0.0,
        "max": latencies[-1] if latencies else 0.0,
    }
    out = _summarise(counters["requests"], counters["failed"], counters["socket"], duration, lat)
    out["client"] = f"python-asyncio c={clients}"
    return out


def paced(url: str, *, rate: float, seconds: float, body: bytes, tokens: list[str]) -> dict[str, object]:
    """An open-loop load: `rate` requests per second for `seconds`, each on its own connection
    (gunicorn's sync workers close every connection anyway). A request's latency is counted
    from the moment it was due to start, not from when it was sent, so a stalled server
    shows in the percentiles instead of slowing the client down (no coordinated omission).
    Costs the machine little at the rates used (tens per second)."""
    global _run_no
    _run_no = _run_no + 1 if _run_no < 99 else 10
    return asyncio.run(_paced(url, rate=rate, seconds=seconds, body=body, tokens=tokens, run_no=_run_no))


async def _one(host: str, port: int, data: bytes) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(data)
        await writer.drain()
        status_line = await reader.readline()
        if not status_line:
            raise ConnectionError("closed")
        status = int(status_line.split()[1])
        length = None
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        if length is None:
            await reader.read()
        else:
            await reader.readexactly(length)
        return status
    finally:
        writer.close()


async def _paced(url: str, *, rate: float, seconds: float, body: bytes, tokens: list[str],
                 run_no: int) -> dict[str, object]:
    parts = urlsplit(url)
    host, port, path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path or "/"
    latencies: list[float] = []
    counters = {"requests": 0, "failed": 0, "socket": 0, "late_starts": 0}
    total = max(1, round(rate * seconds))
    limit = asyncio.Semaphore(256)

    async def request(i: int, due: float) -> None:
        data = body.replace(b"@PHONE@", phone(run_no, i))
        head = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Content-Type: application/json",
                f"Content-Length: {len(data)}", "Connection: close"]
        if tokens:
            head.append(f"Authorization: Bearer {tokens[i % len(tokens)]}")
        raw = ("\r\n".join(head) + "\r\n\r\n").encode() + data
        async with limit:
            try:
                status = await _one(host, port, raw)
                latencies.append((time.perf_counter() - due) * 1000)
                counters["requests"] += 1
                if status >= 400:
                    counters["failed"] += 1
            except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError, IndexError):
                counters["socket"] += 1

    start = time.perf_counter()
    tasks = []
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.05:
            counters["late_starts"] += 1
        tasks.append(asyncio.create_task(request(i, due)))
    await asyncio.gather(*tasks)
    duration = time.perf_counter() - start
    latencies.sort()
    lat = {
        "p50": _pct(latencies, 50), "p95": _pct(latencies, 95), "p99": _pct(latencies, 99),
        "mean": sum(latencies) / len(latencies) if latencies else 0.0,
        "max": latencies[-1] if latencies else 0.0,
    }
    out = _summarise(counters["requests"], counters["failed"], counters["socket"], duration, lat)
    out["client"] = f"python-asyncio open loop, {rate:g} req/s"
    out["rate"] = rate
    out["late_starts"] = counters["late_starts"]
    return out
