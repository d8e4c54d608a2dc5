"""Settings from INTAKE_* environment variables: parsed by one pure function, failing closed."""

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_ONION = re.compile(r"\A[a-z2-7]{56}\.onion\Z")


class ConfigError(ValueError):
    """A setting that is present but unusable; the service refuses to start."""


@dataclass(frozen=True)
class Config:
    """Everything the service reads from its environment (docs/operator.md lists each one)."""

    data_dir: Path
    keys_dir: Path
    secret_key: str | None
    onion_hostname: str | None
    emergency_contact: str | None
    csrf_hours: int
    max_body_bytes: int
    max_attachments: int
    max_attachment_bytes: int
    workers: int
    submissions_per_minute: int
    lookups_per_minute: int
    quota_bytes: int
    min_free_bytes: int

    @property
    def dropbox_dir(self) -> Path:
        """Where sealed items wait for export."""
        return self.data_dir / "dropbox"

    @property
    def staging_dir(self) -> Path:
        """Where sealed attachment streams wait while their request is still arriving."""
        return self.data_dir / "staging"

    @property
    def status_dir(self) -> Path:
        """Where status records wait, filed under lookup ids."""
        return self.data_dir / "status"


def _int(environ, name: str, default: int, low: int, high: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}")
    return value


def from_environ(environ) -> Config:
    """Build the Config from a mapping of environment variables; raise ConfigError if unusable."""
    onion = environ.get("INTAKE_ONION_HOSTNAME", "").strip().lower() or None
    if onion and not _ONION.match(onion):
        raise ConfigError("INTAKE_ONION_HOSTNAME must be a v3 onion hostname (56 characters + .onion)")
    secret = environ.get("INTAKE_SECRET_KEY", "") or None
    if secret is not None and len(secret) < 32:
        raise ConfigError("INTAKE_SECRET_KEY must be at least 32 characters (or unset)")
    return Config(
        data_dir=Path(environ.get("INTAKE_DATA_DIR") or ROOT / "instance" / "data").resolve(),
        keys_dir=Path(environ.get("INTAKE_KEYS_DIR") or ROOT / "keys").resolve(),
        secret_key=secret,
        onion_hostname=onion,
        emergency_contact=environ.get("INTAKE_EMERGENCY_CONTACT", "").strip() or None,
        csrf_hours=_int(environ, "INTAKE_CSRF_HOURS", 12, 1, 72),
        max_body_bytes=_int(environ, "INTAKE_MAX_BODY_BYTES", 512 * 1024, 128 * 1024, 64 * 2**20),
        max_attachments=_int(environ, "INTAKE_MAX_ATTACHMENTS", 5, 0, 20),
        max_attachment_bytes=_int(environ, "INTAKE_MAX_ATTACHMENT_MB", 50, 1, 200) * 1_000_000,
        workers=_int(environ, "INTAKE_WORKERS", 2, 1, 64),
        submissions_per_minute=_int(environ, "INTAKE_SUBMISSIONS_PER_MINUTE", 60, 1, 100_000),
        lookups_per_minute=_int(environ, "INTAKE_LOOKUPS_PER_MINUTE", 300, 1, 1_000_000),
        quota_bytes=_int(environ, "INTAKE_QUOTA_MB", 5_000, 1, 10_000_000) * 1_000_000,
        min_free_bytes=_int(environ, "INTAKE_MIN_FREE_MB", 200, 0, 1_000_000) * 1_000_000,
    )
