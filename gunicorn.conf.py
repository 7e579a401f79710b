"""gunicorn's settings for Huiyin. gunicorn reads ./gunicorn.conf.py from the directory it starts
in: `make run` (scripts/run), the bench (bench/runner.py) and a deployment started from the
checkout all get these; the command line can still override each one.

- The access log names the method, the path, the status, the size and the time, and leaves out
  the query string, the referrer and the client's address. A query carries what staff searched
  for and the caller's number (`/cases/?q=…`, `/callcentre/pop/?phone=…`, the screen-pop API), and
  the referrer repeats the previous page's query: none of that may reach a log (docs/security.md).
  huiyin/tests/test_access_log.py starts gunicorn with this file and reads its log.
- No control socket: nothing here uses `gunicornc`, and the default path (~/.gunicorn/gunicorn.ctl)
  is one per user, so two servers on one machine (two `make run`s, or the bench) would share it.
"""

access_log_format = '%(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms "%(a)s"'
control_socket_disable = True


def post_worker_init(worker: object) -> None:
    """Once a worker has loaded the application: the objects made so far (Django, the URLs, the
    policy, the dictionaries) live as long as the worker, so the garbage collector's full passes
    need not walk them again and again (`gc.freeze`). ~0.06 ms a request less in the intake
    (docs/benchmarks.md, round 36)."""
    import gc

    gc.freeze()
