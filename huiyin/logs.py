"""Logging filters named by settings.LOGGING (a project module below every app; no app imports it)."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied


class RefusalWithoutTraceback(logging.Filter):
    """A refused request (403 from PermissionDenied) is logged on one line, "Forbidden (Permission
    denied): /intake/lookup", without the traceback Django attaches: a role asking for what it may
    not have is expected, not a fault of the code, and the traceback drowned the server's log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], PermissionDenied):
            record.exc_info = None
            record.exc_text = None
        return True
