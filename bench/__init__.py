"""`make bench` — the benchmark harness of Huiyin (issue 2, item 8). Not a test.

`python -m bench [--quick] [--only intake|list|deadline|memory|notify]` measures:

1. intake throughput and p50/p95 latency at 1, 8 and 32 concurrent clients against
   gunicorn with 2 sync workers, on SQLite and PostgreSQL (each a fresh database), in the
   same run as a bare Django view that does one INSERT (`bench.wsgi`), and the
   ratio intake/bare;
2. list and filter latency (p50/p95, server time in-process) with 1,000,000 cases
   bulk-loaded with SQL, with EXPLAIN output for every query;
3. deadline computations per second (`bench.deadlines.run()`);
4. resident memory of each gunicorn worker after the intake runs and of `huiyin worker`;
5. `bench.notify.run()` when that module exists.

PostgreSQL: HUIYIN_BENCH_POSTGRES_URL (any database on a server where the user may
CREATE DATABASE; the bench creates and drops its own huiyin_bench_* databases), else a
throw-away server from scripts/pg-start, stopped at the end; skipped with a note when the
PostgreSQL binaries are missing. Load generator: wrk (Debian package `wrk`) if installed,
else a built-in asyncio client (noted in the results). Figures on a shared 2-core
machine are noisy; the load average is recorded with them.

The driver (`runner`) never configures Django itself: every measurement that needs the
app runs in a child process (`python -m bench.child TASK`) whose environment
points at the database under test, so each phase sees exactly the settings a deployment
would. Results: a table on stdout, JSON in var/bench/<timestamp>.json and
var/bench/latest.json. Everything started (servers, PostgreSQL, temp dirs) is stopped
and removed on exit, Ctrl-C or error — by pid, never by name.
"""
