"""The secretariat's secret keyring: every key generation, encrypted under a passphrase."""

import datetime
import json
import struct
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import nacl.secret
import nacl.utils
from nacl.exceptions import CryptoError
from nacl.public import PrivateKey
from nacl.pwhash import argon2id
from nacl.signing import SigningKey

from intake.formats import envelope
from intake.formats.durable import write_atomic

MAGIC = b"INTAKE-K"
VERSION = 1
# Argon2id at libsodium's "moderate" level, passed explicitly: about 0.7 s and 256 MiB on a
# 2-core machine, paid once per command. PyNaCl's default would be the 1 GiB level.
OPSLIMIT = 3
MEMLIMIT = 256 * 2**20
MIN_PASSPHRASE = 12
_HEADER = struct.Struct(">8sBII16s")  # magic, version, opslimit, memlimit, salt


class KeyringError(ValueError):
    """A keyring that is missing, damaged, or whose passphrase is wrong."""


@dataclass(frozen=True)
class Generation:
    """One generation of secret keys: submissions are sealed to `box`, statuses signed by `sign`."""

    created: str
    box: PrivateKey
    sign: SigningKey

    @property
    def key_id(self) -> bytes:
        """The id that envelopes sealed to this generation carry."""
        return envelope.key_id(bytes(self.box.public_key))

    @classmethod
    def new(cls) -> "Generation":
        """Make fresh key pairs, dated today."""
        return cls(datetime.date.today().isoformat(), PrivateKey.generate(), SigningKey.generate())


@dataclass(frozen=True)
class Keyring:
    """All generations, oldest first; the newest is the one the server should hold."""

    generations: tuple[Generation, ...]

    @property
    def current(self) -> Generation:
        """The newest generation."""
        return self.generations[-1]

    def box_keys(self) -> dict[bytes, PrivateKey]:
        """Map each key id to its private key, so old items still open after a rotation."""
        return {g.key_id: g.box for g in self.generations}

    def add(self, generation: Generation) -> "Keyring":
        """Return a keyring with `generation` as the newest."""
        return Keyring((*self.generations, generation))


def _derive(passphrase: str, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    # NFC, so the same passphrase typed on another system's keyboard opens the same keyring.
    return argon2id.kdf(
        nacl.secret.SecretBox.KEY_SIZE,
        unicodedata.normalize("NFC", passphrase).encode("utf-8"),
        salt,
        opslimit=opslimit,
        memlimit=memlimit,
    )


# libsodium's "interactive" level (about 80 ms, 64 MiB): for keyrings that guard nothing, the
# tests' throwaway ones. The header records the level, and load() honours any within bounds.
QUICK = (argon2id.OPSLIMIT_INTERACTIVE, argon2id.MEMLIMIT_INTERACTIVE)


def save(
    path: Path,
    keyring: Keyring,
    passphrase: str,
    *,
    replace: bool = False,
    cost: tuple[int, int] = (OPSLIMIT, MEMLIMIT),
) -> None:
    """Encrypt the keyring under the passphrase and write it (mode 0600, never unencrypted)."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise KeyringError(f"a passphrase needs at least {MIN_PASSPHRASE} characters")
    plain = json.dumps(
        {
            "generations": [
                {"created": g.created, "box": bytes(g.box).hex(), "sign": bytes(g.sign).hex()}
                for g in keyring.generations
            ]
        }
    ).encode("ascii")
    salt = nacl.utils.random(argon2id.SALTBYTES)
    opslimit, memlimit = cost
    box = nacl.secret.SecretBox(_derive(passphrase, salt, opslimit, memlimit))
    header = _HEADER.pack(MAGIC, VERSION, opslimit, memlimit, salt)
    write_atomic(Path(path), header + box.encrypt(plain), mode=0o600, replace=replace)


def load(path: Path, passphrase: str) -> Keyring:
    """Read and decrypt a keyring, or raise KeyringError saying why."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise KeyringError(f"cannot read keyring {path}: {e.strerror}") from None
    if len(data) < _HEADER.size or not data.startswith(MAGIC):
        raise KeyringError(f"{path} is not an intake keyring")
    _, version, opslimit, memlimit, salt = _HEADER.unpack_from(data)
    if version != VERSION:
        raise KeyringError(f"keyring version {version} is not supported")
    # Bounds keep a damaged header from asking for absurd work or memory.
    if not (argon2id.OPSLIMIT_MIN <= opslimit <= 16 and argon2id.MEMLIMIT_MIN <= memlimit <= 2**30):
        raise KeyringError("keyring header is damaged (key derivation limits out of range)")
    box = nacl.secret.SecretBox(_derive(passphrase, salt, opslimit, memlimit))
    try:
        plain = box.decrypt(data[_HEADER.size :])
    except CryptoError:
        raise KeyringError("wrong passphrase, or the keyring is damaged") from None
    try:
        generations = tuple(
            Generation(
                g["created"], PrivateKey(bytes.fromhex(g["box"])), SigningKey(bytes.fromhex(g["sign"]))
            )
            for g in json.loads(plain)["generations"]
        )
        for g in generations:
            datetime.date.fromisoformat(g.created)
    except (ValueError, KeyError, TypeError):
        raise KeyringError("keyring contents are damaged") from None
    if not generations:
        raise KeyringError("keyring holds no keys")
    return Keyring(generations)
