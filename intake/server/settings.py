"""Settings: one settings file and INTAKE_* variables, parsed by one pure function, failing closed.

The service and every operator command read the same settings: the file named by
INTAKE_CONFIG (else /etc/intake/intake.env when it exists), then INTAKE_* variables from the
environment on top. docs/operator.md lists each setting.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent  # intake/
ROOT = PACKAGE.parent  # the checkout, when running from one
DEFAULT_CONFIG = Path("/etc/intake/intake.env")
_ONION = re.compile(r"\A[a-z2-7]{56}\.onion\Z")
_LINE = re.compile(r"\A(INTAKE_[A-Z_]+)=(.*)\Z")
_BIND = re.compile(r"\A(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})\Z|\Aunix:/\S+\Z")


def shipped(name: str) -> Path:
    """A folder the wheel carries inside the package (templates, translations), else the checkout's."""
    inside = PACKAGE / name
    return inside if inside.is_dir() else ROOT / name


class ConfigError(ValueError):
    """A setting that is present but unusable; the service refuses to start."""


@dataclass(frozen=True)
class Config:
    """Everything the service reads from its settings (docs/operator.md lists each one)."""

    data_dir: Path
    keys_dir: Path
    database_url: str | None
    secret_key: str | None
    onion_hostname: str | None
    emergency_contact: str | None
    csrf_hours: int
    max_body_bytes: int
    max_attachments: int
    max_attachment_bytes: int
    workers: int
    threads: int
    bind: str
    access_log: str
    error_log: str
    submissions_per_minute: int
    lookups_per_minute: int
    quota_bytes: int
    text_reserve_bytes: int
    min_free_bytes: int
    source: Path | None = None  # the settings file read, if any


# Every setting a settings file may hold; a name not listed here is a typo, and refused.
SETTINGS = (
    "INTAKE_DATA_DIR",
    "INTAKE_DATABASE_URL",
    "INTAKE_KEYS_DIR",
    "INTAKE_SECRET_KEY",
    "INTAKE_ONION_HOSTNAME",
    "INTAKE_EMERGENCY_CONTACT",
    "INTAKE_CSRF_HOURS",
    "INTAKE_MAX_BODY_BYTES",
    "INTAKE_MAX_ATTACHMENTS",
    "INTAKE_MAX_ATTACHMENT_MB",
    "INTAKE_WORKERS",
    "INTAKE_THREADS",
    "INTAKE_BIND",
    "INTAKE_ACCESS_LOG",
    "INTAKE_ERROR_LOG",
    "INTAKE_SUBMISSIONS_PER_MINUTE",
    "INTAKE_LOOKUPS_PER_MINUTE",
    "INTAKE_QUOTA_MB",
    "INTAKE_TEXT_RESERVE_MB",
    "INTAKE_MIN_FREE_MB",
)


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


def parse_file(text: str, where: str) -> dict[str, str]:
    """Read `NAME=value` lines (the subset systemd's EnvironmentFile also reads); refuse anything else."""
    values = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            raise ConfigError(f"{where}, line {number}: not a NAME=value line")
        name, value = match[1], match[2].strip()
        if name not in SETTINGS:
            raise ConfigError(f"{where}, line {number}: unknown setting {name}")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[name] = value
    return values


def _read_file(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read the settings file {path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"the settings file {path} is not UTF-8 text") from None
    return parse_file(text, str(path))


def _default_dir(environ, name: str, in_checkout: str) -> Path:
    """A folder's setting; in a checkout (make run) it defaults to one inside it."""
    if value := environ.get(name, "").strip():
        return Path(value).resolve()
    if (ROOT / "pyproject.toml").is_file():
        return (ROOT / in_checkout).resolve()
    raise ConfigError(f"{name} is not set (in the settings file, or in the environment)")


def load(environ: Mapping[str, str]) -> Config:
    """Read the settings file the environment names (or the default one), then the environment."""
    named = environ.get("INTAKE_CONFIG", "").strip()
    path = Path(named) if named else (DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None)
    values = _read_file(path) if path else {}
    return from_environ({**values, **{k: v for k, v in environ.items() if k.startswith("INTAKE_")}}, path)


def from_environ(environ: Mapping[str, str], source: Path | None = None) -> Config:
    """Build the Config from a mapping of settings; raise ConfigError if unusable."""
    onion = environ.get("INTAKE_ONION_HOSTNAME", "").strip().lower() or None
    if onion and not _ONION.match(onion):
        raise ConfigError("INTAKE_ONION_HOSTNAME must be a v3 onion hostname (56 characters + .onion)")
    secret = environ.get("INTAKE_SECRET_KEY", "") or None
    if secret is not None and len(secret) < 32:
        raise ConfigError("INTAKE_SECRET_KEY must be at least 32 characters (or unset)")
    bind = environ.get("INTAKE_BIND", "").strip() or "127.0.0.1:8080"
    if not _BIND.match(bind):
        raise ConfigError("INTAKE_BIND must be HOST:PORT (for example 127.0.0.1:8080) or unix:/PATH")
    database = environ.get("INTAKE_DATABASE_URL", "").strip() or None
    if database and not database.startswith(("postgresql://", "postgres://")):
        raise ConfigError(
            "INTAKE_DATABASE_URL must be a postgresql:// URL (or unset, for SQLite in the data folder)"
        )
    if database and not secret:
        raise ConfigError(
            "INTAKE_SECRET_KEY must be set when the database is PostgreSQL: every machine signs alike"
        )
    quota = _int(environ, "INTAKE_QUOTA_MB", 5_000, 1, 10_000_000)
    reserve = _int(environ, "INTAKE_TEXT_RESERVE_MB", max(1, quota // 10), 0, quota)
    return Config(
        data_dir=_default_dir(environ, "INTAKE_DATA_DIR", "instance/data"),
        keys_dir=_default_dir(environ, "INTAKE_KEYS_DIR", "keys"),
        database_url=database,
        secret_key=secret,
        onion_hostname=onion,
        emergency_contact=environ.get("INTAKE_EMERGENCY_CONTACT", "").strip() or None,
        csrf_hours=_int(environ, "INTAKE_CSRF_HOURS", 12, 1, 72),
        max_body_bytes=_int(environ, "INTAKE_MAX_BODY_BYTES", 512 * 1024, 128 * 1024, 64 * 2**20),
        max_attachments=_int(environ, "INTAKE_MAX_ATTACHMENTS", 5, 0, 20),
        max_attachment_bytes=_int(environ, "INTAKE_MAX_ATTACHMENT_MB", 50, 1, 200) * 1_000_000,
        workers=_int(environ, "INTAKE_WORKERS", 2, 1, 64),
        threads=_int(environ, "INTAKE_THREADS", 16, 4, 256),
        bind=bind,
        access_log=environ.get("INTAKE_ACCESS_LOG", "").strip() or "-",
        error_log=environ.get("INTAKE_ERROR_LOG", "").strip() or "-",
        submissions_per_minute=_int(environ, "INTAKE_SUBMISSIONS_PER_MINUTE", 60, 1, 100_000),
        lookups_per_minute=_int(environ, "INTAKE_LOOKUPS_PER_MINUTE", 300, 1, 1_000_000),
        quota_bytes=quota * 1_000_000,
        text_reserve_bytes=reserve * 1_000_000,
        min_free_bytes=_int(environ, "INTAKE_MIN_FREE_MB", 200, 0, 1_000_000) * 1_000_000,
        source=source,
    )
