"""The submission key as the keys folder holds it now: a key changed while the service runs is
used for the next page and request, never the old one in silence."""

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

from nacl.public import PublicKey
from nacl.signing import VerifyKey

from intake.formats import envelope
from intake.formats.keyfiles import (
    SUBMISSION_FILE,
    KeyFileError,
    is_demo,
    parse_signing_key,
    parse_submission_key,
    read_file,
)


class SubmissionKey:
    """The submission key as the keys folder holds it now, read again on every use.

    A key changed while the service runs is used for the very next page and request; a key that
    becomes unreadable or malformed turns the site offline. Never the old key in silence.
    """

    def __init__(self, keys_dir: Path, report: Callable[[str], None]):
        self.keys_dir = Path(keys_dir)
        self.path = self.keys_dir / SUBMISSION_FILE
        self.report = report  # told once about every change: a new key id, or why the key is unusable
        self._data: bytes | None = None
        self._key: PublicKey | None = None
        self._problem: str | None = None
        self.demo = False

    def get(self) -> PublicKey | None:
        """The current key, or None while there is no usable one."""
        try:
            data = read_file(self.path)
            if data == self._data:
                return self._key
            key = parse_submission_key(self.path, data)
        except KeyFileError as e:
            self._data, self._key = None, None
            if str(e) != self._problem:
                self._problem = str(e)
                self.report(f"no usable submission key, so the site shows its offline page: {e}")
            return None
        self._data, self._key, self._problem = data, key, None
        self.demo = is_demo(self.keys_dir, key)
        self.report(
            f"submission key in use: key id {envelope.key_id(bytes(key)).hex()}"
            + (" (DEMO KEYS: not for real requests)" if self.demo else "")
        )
        return key


class SigningKeys:
    """The secretariat's signing keys, read again when the files change: `signing.pub`, and earlier
    ones kept as `signing-<anything>.pub` so that statuses signed before a rotation still show."""

    def __init__(self, keys_dir: Path):
        self.keys_dir = Path(keys_dir)
        self._seen: tuple[tuple[str, bytes], ...] = ()
        self._keys: list[VerifyKey] = []

    def get(self) -> list[VerifyKey]:
        """Every usable signing key in the keys folder (an unreadable one is left out)."""
        try:  # on every lookup: os.scandir, not Path.glob, which took three times as long
            with os.scandir(self.keys_dir) as entries:
                names = sorted(
                    e.name for e in entries if e.name.startswith("signing") and e.name.endswith(".pub")
                )
        except OSError:  # no keys folder: no keys
            names = []
        found = []
        for name in names:
            with contextlib.suppress(KeyFileError):
                found.append((name, read_file(os.path.join(self.keys_dir, name))))
        if tuple(found) != self._seen:
            keys = []
            for name, data in found:
                with contextlib.suppress(KeyFileError):
                    keys.append(parse_signing_key(self.keys_dir / name, data))
            self._seen, self._keys = tuple(found), keys
        return self._keys
