"""The cache every web worker shares (settings.CACHES["shared"]): Django's database cache, with
an `incr` that two workers cannot interleave (Django's reads and writes the value in two
statements, so two hits counted at once could count as one)."""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.db import DatabaseCache
from django.db import connections, router, transaction


class SharedDatabaseCache(DatabaseCache):
    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        db = router.db_for_write(self.cache_model_class)
        table = connections[db].ops.quote_name(self.cache_model_class._meta.db_table)
        made = self.make_and_validate_key(key, version=version)
        with transaction.atomic(using=db):
            # Lock the row first (PostgreSQL; SQLite's IMMEDIATE transaction already holds the
            # database's write lock), then read and write it in the same transaction.
            if connections[db].vendor == "postgresql":
                with connections[db].cursor() as cursor:
                    cursor.execute(f"SELECT cache_key FROM {table} WHERE cache_key = %s FOR UPDATE",  # noqa: S608
                                   [made])
            return int(super().incr(key, delta, version))
