"""SQLite's writers queue on a file lock beside the database (huiyin/sqlite/base.py): taken when a
transaction begins, let go when it ends however it ends, and never waited for by the thread that
holds it. On PostgreSQL there is nothing to check."""

from __future__ import annotations

import fcntl
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import OperationalError, connection, connections, transaction

from huiyin.cases.models import Category
from huiyin.sqlite.base import writers_path

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's write lock only"),
]


@contextmanager
def other_fd() -> Iterator[int]:
    fd = os.open(writers_path(connection.settings_dict["NAME"]), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        yield fd
    finally:
        os.close(fd)


def queue_is_free() -> bool:
    """Could another process take the writers' lock right now?"""
    with other_fd() as fd:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True


def test_a_transaction_holds_the_writers_lock_from_its_begin_to_its_commit_or_rollback() -> None:
    assert queue_is_free()
    with transaction.atomic():
        assert not queue_is_free()
        with transaction.atomic():  # a savepoint: the lock is the outer transaction's
            Category.objects.create(code="queued", name="排队")
        assert not queue_is_free()
    assert queue_is_free()
    assert Category.objects.filter(code="queued").exists()

    with pytest.raises(ZeroDivisionError), transaction.atomic():
        Category.objects.create(code="rolled_back", name="回滚")
        assert not queue_is_free()
        _ = 1 / 0
    assert queue_is_free()
    assert not Category.objects.filter(code="rolled_back").exists()

    # A statement outside a transaction (autocommit) leaves the queue alone.
    Category.objects.filter(code="queued").update(name="排队2")
    assert queue_is_free()


def test_a_writer_in_another_thread_waits_for_the_commit_and_then_writes() -> None:
    order: list[str] = []
    started = threading.Event()

    def second_writer() -> None:
        try:
            started.set()
            with transaction.atomic():
                order.append("second began")
                Category.objects.create(code="second", name="第二")
        finally:
            connection.close()

    with transaction.atomic():
        Category.objects.create(code="first", name="第一")
        thread = threading.Thread(target=second_writer)
        thread.start()
        assert started.wait(10)
        order.append("first commits")
    thread.join(10)
    assert not thread.is_alive()
    assert order == ["first commits", "second began"]
    assert set(Category.objects.filter(code__in=["first", "second"]).values_list("code", flat=True)) == {
        "first", "second"}


def test_a_second_connection_of_the_holding_thread_meets_sqlites_busy_timeout_not_itself() -> None:
    """Were the second connection to wait on the file lock too, the thread would wait for itself
    for ever; instead it meets SQLite's own lock and its busy timeout, as without the queue."""
    settings_dict = {**connection.settings_dict, "OPTIONS": {**connection.settings_dict["OPTIONS"], "timeout": 0.05}}
    second = type(connections["default"])(settings_dict, alias="second")

    def waited_for_itself(signum: int, frame: object) -> None:
        raise TimeoutError("the thread waited for its own lock")

    previous = signal.signal(signal.SIGALRM, waited_for_itself)
    try:
        with transaction.atomic():
            Category.objects.create(code="holder", name="持有")
            signal.setitimer(signal.ITIMER_REAL, 10)
            with pytest.raises(OperationalError, match="locked"):
                second.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)
            signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        second.close()
    assert queue_is_free()


# --- the statements' text rewritten once (huiyin/sqlite/base.py `_qmark`) -------------------------


def test_a_statement_is_rewritten_for_sqlite_once_and_means_the_same() -> None:
    """Django's `%s` placeholders become sqlite3's `?` and `%%` a literal `%`, the same whether the
    statement's rewriting was kept or is done again, and a statement too long to keep still runs."""
    from huiyin.sqlite.base import QMARK_LONGEST, _qmark

    _qmark.cache_clear()
    sql = "SELECT %s || '%%', '%%s', %s"
    with connection.cursor() as cursor:
        for _ in range(3):
            cursor.execute(sql, ["a", 2])
            assert cursor.fetchone() == ("a%", "%s", 2)
    assert _qmark.cache_info().hits == 2 and _qmark.cache_info().misses == 1
    long_sql = "SELECT " + " + ".join(["%s"] * 400) + " -- " + "x" * QMARK_LONGEST
    with connection.cursor() as cursor:
        cursor.execute(long_sql, [1] * 400)
        assert cursor.fetchone() == (400,)
        cursor.execute("SELECT %(a)s || %(b)s || '%%'", {"a": "甲", "b": "%s"})  # "pyformat": Django's own
        assert cursor.fetchone() == ("甲%s%",)
        cursor.execute("CREATE TEMP TABLE qmark_probe (a TEXT, b TEXT)")
        cursor.executemany("INSERT INTO qmark_probe VALUES (%s, %s)", [("1", "%"), ("2", "%%")])
        cursor.executemany("INSERT INTO qmark_probe VALUES (%(a)s, %(b)s)", [{"a": "3", "b": "x"}])
        cursor.execute("SELECT a, b FROM qmark_probe ORDER BY a")
        assert cursor.fetchall() == [("1", "%"), ("2", "%%"), ("3", "x")]
    assert _qmark.cache_info().currsize == 2  # the first statement and the plain executemany
