"""The cache every web worker shares (settings.CACHES["shared"]): Django's database cache, made
fit for rate-limit counters.

Django's own database cache would lose them: its `incr` reads and writes the value in two
statements (two hits counted at once count as one), and writes it back with the cache's default
timeout (5 minutes) — an address that pauses 5 minutes would start again at zero; and past
MAX_ENTRIES (300) rows every write deletes a third of the live rows, counters and challenges
included. Here `add` is one upsert that only replaces an expired row, `incr` keeps the row's
expiry and locks it, and only expired rows are ever deleted.
"""

from __future__ import annotations

import base64
import pickle
import random
from datetime import UTC, datetime
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.db import DatabaseCache
from django.db import connections, router, transaction
from django.utils import timezone

# Share of `add` calls that also delete the expired rows (the table stays the size of the live ones).
PURGE_EVERY = 200


class SharedDatabaseCache(DatabaseCache):
    def __init__(self, table: str, params: dict[str, Any]) -> None:
        super().__init__(table, params)
        self._max_entries = 2**62  # never cull by count: a live counter is never evicted

    def _cull(self, db: str, cursor: Any, now: datetime, num: int) -> None:
        self._purge(db, cursor, now)

    def _purge(self, db: str, cursor: Any, now: datetime) -> None:
        ops = connections[db].ops
        cursor.execute(f"DELETE FROM {ops.quote_name(self.cache_model_class._meta.db_table)} "  # noqa: S608  # nosec B608 (table names are ours)
                       "WHERE expires < %s", [ops.adapt_datetimefield_value(now)])

    def _encode(self, value: Any) -> str:
        return base64.b64encode(pickle.dumps(value, self.pickle_protocol)).decode("latin1")

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        made = self.make_and_validate_key(key, version=version)
        db = router.db_for_write(self.cache_model_class)
        ops = connections[db].ops
        table = ops.quote_name(self.cache_model_class._meta.db_table)
        backend_timeout = self.get_backend_timeout(timeout)
        expires = datetime.max if backend_timeout is None else datetime.fromtimestamp(backend_timeout, tz=UTC)
        now = timezone.now().replace(microsecond=0)
        with connections[db].cursor() as cursor:
            if random.randrange(PURGE_EVERY) == 0:  # housekeeping, not security
                self._purge(db, cursor, now)
            # One statement: insert, or take over the row only if it has expired.
            cursor.execute(
                f"INSERT INTO {table} (cache_key, value, expires) VALUES (%s, %s, %s) "  # noqa: S608  # nosec B608 (table names are ours)
                f"ON CONFLICT (cache_key) DO UPDATE SET value = excluded.value, expires = excluded.expires "
                f"WHERE {table}.expires < %s",
                [made, self._encode(value), ops.adapt_datetimefield_value(expires), ops.adapt_datetimefield_value(now)],
            )
            return bool(cursor.rowcount == 1)

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        made = self.make_and_validate_key(key, version=version)
        db = router.db_for_write(self.cache_model_class)
        conn = connections[db]
        table = conn.ops.quote_name(self.cache_model_class._meta.db_table)
        now = conn.ops.adapt_datetimefield_value(timezone.now().replace(microsecond=0))
        lock = " FOR UPDATE" if conn.vendor == "postgresql" else ""  # SQLite: the write lock is the database's
        with transaction.atomic(using=db), conn.cursor() as cursor:
            cursor.execute(f"SELECT value FROM {table} WHERE cache_key = %s AND expires >= %s{lock}",  # noqa: S608  # nosec B608 (table names are ours)
                           [made, now])
            row = cursor.fetchone()
            if row is None:
                raise ValueError(f"Key {key!r} not found")
            value = pickle.loads(base64.b64decode(conn.ops.process_clob(row[0]).encode()))  # noqa: S301  # nosec B301 (our own rows)
            value += delta
            # The row keeps its expiry: the counter lives as long as its window.
            cursor.execute(f"UPDATE {table} SET value = %s WHERE cache_key = %s", [self._encode(value), made])  # noqa: S608  # nosec B608 (table names are ours)
        return int(value)
