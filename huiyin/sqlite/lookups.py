"""SQLite's `exact` and `in` lookups, with fixed codes written into the SQL where SQLite would
otherwise compile the statement again on every run.

A partial index (`Index(condition=...)`) is used only where the query's WHERE implies the
index's own. When a column named in such a condition is compared with a parameter
(`"active" = ?`, `"state" = ?`), SQLite can only tell by the parameter's value, so it marks the
statement to be compiled again whenever that parameter is bound — on every run, since Python's
sqlite3 binds the parameters each time. The statement cache then saves nothing: `case_for`'s
query (149 columns, every request on a case) took ~0.5 ms instead of ~0.1 ms, and a timer's
`"state" = ?` read 49 µs instead of 8 µs (round 33, docs/benchmarks.md).

So a comparison (`exact`, `in`) of such a column with one of its own fixed values — a boolean, or
a code among the field's `choices` — is written with the value itself (`"active" = 1`,
`"state" IN ('closed', 'invalid')`), as the index's condition is written in the schema. Nothing a
user typed is ever written this way: a string that is not one of the field's choices stays a
parameter, and so does every other column. PostgreSQL is untouched (it has no such rule).
Decision: docs/decisions/0010-sqlite-statements-compiled-once.md.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db.models import BooleanField, Field, Model, Q
from django.db.models.expressions import Col
from django.db.models.lookups import Exact, In


def _condition_fields(condition: Q | None) -> set[str]:
    names: set[str] = set()
    for child in (condition.children if condition is not None else ()):
        if isinstance(child, Q):
            names |= _condition_fields(child)
        elif isinstance(child, tuple):
            names.add(child[0].split("__")[0])
    return names


@cache
def partial_fields(model: type[Model]) -> frozenset[Field[Any, Any]]:
    """The fields of `model` named in the condition of one of its partial indexes or unique
    constraints."""
    names: set[str] = set()
    for index in model._meta.indexes:
        names |= _condition_fields(index.condition)
    for constraint in model._meta.constraints:
        names |= _condition_fields(getattr(constraint, "condition", None))
    fields = []
    for name in names:
        try:
            fields.append(model._meta.get_field(name))
        except FieldDoesNotExist:  # e.g. "pk": not a column this needs to know
            continue
    return frozenset(fields)  # type: ignore[arg-type]


def _literal(field: Field[Any, Any], value: Any) -> str | None:
    """`value` as SQL, if it is a boolean of a BooleanField or one of `field`'s choices; else None."""
    if isinstance(field, BooleanField):
        return ("1" if value else "0") if type(value) is bool else None
    if isinstance(value, str) and field.choices:
        code = str.__str__(value)  # a TextChoices member's own string
        # "%" would be read as a placeholder's start by what handles the SQL after us
        if "%" not in code and code in _codes(field):
            return "'" + code.replace("'", "''") + "'"
    return None


@cache
def _codes(field: Field[Any, Any]) -> frozenset[str]:
    """The values of `field`'s choices."""
    return frozenset(str(choice) for choice, _ in field.flatchoices)


def written(node: Any, sql: str, params: Any) -> tuple[str, list[Any]] | None:
    """The SQL of a compiled `exact`/`in` lookup with its values written in, when `partial_fields`
    names its column and every value is a fixed one (`_literal`); else None."""
    lhs = node.lhs
    if not isinstance(lhs, Col) or not node.rhs_is_direct_value():
        return None
    field = lhs.target
    if field not in partial_fields(field.model):
        return None
    params = list(params)
    # Exact ends in "= %s"; In in "IN (%s, …)", one placeholder a value Django kept (no None, no
    # duplicate). Anything else (a shape this does not know) is left as Django wrote it.
    many = isinstance(node, In)
    count = sql.rsplit("IN (", 1)[-1].count("%s") if many else 1
    tail = "IN (" + ", ".join(["%s"] * count) + ")" if many else "= %s"
    if not count or count > len(params) or not sql.endswith(tail):
        return None
    literals = [_literal(field, value) for value in params[-count:]]
    if None in literals:
        return None
    fixed = ", ".join(str(literal) for literal in literals)
    return sql[: -len(tail)] + (f"IN ({fixed})" if many else f"= {fixed}"), params[:-count]


def _as_sqlite(self: Any, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
    sql, params = self.as_sql(compiler, connection)
    done = written(self, sql, params)
    return done if done is not None else (sql, list(params))


# Django's hook for a backend's own SQL of an expression (`as_<vendor>`, documented under "Adding
# support in third-party database backends"): asked only for these lookups, only on SQLite. Not
# a compiler of our own: overriding `SQLCompiler.compile` cost every column of every query an extra
# call (measured up to ~8 % of compiling a case list's query, noisily).
Exact.as_sqlite = _as_sqlite  # type: ignore[attr-defined]
In.as_sqlite = _as_sqlite  # type: ignore[attr-defined]
