"""Upload handling: Django names the temporary file of a large upload after the upload's own
extension, so a file name with an extension of a few hundred characters failed with "File name
too long" (500) before any view ran. The name is shortened here; the view keeps (and limits)
the name as data."""

from __future__ import annotations

import os
from typing import Any

from django.core.files.uploadhandler import TemporaryFileUploadHandler

MAX_NAME = 200


def short_name(name: str) -> str:
    """A file name without control characters, at most MAX_NAME characters, its extension kept
    when it is short."""
    name = "".join(ch for ch in name if ch >= " " and ch != "\x7f").replace("/", "_").replace("\\", "_").strip()
    if len(name) <= MAX_NAME:
        return name or "file"
    stem, ext = os.path.splitext(name)
    if not 1 < len(ext) <= 16:
        ext = ""
    return stem[: MAX_NAME - len(ext)] + ext


class ShortNameTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    def new_file(self, field_name: str, file_name: str, *args: Any, **kwargs: Any) -> None:
        super().new_file(field_name, short_name(file_name), *args, **kwargs)
