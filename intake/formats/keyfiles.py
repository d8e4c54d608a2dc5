"""Public key files: the only key material the server ever holds (keys/README.md)."""

import os
import re
from pathlib import Path

from nacl.public import PublicKey
from nacl.signing import VerifyKey

from intake.formats.durable import write_atomic

SUBMISSION_FILE = "submission.pub"
SIGNING_FILE = "signing.pub"
DEMO_FILE = "DEMO"  # written beside demo keys: the submission key it names is a demo key
_LABELS = {SUBMISSION_FILE: "intake-submission-key-v1", SIGNING_FILE: "intake-signing-key-v1"}


DEMO_BANNER = """
########################################################################################
#  DEMO KEYS. NOT FOR REAL REQUESTS.                                                    #
#  Their secret keyring and its passphrase are on this server, so anyone who gets this  #
#  machine can read every request. Make real keys on an air-gapped machine:             #
#  docs/secretariat.md, then docs/operator.md ("Install the secretariat's keys").      #
########################################################################################"""


class KeyFileError(ValueError):
    """A public key file that is missing, unreadable or malformed."""


def read_file(path: Path | str) -> bytes:
    """A key file's bytes, or KeyFileError saying why it cannot be read (unbuffered: the server
    reads its keys on every request, and Path.read_bytes took twice as long)."""
    try:
        with open(path, "rb", buffering=0) as f:
            return f.readall()
    except OSError as e:
        raise KeyFileError(f"{path}: cannot read it ({(e.strerror or str(e)).lower()})") from None


def _parse(path: Path, name: str, data: bytes) -> bytes:
    match = re.fullmatch(rb"(\S+) ([0-9a-f]{64})\n?", data)
    if not match or match[1] != _LABELS[name].encode("ascii"):
        raise KeyFileError(f"{path}: not a {_LABELS[name]} file (one line: label, space, 64 hex digits)")
    return bytes.fromhex(match[2].decode("ascii"))


def parse_submission_key(path: Path, data: bytes) -> PublicKey:
    """Parse a submission key file's bytes (`path` names it in errors)."""
    return PublicKey(_parse(path, SUBMISSION_FILE, data))


def read_submission_key(keys_dir: Path) -> PublicKey:
    """Read the X25519 key that requests are sealed to."""
    path = Path(keys_dir) / SUBMISSION_FILE
    return parse_submission_key(path, read_file(path))


def parse_signing_key(path: Path, data: bytes) -> VerifyKey:
    """Parse a signing key file's bytes (`path` names it in errors)."""
    return VerifyKey(_parse(path, SIGNING_FILE, data))


def read_signing_key(keys_dir: Path) -> VerifyKey:
    """Read the Ed25519 key that return bundles must be signed with."""
    path = Path(keys_dir) / SIGNING_FILE
    return parse_signing_key(path, read_file(path))


def write_public_keys(keys_dir: Path, submission: PublicKey, signing: VerifyKey) -> list[Path]:
    """Write both public key files, refusing to overwrite; return their paths.

    They are public, so they are written readable by everyone: an operator who copies them with
    `cp` into a service account's keys folder gets files the service can read.
    """
    keys_dir = Path(keys_dir)
    keys_dir.mkdir(parents=True, exist_ok=True)
    for name in _LABELS:
        if (keys_dir / name).exists():
            raise FileExistsError(f"{keys_dir / name} already exists")
    written = []
    for name, key in ((SUBMISSION_FILE, submission), (SIGNING_FILE, signing)):
        line = f"{_LABELS[name]} {bytes(key).hex()}\n".encode("ascii")
        write_atomic(keys_dir / name, line, mode=0o644, replace=False)
        os.chmod(keys_dir / name, 0o644)  # whatever the umask of the shell it runs in
        written.append(keys_dir / name)
    return written


def mark_demo(keys_dir: Path, submission: PublicKey) -> None:
    """Record that this submission key is a demo key, whose secret half is on this machine."""
    write_atomic(Path(keys_dir) / DEMO_FILE, bytes(submission).hex().encode("ascii") + b"\n", mode=0o644)


def is_demo(keys_dir: Path, submission: PublicKey) -> bool:
    """True while the submission key is the demo key `intake demo-keys` made."""
    try:
        marked = (Path(keys_dir) / DEMO_FILE).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return False
    return marked == bytes(submission).hex()
