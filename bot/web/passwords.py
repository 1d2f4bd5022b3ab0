"""The owner's dashboard password (an argon2 hash) and the key that signs session cookies, as files in the data folder.

Files rather than a table: `bot web set-password` works before the bot ever ran (no schema), a
database URL shared by several processes (PostgreSQL) is not a place for a machine's signing key,
and both files are readable by the owner only (mode 600), like an SSH key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.errors import BotError

PASSWORD_FILE = "web_password"
SECRET_FILE = "web_secret"
MIN_LENGTH = 8



def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text + "\n")
    os.replace(tmp, path)  # a crash mid-write never leaves half a hash


class PasswordStore:
    """The hash of the owner's password in `<data_dir>/web_password`."""

    def __init__(self, data_dir: Path, hasher: PasswordHasher | None = None) -> None:
        """hasher: how a new password is hashed (default argon2id at the library's recommended
        cost); a stored hash carries its own parameters, so any hash verifies."""
        self.path = data_dir / PASSWORD_FILE
        self._hasher = hasher or PasswordHasher()
        self._read: tuple[tuple[int, int, int], str] | None = None  # (the file's inode, size, mtime), its hash

    def is_set(self) -> bool:
        return bool(self._hash())

    def _hash(self) -> str:
        """The stored hash, read again only when the file changed (every signed-in request asks)."""
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return ""
        stamp = (info.st_ino, info.st_size, info.st_mtime_ns)
        if self._read is None or self._read[0] != stamp:
            try:
                self._read = (stamp, self.path.read_text(encoding="utf-8").strip())
            except FileNotFoundError:
                return ""
        return self._read[1]

    def set(self, password: str) -> None:
        if len(password) < MIN_LENGTH:
            raise BotError(f"the password needs at least {MIN_LENGTH} characters")
        _write_private(self.path, self._hasher.hash(password))

    def verify(self, password: str) -> bool:
        stored = self._hash()
        if not stored:
            return False
        try:
            return self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    def fingerprint(self, key: bytes) -> str:
        """Names the current password without revealing it: a session signed in under an older
        password (before `bot web set-password` again) no longer matches and is signed out."""
        return hmac.new(key, self._hash().encode(), hashlib.sha256).hexdigest()[:32]


def session_key(data_dir: Path) -> str:
    """The key that signs session cookies, made once and kept in `<data_dir>/web_secret`, so a
    restart does not sign the owner out."""
    path = data_dir / SECRET_FILE
    try:
        key = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        key = ""
    if not key:
        key = secrets.token_hex(32)
        _write_private(path, key)
    return key
