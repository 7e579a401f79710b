"""The web server's access log keeps no personal data: gunicorn, started as `make run` starts it
(from the checkout, which holds gunicorn.conf.py), logs a request's path and status but not its
query string, its referrer or the client's address."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from huiyin.notify.tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
APP = '''
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
'''


def test_the_access_log_names_the_path_but_not_the_query_the_referrer_or_the_address(tmp_path: Path) -> None:
    (tmp_path / "tinyapp.py").write_text(APP)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "tinyapp:application", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--access-logfile", "-"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}/cases/?q=13912345678&name=%E6%9D%8E%E5%9B%9B"
        request = urllib.request.Request(url, headers={"Referer": "http://127.0.0.1/callcentre/pop/?phone=13800138000"})
        deadline = time.monotonic() + 20
        while True:  # until the server listens (gunicorn takes ~0.5 s to start)
            try:
                with urllib.request.urlopen(request, timeout=5) as answer:
                    assert answer.status == 200
                break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not start"
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                time.sleep(0.05)
    finally:
        server.terminate()
        log, _ = server.communicate(timeout=20)
    requests = [line for line in log.splitlines() if '"GET ' in line]
    assert len(requests) == 1, log
    assert '"GET /cases/ HTTP/1.1" 200' in requests[0]
    for private in ("13912345678", "%E6%9D%8E", "13800138000", "callcentre", "127.0.0.1 "):
        assert private not in requests[0], (private, requests[0])
