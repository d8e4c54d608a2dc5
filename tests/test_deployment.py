"""Deploying as an operator does: the wheel outside the checkout, a service account, a root shell."""

import csv
import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from .conftest import LANGS, ROOT, filled, free_port, post_form, wait_for

PASSPHRASE = "correct horse battery staple"
PAGES = ["", "individual", "organisation", "feedback", "status", "other-support"]
OFFLINE = Path(sys.executable).parent / "intake-offline"


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 (our own http URL)
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


@pytest.fixture
def keys_for_the_server(tmp_path):
    """The secretariat's keygen, as docs/secretariat.md says: its public keys, to be copied with `cp`."""
    passfile = tmp_path / "pass.txt"
    passfile.write_text(PASSPHRASE)
    subprocess.run(
        [OFFLINE, "keygen", "--out", tmp_path / "secretariat", "--passphrase-file", passfile],
        check=True,
        capture_output=True,
    )
    return {
        "dir": tmp_path / "secretariat",
        "keyring": tmp_path / "secretariat" / "secretariat.keyring",
        "pass": passfile,
    }


def test_the_wheel_serves_every_page_in_five_languages(deployment, keys_for_the_server):
    site = deployment / "site-as-root"
    (site / "keys").mkdir(parents=True)
    for key in (keys_for_the_server["dir"] / "keys").iterdir():
        shutil.copy(key, site / "keys")
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "INTAKE_DATA_DIR": str(site / "data"),
        "INTAKE_KEYS_DIR": str(site / "keys"),
        "INTAKE_BIND": f"127.0.0.1:{port}",
        "INTAKE_CONFIG": os.devnull,
    }
    proc = subprocess.Popen(
        [deployment / "venv" / "bin" / "intake", "serve"], env=env, cwd=site, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(url + "/", proc)
        status, page = fetch(url + "/")
        assert status == 200 and all(f'hreflang="{lang}"' in page for lang in LANGS)
        for lang in LANGS:
            for name in PAGES:
                status, page = fetch(f"{url}/{lang}/{name}")
                assert status == 200, (lang, name, page[:300])
                assert f'<html lang="{lang}" dir="{"rtl" if lang == "ar" else "ltr"}">' in page
            # Translated, so the compiled catalogs came with the wheel.
            home = fetch(f"{url}/{lang}/")[1]
            skip = {
                "en": "Skip to the main content",
                "es": "Saltar",
                "fr": "Aller",
                "ar": "الانتقال",
                "ru": "Перейти",
            }
            assert skip[lang] in home, lang
        for path in ("/static/style.css", "/static/seal-format.js", "/static/seal.js"):
            assert fetch(url + path)[0] == 200
        assert fetch(f"{url}/en/no-such-page")[0] == 404
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def run_as_root(deployment, settings, *args):
    """An operator's command typed in a root shell, with nothing but the settings file named."""
    env = {"PATH": "/usr/bin:/bin", "INTAKE_CONFIG": str(settings)}
    return subprocess.run(
        [deployment / "venv" / "bin" / "intake", *map(str, args)], env=env, capture_output=True, text=True
    )


def test_a_service_account_with_copied_keys_and_root_commands_answers_every_lookup(
    deployment, service_account, keys_for_the_server, tmp_path
):
    # The operator's layout (docs/operator.md): a data folder owned by the service account, keys
    # and settings owned by root, the public keys copied with `cp`, a USB stick only root can write.
    base = deployment / "site"
    for folder in ("keys", "data", "log", "usb"):
        (base / folder).mkdir(parents=True)
    for folder in ("data", "log"):
        os.chown(base / folder, service_account.pw_uid, service_account.pw_gid)
        (base / folder).chmod(0o700)
    (base / "usb").chmod(0o700)
    subprocess.run(["cp", *(keys_for_the_server["dir"] / "keys").iterdir(), base / "keys"], check=True)
    port = free_port()
    settings = base / "intake.env"
    settings.write_text(
        f"INTAKE_DATA_DIR={base / 'data'}\nINTAKE_KEYS_DIR={base / 'keys'}\nINTAKE_BIND=127.0.0.1:{port}\n"
        f"INTAKE_ERROR_LOG={base / 'log' / 'error.log'}\nINTAKE_ACCESS_LOG={base / 'log' / 'access.log'}\n"
    )
    proc = subprocess.Popen(
        [deployment / "venv" / "bin" / "intake", "serve"],
        env={"PATH": "/usr/bin:/bin", "INTAKE_CONFIG": str(settings)},
        cwd=base,
        user=service_account.pw_uid,
        group=service_account.pw_gid,
        extra_groups=[],
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(url + "/", proc)
        codes = []
        for lang, form in (("ar", "individual"), ("es", "feedback"), ("ru", "organisation")):
            status, page = post_form(url, lang, form, filled(form, "SERVICEMARK"))
            assert status == 200, page[:500]  # the service reads the copied keys
            codes.append(re.search(r'<bdi dir="ltr">([0-9A-Z-]{23})</bdi>', page).group(1))

        export = run_as_root(deployment, settings, "export", "--out", base / "usb" / "export.bin")
        assert export.returncode == 0 and "exported 3 entries" in export.stdout, export.stderr
        out = tmp_path / "requests"
        subprocess.run(
            [
                OFFLINE,
                "decrypt",
                base / "usb" / "export.bin",
                "--keyring",
                keys_for_the_server["keyring"],
                "--passphrase-file",
                keys_for_the_server["pass"],
                "--out",
                out,
            ],
            check=True,
            capture_output=True,
        )
        decide(
            out / "decisions.csv", {codes[0]: ("accepted", "Nous vous écrirons."), codes[1]: ("closed", "")}
        )
        subprocess.run(
            [
                OFFLINE,
                "reply",
                out,
                "--keyring",
                keys_for_the_server["keyring"],
                "--passphrase-file",
                keys_for_the_server["pass"],
                "--out",
                base / "usb" / "return.bin",
            ],
            check=True,
            capture_output=True,
        )
        imported = run_as_root(deployment, settings, "import", base / "usb" / "return.bin")
        assert imported.returncode == 0, imported.stderr

        for code, expected in zip(codes, ("Accepted", "Closed", None), strict=True):
            status, page = lookup(url, "en", code)
            assert status == 200, page[:300]
            if expected:
                assert f"<strong>{expected}</strong>" in page or expected in page
        assert "Nous vous écrirons." in lookup(url, "fr", codes[0])[1]
        # Nothing the root shell wrote in the data folder belongs to root.
        for path in (base / "data").rglob("*"):
            assert path.stat().st_uid == service_account.pw_uid, path

        check = run_as_root(deployment, settings, "check")
        assert check.returncode == 0 and "ready" in check.stdout.splitlines()[-1], check.stdout
        assert f"service account: {service_account.pw_name}" in check.stdout

        # A key file only root can read: `intake check` (as root) and the service's log both say why.
        (base / "keys" / "submission.pub").chmod(0o600)
        check = run_as_root(deployment, settings, "check")
        assert check.returncode == 2
        assert f"{base / 'keys' / 'submission.pub'}: cannot read it (permission denied)" in check.stdout
        assert fetch(url + "/en/")[0] == 503
        errors = (base / "log" / "error.log").read_text(encoding="utf-8")
        assert "no usable submission key" in errors and "permission denied" in errors
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def decide(path: Path, decisions: dict) -> None:
    """Fill in decisions.csv as the secretariat does."""
    with open(path, encoding="utf-8-sig", newline="") as f:  # decrypt writes a BOM, for spreadsheets
        rows = list(csv.DictReader(f))
    for row in rows:
        if row["reference"] in decisions:
            row["status"], row["message"] = decisions[row["reference"]]
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def lookup(url: str, lang: str, code: str) -> tuple[int, str]:
    return post_form(url, lang, "status", {"reference_code": code})


def test_the_shipped_unit_and_settings_file_are_valid(deployment, service_account, tmp_path):
    """deploy/intake.service as systemd reads it, and deploy/intake.env.sample as intake reads it."""
    from intake.server import settings

    if shutil.which("systemd-analyze") is None:
        pytest.fail("checking the unit needs systemd-analyze (apt-get install systemd)")
    unit = (ROOT / "deploy" / "intake.service").read_text(encoding="utf-8")
    assert "ExecStart=/opt/intake/bin/intake serve" in unit and "User=intake\n" in unit
    here = unit.replace("/opt/intake/bin/intake", str(deployment / "venv" / "bin" / "intake"))
    (tmp_path / "intake.service").write_text(
        here.replace("User=intake\n", f"User={service_account.pw_name}\n")
    )
    result = subprocess.run(
        ["systemd-analyze", "verify", tmp_path / "intake.service"], capture_output=True, text=True
    )
    assert result.returncode == 0 and "intake.service" not in result.stderr, result.stderr
    cfg = settings.load({"INTAKE_CONFIG": str(ROOT / "deploy" / "intake.env.sample")})
    assert cfg.data_dir == Path("/var/lib/intake") and cfg.keys_dir == Path("/etc/intake/keys")
