"""Encryption at rest (DESIGN §8, issue 11): complainants' identities, attachments and secrets.

Keys come from `HUIYIN_ENCRYPTION_KEYS` (settings.ENCRYPTION_KEYS): 32-byte keys, newest first.
The newest key seals everything written; every listed key opens what it sealed, so a key is
rotated by putting a new one first, running `huiyin keys rotate` (which re-seals every value and
file under the newest key) and then removing the old one (docs/security.md).

From each key two working keys are derived with HKDF-SHA256, so neither use weakens the other:
- an AES-256-GCM key that seals values (`seal`/`unseal`) and files (`seal_stream`/`SealedReader`),
  with the value's purpose (its table and column, e.g. "cases.case.complainant_phone") as the
  associated data: a sealed value copied into another column does not open there;
- an HMAC-SHA256 key for keyed hashes (`blind`): exact search by phone, name or ID number without
  storing them in clear. A hash under every listed key is searched, so search keeps working while a
  rotation is under way.

A sealed value is `hy1:<key id>:<base64url(nonce | ciphertext | tag)>`; the key id is the first
4 bytes of SHA-256 over the derived sealing key (never the key itself). A value that does not
start with `hy1:` is a value stored before encryption and is returned as it is.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import io
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

PREFIX = "hy1:"
FILE_MAGIC = b"HYF1"
CHUNK = 64 * 1024  # plaintext bytes per sealed chunk of a file
TAG = 16
NONCE = 12


class KeyMissing(ImproperlyConfigured):
    """A value was sealed with a key that HUIYIN_ENCRYPTION_KEYS no longer lists."""


class Tampered(ValueError):
    """A sealed value or file does not open with its key: altered, truncated or moved."""


@dataclass(frozen=True)
class Key:
    kid: str
    aead: AESGCM
    index: bytes


def _derive(raw: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"huiyin", info=info).derive(raw)


@functools.cache
def _ring(raw_keys: tuple[bytes, ...]) -> tuple[Key, ...]:
    ring = []
    for raw in raw_keys:
        sealing = _derive(raw, b"huiyin/seal/v1")
        ring.append(Key(kid=hashlib.sha256(sealing).hexdigest()[:8], aead=AESGCM(sealing),
                        index=_derive(raw, b"huiyin/search/v1")))
    return tuple(ring)


def keys() -> tuple[Key, ...]:
    raw: list[bytes] = list(getattr(settings, "ENCRYPTION_KEYS", []))
    if not raw:
        raise ImproperlyConfigured("No encryption key: set HUIYIN_ENCRYPTION_KEYS.")
    return _ring(tuple(raw))


def newest() -> Key:
    return keys()[0]


def _key(kid: str) -> Key:
    for key in keys():
        if key.kid == kid:
            return key
    raise KeyMissing(f"A value was sealed with key {kid}, which HUIYIN_ENCRYPTION_KEYS does not list.")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- values -------------------------------------------------------------------------------------


def seal(plain: str, *, purpose: str) -> str:
    """`plain` sealed under the newest key; "" stays "" (nothing to hide, and searchable as empty)."""
    if plain == "":
        return ""
    key = newest()
    nonce = os.urandom(NONCE)
    sealed = key.aead.encrypt(nonce, plain.encode(), purpose.encode())
    return f"{PREFIX}{key.kid}:{_b64(nonce + sealed)}"


def unseal(token: str, *, purpose: str) -> str:
    if not token.startswith(PREFIX):
        return token  # stored before encryption (the migration seals these; see cases 0015)
    try:
        kid, data = token[len(PREFIX):].split(":", 1)
        raw = _unb64(data)
    except ValueError:
        raise Tampered(f"Malformed sealed value for {purpose}.") from None
    key = _key(kid)
    try:
        return key.aead.decrypt(raw[:NONCE], raw[NONCE:], purpose.encode()).decode()
    except InvalidTag:
        raise Tampered(f"A sealed value of {purpose} does not open with key {kid}.") from None


def sealed_with(token: str) -> str | None:
    """The key id a value was sealed with; None for a value stored in clear (or empty)."""
    if not token.startswith(PREFIX):
        return None
    return token[len(PREFIX):].split(":", 1)[0]


def is_current(token: str) -> bool:
    """Whether the value needs no re-sealing: empty, or sealed with the newest key."""
    return token == "" or sealed_with(token) == newest().kid


# --- keyed hashes for exact search ------------------------------------------------------------------


def _hash(key: Key, value: str, purpose: str) -> str:
    return hmac.new(key.index, purpose.encode() + b"\x00" + value.encode(), hashlib.sha256).hexdigest()[:32]


def blind(value: str, *, purpose: str) -> str:
    """The keyed hash of a (normalised) value under the newest key, as stored; "" for ""."""
    return _hash(newest(), value, purpose) if value else ""


def blind_all(value: str, *, purpose: str) -> list[str]:
    """The value's keyed hash under every listed key (what a search looks for)."""
    return [_hash(k, value, purpose) for k in keys()] if value else []


