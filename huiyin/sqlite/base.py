"""Django's SQLite backend, with the writers queued by the kernel instead of SQLite's busy handler.

SQLite lets one connection write at a time. A writer that finds the lock taken sleeps in the busy
handler — 1 ms, then 2, 5, 10, 15 … — and tries again; Python's sqlite3 does not let us replace the
handler. An intake holds the lock for about a millisecond, so at 8 clients part of the waiting
was the sleeping itself, with the lock already free (docs/benchmarks.md, round 25).

Here a transaction (`atomic` with `transaction_mode` IMMEDIATE, as settings.py configures) first
takes an exclusive `flock` on a file beside the database, `<database>-writers`, and lets it go when
the transaction ends. A waiting writer sleeps in the kernel and is woken the moment the one before
it commits. SQLite's own lock stays what guarantees correctness: whatever does not take the file
lock (a write in autocommit, `sqlite3` at the shell, the checkpoint) still meets the busy handler
as before, and so does a second connection of a thread that already holds the file lock (it
would otherwise wait for itself forever). A process forked inside a transaction shares the lock
with its parent (the same open file), so close the connections before forking, as Django advises.
Decision: docs/decisions/0009-sqlite-writers-queue.md.

Second, the cursor remembers how it rewrote a statement for Python's sqlite3. Django writes
parameters as `%s` and its SQLite cursor turns each statement into `?` style with a regular
expression on every execution: 74 µs for a new case's INSERT (91 columns), and about 7 % of an
intake's instructions in all. The same statements come back again and again, so the rewritten
text is kept (`_qmark`, bounded), as sqlite3 itself keeps the compiled statement.
"""

from __future__ import annotations

import fcntl
import os
import threading
from functools import lru_cache
from typing import Any

from django.db.backends.sqlite3 import base

# Fixed codes written into the SQL where a partial index would have SQLite compile the statement
# again on every run (decision 0010): installed with the backend, before any SQL is compiled.
from . import lookups  # noqa: F401

# Whether this thread holds the writers' lock through one of its connections.
_holding = threading.local()


def writers_path(database: str) -> str:
    """The file the writers of SQLite database `database` (a path) queue on."""
    return f"{database}-writers"


# A statement longer than this is rewritten each time, not kept (e.g. a query with a long IN
# list): the cache holds at most QMARK_CACHE statements of at most QMARK_LONGEST characters.
QMARK_CACHE = 512
QMARK_LONGEST = 16_384


@lru_cache(maxsize=QMARK_CACHE)
def _qmark(query: str) -> str:
    """Django's conversion of a "format"-style statement (`%s`) to sqlite3's "qmark" style."""
    return base.FORMAT_QMARK_REGEX.sub("?", query).replace("%%", "%")


class CursorWrapper(base.SQLiteCursorWrapper):
    """Django's SQLite cursor, with the rewritten statement text kept (`_qmark`)."""

    def convert_query(self, query: str, *, param_names: list[str] | None = None) -> str:
        if param_names is None and len(query) <= QMARK_LONGEST:
            return _qmark(query)
        return str(super().convert_query(query, param_names=param_names))


# django-stubs types neither `transaction_mode` nor the private methods overridden here: hence
# the `type: ignore` comments (Django 6.1's own names, checked by the tests).
class DatabaseWrapper(base.DatabaseWrapper):
    _queue_fd: int | None = None
    _queued = False

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        conn = super().get_new_connection(conn_params)
        if self.transaction_mode == "IMMEDIATE" and not self.is_in_memory_db():  # type: ignore[attr-defined]
            if self._queue_fd is not None:
                os.close(self._queue_fd)
            self._queue_fd = os.open(writers_path(self.settings_dict["NAME"]), os.O_RDWR | os.O_CREAT, 0o600)
        return conn

    def create_cursor(self, name: str | None = None) -> Any:
        return self.connection.cursor(factory=CursorWrapper)

    def _start_transaction_under_autocommit(self) -> None:
        if self._queue_fd is not None and not getattr(_holding, "yes", False):
            fcntl.flock(self._queue_fd, fcntl.LOCK_EX)
            self._queued = _holding.yes = True
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]
        except BaseException:
            self._dequeue()
            raise

    def _dequeue(self) -> None:
        if self._queued and self._queue_fd is not None:
            self._queued = _holding.yes = False
            fcntl.flock(self._queue_fd, fcntl.LOCK_UN)

    def _commit(self) -> None:
        try:
            super()._commit()  # type: ignore[misc]
        finally:
            self._dequeue()

    def _rollback(self) -> None:
        try:
            super()._rollback()  # type: ignore[misc]
        finally:
            self._dequeue()

    def _close(self) -> None:
        try:
            super()._close()  # type: ignore[misc]
        finally:
            self._dequeue()
            if self._queue_fd is not None:
                os.close(self._queue_fd)
                self._queue_fd = None
