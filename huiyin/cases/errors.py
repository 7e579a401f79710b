"""Errors of the case services; the API and pages map them to status codes."""

from __future__ import annotations


class CaseError(Exception):
    status = 400
    code = "error"

    def __init__(self, message: str, *, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class InvalidTransition(CaseError):
    """The case's state (or another precondition) does not allow the action now. → 409"""

    status = 409
    code = "invalid_transition"


class Conflict(CaseError):
    """The case changed underneath the caller (stale expected_version). → 409"""

    status = 409
    code = "conflict"


class Forbidden(CaseError):
    """The caller sees the case but may not perform this action. → 403"""

    status = 403
    code = "forbidden"


class BadInput(CaseError):
    """The request's data is wrong; `fields` names the offending fields. → 422"""

    status = 422
    code = "invalid_input"


class NotFound(CaseError):
    status = 404
    code = "not_found"