# --- files ---------------------------------------------------------------------------------------
# FILE_MAGIC | key id (4 bytes) | nonce prefix (7 bytes) | chunks. Each chunk is at most CHUNK
# plaintext bytes sealed with nonce = prefix | counter (4 bytes) | last (1 byte) and the purpose
# as associated data; the last chunk is shorter than CHUNK (empty when the length is a multiple),
# so a truncated or reordered file fails to open.


def _chunk_nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    return prefix + counter.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def seal_stream(chunks: Iterable[bytes], *, purpose: str) -> Iterator[bytes]:
    """The sealed form of the byte stream `chunks`, chunk by chunk (never all in memory)."""
    key = newest()
    prefix = os.urandom(7)
    yield FILE_MAGIC + bytes.fromhex(key.kid) + prefix
    buf = b""
    counter = 0
    aad = purpose.encode()
    for piece in chunks:
        buf += piece
        while len(buf) > CHUNK:
            block, buf = buf[:CHUNK], buf[CHUNK:]
            yield key.aead.encrypt(_chunk_nonce(prefix, counter, False), block, aad)
            counter += 1
    if len(buf) == CHUNK:
        yield key.aead.encrypt(_chunk_nonce(prefix, counter, False), buf, aad)
        counter += 1
        buf = b""
    yield key.aead.encrypt(_chunk_nonce(prefix, counter, True), buf, aad)


def is_sealed_file(head: bytes) -> bool:
    return head.startswith(FILE_MAGIC)


def file_key_id(head: bytes) -> str | None:
    return head[4:8].hex() if head.startswith(FILE_MAGIC) and len(head) >= 8 else None


class SealedReader(io.RawIOBase):
    """A read-only stream of the plaintext of a sealed file (for FileResponse)."""

    def __init__(self, raw: IO[bytes], *, purpose: str):
        super().__init__()
        self._raw = raw
        header = raw.read(15)
        if len(header) != 15 or not header.startswith(FILE_MAGIC):
            raise Tampered(f"{purpose}: not a sealed file.")
        self._key = _key(header[4:8].hex())
        self._prefix = header[8:15]
        self._aad = purpose.encode()
        self._counter = 0
        self._done = False
        self._pending = b""

    def readable(self) -> bool:
        return True

    def _next(self) -> bytes:
        block = self._raw.read(CHUNK + TAG)
        last = len(block) < CHUNK + TAG
        if last:
            self._done = True
        try:
            plain = self._key.aead.decrypt(_chunk_nonce(self._prefix, self._counter, last), block, self._aad)
        except InvalidTag:
            raise Tampered("A sealed file does not open: altered or truncated.") from None
        self._counter += 1
        return plain

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending and not self._done:
            self._pending = self._next()
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


def parse_keys(text: str) -> list[bytes]:
    """HUIYIN_ENCRYPTION_KEYS: comma-separated base64 (URL-safe or standard) 32-byte keys, newest
    first — `huiyin keys generate` prints one (so does `Fernet.generate_key()`)."""
    found = []
    for i, part in enumerate(p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            raw = base64.b64decode(part.replace("-", "+").replace("_", "/") + "=" * (-len(part) % 4), validate=True)
        except ValueError:
            raise ImproperlyConfigured(f"HUIYIN_ENCRYPTION_KEYS: key {i + 1} is not base64.") from None
        if len(raw) != 32:
            raise ImproperlyConfigured(f"HUIYIN_ENCRYPTION_KEYS: key {i + 1} is {len(raw)} bytes, not 32.")
        found.append(raw)
    return found


def generate_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()
