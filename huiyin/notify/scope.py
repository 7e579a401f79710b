"""Which cases a reader may see, as notify learns it without importing cases (dependencies point
one way): the cases app registers its rule at start-up (cases.apps), and the inbox shows only the
notifications whose case the reader still sees — a case that moved to another unit is not named
to someone who now gets 404 on it (issue 11 item 2)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from huiyin.org.models import User

_visible: Callable[[User, set[str]], set[str]] | None = None


def register(rule: Callable[[User, set[str]], set[str]]) -> None:
    global _visible
    _visible = rule


def visible_numbers(user: User, numbers: Iterable[str]) -> set[str]:
    wanted = {n for n in numbers if n}
    if not wanted or _visible is None:
        return wanted
    return _visible(user, wanted)
