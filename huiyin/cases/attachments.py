"""Attachments: scans of letters, faxes, photos, recordings — stored on disk, checked on the way in.

A file is accepted only when its size is within HUIYIN_ATTACHMENT_MAX_BYTES and its type,
as read from its first bytes (not from the name or the client's claim), is allowed.
Stored names are random tokens; the user's file name is kept only as data.
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from huiyin.org.models import User

from . import workflow
from .access import may_attach
from .errors import BadInput, Forbidden
from .models import Attachment, Case

# (magic prefix, content type); Office/zip formats and plain text are checked separately.
SIGNATURES: list[tuple[bytes, str]] = [
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"ID3", "audio/mpeg"),
    (b"\xff\xfb", "audio/mpeg"),
    (b"#!AMR", "audio/amr"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/msword"),
    (b"PK\x03\x04", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
]


def sniff(head: bytes) -> str | None:
    for magic, ctype in SIGNATURES:
        if head.startswith(magic):
            return ctype
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return "text/plain" if b"\x00" not in head else None


def attachment_add(case: Case, upload: UploadedFile, *, actor: User, source: str = "api") -> Attachment:
    """Store `upload` on `case`, with a timeline event. Raises BadInput for a file that is too
    large or of a type that is not allowed; nothing is stored then."""
    if not may_attach(actor, case):
        raise Forbidden("Auditors cannot add attachments.")
    size = upload.size or 0
    if size == 0:
        raise BadInput("The file is empty.", fields={"file": "empty"})
    if size > settings.ATTACHMENT_MAX_BYTES:
        raise BadInput(
            f"The file is larger than {settings.ATTACHMENT_MAX_BYTES // (1024 * 1024)} MB.", fields={"file": "too large"}
        )
    upload.seek(0)
    head = upload.read(2048)
    ctype = sniff(head)
    if ctype is None or ctype not in settings.ATTACHMENT_TYPES:
        raise BadInput("This type of file is not accepted.", fields={"file": "type not allowed"})
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    name = (upload.name or "file").replace("/", "_").replace("\\", "_")[:200]
    with workflow.change(case, "attach", actor=actor, source=source) as step:
        att = Attachment(
            case=step.case, token=secrets.token_hex(16), name=name, content_type=ctype, size=size,
            sha256=digest.hexdigest(), uploaded_by=actor,
        )
        att.file.save(att.token, upload, save=False)
        att.save()
        step.note("attachment", {"token": att.token, "name": name, "size": size, "type": ctype})
    return att
