"""Deploying as an operator does: the wheel outside the checkout, a service account, a root shell."""

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from ..actors import Defender, Secretariat
from ..conftest import LANGS, free_port, wait_for
from .test_two_nodes import haproxy

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
    defender = Defender(url=url)
    try:
        wait_for(url + "/", proc)
        codes = []
        for lang, form in (("ar", "individual"), ("es", "feedback"), ("ru", "organisation")):
            codes.append(defender.submit(lang, form, "SERVICEMARK"))  # the service reads the copied keys

        export = run_as_root(deployment, settings, "export", "--out", base / "usb" / "export.bin")
        assert export.returncode == 0 and "exported 3 entries" in export.stdout, export.stderr
        secretariat = Secretariat.existing(keys_for_the_server["keyring"], keys_for_the_server["pass"])
        out = secretariat.decrypt(base / "usb" / "export.bin", tmp_path / "requests")
        secretariat.decide(out, {codes[0]: ("accepted", "Nous vous écrirons."), codes[1]: ("closed", "")})
        secretariat.reply(out, base / "usb" / "return.bin")
        imported = run_as_root(deployment, settings, "import", base / "usb" / "return.bin")
        assert imported.returncode == 0, imported.stderr

        for code, expected in zip(codes, ("Accepted", "Closed", None), strict=True):
            answer = defender.look_up("en", code)
            status, page = answer.status_code, answer.text
            assert status == 200, page[:300]
            if expected:
                assert f"<strong>{expected}</strong>" in page or expected in page
        assert "Nous vous écrirons." in defender.look_up("fr", codes[0]).text
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


def proxy_answer(url: str, data: bytes | None = None) -> tuple[int, Any, str]:
    """A page HAProxy itself gives: (status, headers, page); it fails if a node's page came."""
    try:
        urllib.request.urlopen(url, data=data, timeout=60)  # noqa: S310 (our own http URL)
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode("utf-8")  # names as HAProxy writes them: lowercase
    pytest.fail("a node answered")


def says_in_every_language(page: str, titles: dict[str, str]) -> None:
    """Each language's section, with its direction, under its own title; nothing to load."""
    for lang, words in titles.items():
        direction = "rtl" if lang == "ar" else "ltr"
        assert re.search(f'<section lang="{lang}" dir="{direction}">\\s*<h1>{words}</h1>', page), lang
    assert "<link" not in page and "<script" not in page and "<img" not in page


def test_with_no_node_to_answer_the_proxy_says_offline_in_every_language(tmp_path):
    """Every node stopped: HAProxy answers with the site's offline page in the five languages (its
    own page is in English), with the site's headers and nothing to load from a node."""
    with haproxy(tmp_path, f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}") as front:
        for path in ("/", "/ar/status"):
            status, headers, page = proxy_answer(front + path)
            assert status == 503 and headers["Cache-Control"] == "no-store"
            assert headers["Content-Security-Policy"].startswith("default-src 'none'")
            says_in_every_language(
                page,
                {
                    "en": "The site is offline",
                    "es": "El sitio no está disponible",
                    "fr": "Le site est hors ligne",
                    "ar": "الموقع متوقف عن العمل",
                    "ru": "Сайт недоступен",
                },
            )


def test_when_a_node_gives_no_answer_the_proxy_does_not_say_nothing_was_stored(tmp_path):
    """A node that took the request and died before answering may have stored it: the proxy says
    so (502), in the five languages, rather than the offline page's "Nothing was stored"."""
    listener = socket.create_server(("127.0.0.1", 0))

    def node():  # passes HAProxy's health check, then dies on every request it is given
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                head = conn.recv(65536)
                if head.startswith(b"GET / "):
                    conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")

    threading.Thread(target=node, daemon=True).start()
    try:
        with haproxy(tmp_path, f"http://127.0.0.1:{listener.getsockname()[1]}") as front:
            status, headers, page = proxy_answer(front + "/en/feedback", data=b"message=x")
            assert status == 502 and headers["Cache-Control"] == "no-store"
            assert "Nothing was stored" not in page
            says_in_every_language(
                page,
                {
                    "en": "No answer came from the site",
                    "es": "El sitio no respondió",
                    "fr": "Le site n&#39;a pas répondu",
                    "ar": "لم يصل أي رد من الموقع",
                    "ru": "Сайт не ответил",
                },
            )
    finally:
        listener.close()
