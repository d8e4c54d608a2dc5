"""Public key files: the only key material the server ever holds (keys/README.md)."""

import re
from pathlib import Path

from nacl.public import PublicKey
from nacl.signing import VerifyKey

from .fsutil import write_atomic

SUBMISSION_FILE = "submission.pub"
SIGNING_FILE = "signing.pub"
_LABELS = {SUBMISSION_FILE: "intake-submission-key-v1", SIGNING_FILE: "intake-signing-key-v1"}


class KeyFileError(ValueError):
    """A public key file that is missing, unreadable or malformed."""


def _parse(path: Path, name: str) -> bytes:
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as e:
        raise KeyFileError(f"{path}: cannot read ({e.__class__.__name__})") from None
    match = re.fullmatch(r"(\S+) ([0-9a-f]{64})\n?", text)
    if not match or match[1] != _LABELS[name]:
        raise KeyFileError(f"{path}: not a {_LABELS[name]} file (one line: label, space, 64 hex digits)")
    return bytes.fromhex(match[2])


def read_submission_key(keys_dir: Path) -> PublicKey:
    """Read the X25519 key that requests are sealed to."""
    return PublicKey(_parse(Path(keys_dir) / SUBMISSION_FILE, SUBMISSION_FILE))


def read_signing_key(keys_dir: Path) -> VerifyKey:
    """Read the Ed25519 key that return bundles must be signed with."""
    return VerifyKey(_parse(Path(keys_dir) / SIGNING_FILE, SIGNING_FILE))


def write_public_keys(keys_dir: Path, submission: PublicKey, signing: VerifyKey) -> list[Path]:
    """Write both public key files, refusing to overwrite; return their paths."""
    keys_dir = Path(keys_dir)
    keys_dir.mkdir(parents=True, exist_ok=True)
    for name in _LABELS:
        if (keys_dir / name).exists():
            raise FileExistsError(f"{keys_dir / name} already exists")
    written = []
    for name, key in ((SUBMISSION_FILE, submission), (SIGNING_FILE, signing)):
        line = f"{_LABELS[name]} {bytes(key).hex()}\n".encode("ascii")
        write_atomic(keys_dir / name, line, mode=0o600, replace=False)
        written.append(keys_dir / name)
    return written
