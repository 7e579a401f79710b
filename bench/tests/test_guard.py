"""The fast checks of the bench that `make test` runs: every module imports, and the bench
refuses every database it did not create itself (bench.guard), reading nothing else and
writing nothing. The bench itself runs in `make bench-smoke` and `make bench`."""

from __future__ import annotations

import importlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from bench import guard
from bench.runner import parse_args

REPO = Path(__file__).resolve().parents[2]
MODULES = ["bench", "bench.runner", "bench.child", "bench.guard", "bench.ceilings", "bench.dataset",
           "bench.listq", "bench.loadgen", "bench.pg", "bench.procs", "bench.scheduler", "bench.web",
           "bench.notify", "bench.deadlines", "bench.urls", "bench.peer", "bench.peer.runner"]


def a_real_database(path: Path) -> str:
    """A SQLite file the bench did not make, with a row in it."""
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("CREATE TABLE notify_message (id integer PRIMARY KEY, body text)")
        conn.execute("INSERT INTO notify_message (body) VALUES ('keep me')")
    conn.close()
    return f"sqlite:///{path}"


def rows_and_tables(path: Path) -> tuple[int, list[str]]:
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return conn.execute("SELECT count(*) FROM notify_message").fetchone()[0], tables
    finally:
        conn.close()


@pytest.mark.parametrize("name", MODULES)
def test_every_bench_module_imports(name: str) -> None:
    importlib.import_module(name)


def test_the_options_parse() -> None:
    args = parse_args(["--quick", "--only", "intake", "--only", "worker", "--backend", "sqlite",
                       "--worker-rate", "10"])
    assert args.quick and args.only == ["intake", "worker"] and args.backend == ["sqlite"]
    assert args.worker_rate == 10


def test_it_refuses_a_database_it_did_not_create(tmp_path: Path) -> None:
    url = a_real_database(tmp_path / "huiyin.sqlite3")
    with pytest.raises(guard.NotABenchDatabase, match="refusing to run the bench against .*did not create it"):
        guard.check_url(url, guard.new_token())
    assert rows_and_tables(tmp_path / "huiyin.sqlite3") == (1, ["notify_message"])


def test_it_refuses_a_missing_file_without_creating_it(tmp_path: Path) -> None:
    with pytest.raises(guard.NotABenchDatabase, match="does not exist"):
        guard.check_url(f"sqlite:///{tmp_path / 'nothing.sqlite3'}", guard.new_token())
    assert not (tmp_path / "nothing.sqlite3").exists()


def test_it_accepts_only_a_database_of_its_own_run(tmp_path: Path) -> None:
    token = guard.new_token()
    url = guard.create_sqlite(tmp_path / "bench.sqlite3", token)
    guard.check_url(url, token)
    with pytest.raises(guard.NotABenchDatabase, match="another bench run"):
        guard.check_url(url, guard.new_token())
    with pytest.raises(guard.NotABenchDatabase, match="HUIYIN_BENCH_TOKEN is not set"):
        guard.check_url(url, None)
    with pytest.raises(guard.NotABenchDatabase, match="exists already"):
        guard.create_sqlite(tmp_path / "bench.sqlite3", token)


@pytest.mark.configured_database
def test_it_refuses_the_database_the_tests_are_configured_with() -> None:
    """On the PostgreSQL half of `make test` this is a real server: its configured database and
    the server's own `postgres` database are refused, the password never shown."""
    url = guard.configured_url()
    urls = [url]
    if url.startswith("postgres"):
        parts = urlsplit(url)
        urls.append(urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, "")))
    for each in urls:
        with pytest.raises(guard.NotABenchDatabase, match="refusing to run the bench against") as caught:
            guard.check_url(each, guard.new_token())
        password = urlsplit(each).password
        assert not password or password not in str(caught.value)


def test_a_bench_task_refuses_huiyin_database_url(tmp_path: Path) -> None:
    """`python -m bench.child` is what `make bench` starts; pointed at a real database even the
    task that deletes rows (notify) stops before its first statement, and the database keeps its rows."""
    real = tmp_path / "huiyin.sqlite3"
    url = a_real_database(real)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUIYIN_", "DJANGO_"))}
    env.update({"HUIYIN_DATABASE_URL": url, "HUIYIN_VAR_DIR": str(tmp_path / "var"),
                guard.TOKEN_ENV: guard.new_token(), "PYTHONPATH": str(REPO)})
    out = tmp_path / "out.json"
    done = subprocess.run([sys.executable, "-m", "bench.child", "notify", str(out), json.dumps({})], env=env,
                          cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    assert "refusing to run the bench against" in done.stderr
    assert not out.exists()
    assert rows_and_tables(real) == (1, ["notify_message"])
