"""Errors of the case services; the API and pages map them to status codes."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Cause(StrEnum):
    """Why a step of the complainant's was refused, as a code that stays when the message is
    reworded: the portal explains each in its own words (huiyin/portal/views.py)."""

    NOT_YET_ANSWERED = "not_yet_answered"  # rating a case still being handled
    ALREADY_RATED = "already_rated"
    CASE_CLOSED = "case_closed"  # adding information to a closed case
    REOPEN_WAITING = "reopen_waiting"  # a request to reopen is waiting for a decision
    REOPEN_NOT_ALLOWED = "reopen_not_allowed"  # open, merged, or past the policy's period


class CaseError(Exception):
    status = 400
    code = "error"

    def __init__(self, message: str, *, fields: dict[str, str] | None = None, cause: Cause | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        self.cause = cause


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
    """The request's data is wrong; `fields` names the offending fields. → 422

    `errors`: for the fields the model refused (`cases.inputs.parse`), pydantic's error of each
    (its `type`, `ctx` and `input`), so that the pages can say what kind of problem it is in the
    reader's words without validating the data again."""

    status = 422
    code = "invalid_input"

    def __init__(self, message: str, *, fields: dict[str, str] | None = None,
                 errors: dict[str, dict[str, Any]] | None = None):
        super().__init__(message, fields=fields)
        self.errors = errors or {}


class NotFound(CaseError):
    status = 404
    code = "not_found"
