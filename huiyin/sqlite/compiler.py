"""Django's SQL compilers for SQLite, with fixed codes written into the SQL where SQLite would
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
from django.db.models.sql import compiler


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
        if "%" not in code and code in {str(choice) for choice, _ in field.flatchoices}:
            return "'" + code.replace("'", "''") + "'"
    return None


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
    count = 1 if type(node) is Exact else sql.rsplit("IN (", 1)[-1].count("%s")
    tail = "= %s" if type(node) is Exact else "IN (" + ", ".join(["%s"] * count) + ")"
    if not count or count > len(params) or not sql.endswith(tail):
        return None
    literals = [_literal(field, value) for value in params[-count:]]
    if None in literals:
        return None
    fixed = ", ".join(str(literal) for literal in literals)
    return sql[: -len(tail)] + (f"= {fixed}" if type(node) is Exact else f"IN ({fixed})"), params[:-count]


class FixedCodes(compiler.SQLCompiler):
    """Every SQLite compiler of Django, with `written` applied to its `exact` and `in` lookups."""

    def compile(self, node: Any) -> Any:
        sql, params = super().compile(node)
        if type(node) is Exact or type(node) is In:
            done = written(node, sql, params)
            if done is not None:
                return done
        return sql, params


class SQLCompiler(FixedCodes):
    pass


class SQLInsertCompiler(FixedCodes, compiler.SQLInsertCompiler):
    pass


class SQLDeleteCompiler(FixedCodes, compiler.SQLDeleteCompiler):
    pass


class SQLUpdateCompiler(FixedCodes, compiler.SQLUpdateCompiler):
    pass


class SQLAggregateCompiler(FixedCodes, compiler.SQLAggregateCompiler):
    pass
