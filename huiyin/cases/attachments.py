"""Attachments: scans of letters, faxes, photos, recordings — stored on disk, checked on the way in.

A file is accepted only when its size is within HUIYIN_ATTACHMENT_MAX_BYTES and its type, as read
from its bytes (not from the name or the client's claim), is allowed: an Office file must be what
it says (a Word document's own parts, no macros), not any ZIP or OLE container. Stored names are
random tokens; the user's file name is kept only as data, sealed (it may name a person).

Every file is sealed on disk (org.crypto streams: AES-256-GCM in 64 KiB chunks, bound to the
attachment's token) with permissions 0600 in 0700 directories (settings.STORAGES). A report's
(举报) file added by a role that sees the reporter — the letter, the recording from the centre —
is confidential: only those roles see it (cases.access.may_see_attachment), and the timeline
records no file name for it.
"""

from __future__ import annotations

import hashlib
import io
import secrets
import tempfile
import zipfile
from typing import IO

from django.conf import settings
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile

from huiyin.org import crypto
from huiyin.org.models import User
from huiyin.org.uploads import short_name

from . import workflow
from .access import may_attach, may_see_identity
from .errors import BadInput, Forbidden
from .models import Attachment, Case, Kind

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
DOC = "application/msword"
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
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", DOC),
    (b"PK\x03\x04", DOCX),
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
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut at the end of the sample
            return None
    return "text/plain" if b"\x00" not in head else None


def is_word_document(upload: IO[bytes], ctype: str) -> bool:
    """Whether a ZIP or OLE file is really a Word document: a .docx has the Office part list and
    word/document.xml and no macro project (a .docm, a spreadsheet, an app or a ZIP of anything
    else is refused); a .doc's OLE directory names its WordDocument stream."""
    upload.seek(0)
    if ctype == DOCX:
        try:
            with zipfile.ZipFile(upload) as z:  # reads the central directory only: nothing is unpacked
                names = set(z.namelist())
        except (zipfile.BadZipFile, OSError, ValueError):
            return False
        return ("[Content_Types].xml" in names and "word/document.xml" in names
                and not any(n.lower().endswith("vbaproject.bin") for n in names))
    if ctype == DOC:
        wanted = "WordDocument".encode("utf-16-le")
        tail = b""
        for block in iter(lambda: upload.read(1024 * 1024), b""):
            if wanted in tail + block:
                return True
            tail = block[-len(wanted):]
        return False
    return True


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
    if ctype is None or ctype not in settings.ATTACHMENT_TYPES or not is_word_document(upload, ctype):
        raise BadInput("This type of file is not accepted.", fields={"file": "type not allowed"})
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    name = short_name(upload.name or "file")
    confidential = case.kind == Kind.REPORT and may_see_identity(actor, case)
    token = secrets.token_hex(16)
    with tempfile.TemporaryFile() as sealed:
        upload.seek(0)
        for piece in crypto.seal_stream(upload.chunks(), purpose=purpose(token)):
            sealed.write(piece)
        sealed.seek(0)
        with workflow.change(case, "attach", actor=actor, source=source) as step:
            att = Attachment(
                case=step.case, token=token, name=name, content_type=ctype, size=size,
                sha256=digest.hexdigest(), uploaded_by=actor, sealed=True, confidential=confidential,
            )
            att.file.save(att.token, File(sealed), save=False)
            att.save()
            note = {"token": att.token, "size": size, "type": ctype}
            if confidential:
                note["confidential"] = True
            else:
                note["name"] = name
            step.note("attachment", note)
    return att


def purpose(token: str) -> str:
    return f"cases.attachment:{token}"


def attachment_open(att: Attachment) -> IO[bytes]:
    """The attachment's bytes as a stream (opened from its seal), for a download response."""
    raw = att.file.open("rb")
    if not att.sealed:
        return raw
    return io.BufferedReader(crypto.SealedReader(raw, purpose=purpose(att.token)))


def attachment_reseal(att: Attachment) -> bool:
    """Seal the file again under the newest key (a key rotation), or for the first time (a file
    stored before files were sealed). False when it already was under the newest key."""
    with att.file.open("rb") as raw:
        head = raw.read(8)
    if att.sealed and crypto.file_key_id(head) == crypto.newest().kid:
        return False
    with attachment_open(att) as plain, tempfile.TemporaryFile() as sealed:
        for piece in crypto.seal_stream(iter(lambda: plain.read(crypto.CHUNK), b""), purpose=purpose(att.token)):
            sealed.write(piece)
        sealed.seek(0)
        old = att.file.name
        att.file.save(att.token, File(sealed), save=False)
    Attachment.objects.filter(pk=att.pk).update(file=att.file.name, sealed=True)
    if old and old != att.file.name:
        att.file.storage.delete(old)
    return True
