"""Real API responses checked against the published OpenAPI document (/api/v1/openapi.json).

`Document.problems(method, path, status, content_type, body)` answers what is wrong with one
response: a status the operation does not declare, a media type it does not declare, or a JSON
body its schema (JSON Schema 2020-12, as OpenAPI 3.1 uses) rejects — a key it does not describe
(the response schemas forbid additional properties), a wrong type, a missing key, a value outside
an enum, a time without its offset. The suite's plugin (huiyin/tests/plugin.py) runs it on every
API response any test receives; huiyin/api/tests/test_openapi.py drives every operation on purpose.
"""

from __future__ import annotations

import functools
import json
import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import jsonschema_rs


def _is_datetime(value: str) -> bool:
    """ISO 8601 with an offset, as the API promises (never a naive time)."""
    try:
        return datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_decimal(value: str) -> bool:
    try:
        return Decimal(value).is_finite()
    except InvalidOperation:
        return False


FORMATS = {"date-time": _is_datetime, "date": _is_date, "decimal": _is_decimal}


class Document:
    """The OpenAPI document, with validators per declared (operation, status)."""

    def __init__(self, doc: dict[str, Any]):
        self.doc = doc
        self.operations: list[tuple[str, re.Pattern[str], str, dict[str, Any]]] = []
        for template, item in doc["paths"].items():
            pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")
            for method, operation in item.items():
                self.operations.append((method.upper(), pattern, template, operation))
        # A literal path (/actions/dispatch) wins over a templated one at the same place.
        self.operations.sort(key=lambda o: o[2].count("{"))

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]] | None:
        """The documented operation `method path` is, as (path template, operation)."""
        for op_method, pattern, template, operation in self.operations:
            if op_method == method.upper() and pattern.match(path):
                return template, operation
        return None

    def validators(self, method: str, template: str, status: str) -> list[tuple[str, Any]]:
        """(name, validator) for the answer's schema; one per branch when it is an anyOf, so
        that a body matching none is explained by the branch it came closest to."""
        schema = self.doc["paths"][template][method.lower()]["responses"][status]["content"]["application/json"]
        return [(branch.get("$ref", "").rsplit("/", 1)[-1], self._validator(json.dumps(branch, sort_keys=True)))
                for branch in schema["schema"].get("anyOf", [schema["schema"]])]

    @functools.cache  # noqa: B019 — one Document per process; a validator per distinct schema
    def _validator(self, schema: str) -> Any:
        # The components beside the schema, so that "#/components/…" resolves.
        root = {"allOf": [json.loads(schema)], "components": self.doc["components"]}
        return jsonschema_rs.validator_for(root, formats=FORMATS, validate_formats=True)

    def problems(self, method: str, path: str, status: int, content_type: str, body: bytes | None) -> list[str]:
        """What is wrong with one response of the API; [] when it is as documented (or when
        `method path` is no documented operation: a 405 or an unknown path is not an answer of
        one, and the URL coverage check is about those)."""
        found = self.operation(method, path)
        if found is None:
            return []
        template, operation = found
        where = f"{method.upper()} {template} → {status}"
        declared = operation["responses"].get(str(status))
        if declared is None:
            listed = ", ".join(operation["responses"])
            return [f"{where}: the document does not declare this status (it declares {listed})"]
        media = content_type.split(";")[0].strip()
        content = declared.get("content", {})
        if media not in content:
            listed = ", ".join(content) or "none"
            return [f"{where}: answered {media or 'no content type'}, the document declares {listed}"]
        if media != "application/json" or body is None:
            return []
        try:
            data = json.loads(body)
        except ValueError:
            return [f"{where}: the body is not JSON"]
        closest: list[str] | None = None
        validators = self.validators(method, template, str(status))
        for name, validator in validators:
            label = f"as {name}, " if len(validators) > 1 else ""
            errors = [f"{where}: {label}at {_path(e.instance_path)}: {e.message[:300]}"
                      for e in validator.iter_errors(data)]
            if not errors:
                return []
            if closest is None or len(errors) < len(closest):
                closest = errors
        return sorted(closest or [])


def _path(parts: list[str | int]) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


@functools.cache
def document() -> Document:
    """The document the API publishes (the same one GET /api/v1/openapi.json answers)."""
    from huiyin.api.v1 import api

    return Document(json.loads(json.dumps(api.get_openapi_schema())))
