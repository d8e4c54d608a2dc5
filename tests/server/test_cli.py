"""The operator's `intake` command: checks, demo keys, and the translation catalogs."""

import subprocess
import sys
from pathlib import Path

from intake.formats import envelope, keyfiles
from intake.server import catalogs

from ..conftest import first_start

INTAKE = Path(sys.executable).parent / "intake"


def run(env, *args):
    return subprocess.run([INTAKE, *map(str, args)], env=env, capture_output=True, text=True)


def test_demo_keys_once_loudly_then_never_again(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "INTAKE_KEYS_DIR": str(tmp_path / "keys"),
        "INTAKE_DATA_DIR": str(tmp_path / "d"),
    }
    first = run(env, "demo-keys", "--demo-dir", tmp_path / "demo")
    assert first.returncode == 0
    assert "DEMO KEYS. NOT FOR REAL REQUESTS." in first.stderr
    assert str(tmp_path / "demo" / "secretariat.keyring") in first.stderr
    submission = keyfiles.read_submission_key(tmp_path / "keys")
    again = run(env, "demo-keys", "--demo-dir", tmp_path / "demo")
    assert again.returncode == 0 and again.stderr == ""
    assert keyfiles.read_submission_key(tmp_path / "keys") == submission
    first_start(env)
    check = run(env, "check")
    assert check.returncode == 0
    assert envelope.fingerprint(bytes(submission)) in check.stdout


def test_check_fails_closed_without_keys_and_on_bad_config(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "INTAKE_KEYS_DIR": str(tmp_path / "none"),
        "INTAKE_DATA_DIR": str(tmp_path),
    }
    first_start(env)
    result = run(env, "check")
    assert result.returncode == 2 and "NOT READY" in result.stdout
    result = run({**env, "INTAKE_ONION_HOSTNAME": "example.com"}, "check")
    assert result.returncode == 2
    assert result.stderr.startswith("intake: configuration: INTAKE_ONION_HOSTNAME")


def test_catalogs_are_complete_current_and_compile():
    assert catalogs.check() == []
