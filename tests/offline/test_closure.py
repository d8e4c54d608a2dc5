"""The offline tool runs where only PyNaCl is installed: no Flask on the air-gapped machine."""

import subprocess
import sys
import urllib.request
import venv

import nacl
import pytest

from ..actors import Secretariat
from ..conftest import ROOT, make_item, payload, write_bundle

PASSPHRASE = "a long enough passphrase"
WEB_ONLY = {"flask", "werkzeug", "jinja2", "wtforms", "flask_wtf", "flask_babel", "babel", "gunicorn"}


@pytest.mark.system  # builds the wheel and a virtual environment
def test_offline_tool_in_a_venv_with_only_pynacl(tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py, pip = env_dir / "bin" / "python", [env_dir / "bin" / "python", "-m", "pip", "-q"]
    # As docs/secretariat.md does it: the wheel is built on a connected machine, installed here alone.
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", ROOT, "-w", tmp_path / "wheels"],
        check=True,
        capture_output=True,
    )
    [wheel] = (tmp_path / "wheels").glob("intake-*.whl")
    subprocess.run([*pip, "install", f"pynacl=={nacl.__version__}"], check=True)
    subprocess.run([*pip, "install", "--no-deps", wheel], check=True)
    installed = subprocess.run([*pip, "list", "--format=freeze"], capture_output=True, text=True, check=True)
    names = {line.split("==")[0].lower() for line in installed.stdout.split()}
    assert names & WEB_ONLY == set()

    # Every module the tool loads is the standard library's, PyNaCl's (with its cffi) or ours.
    probe = (
        "import sys, intake.offline.cli, intake.offline.decrypt, intake.formats.keyring,"
        " intake.offline.desk, intake.offline.backup;"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules} - set(sys.stdlib_module_names))))"
    )
    loaded = subprocess.run([py, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    # (_distutils_hack is setuptools' start-up hook, which venv installs beside pip; __mp_main__ is
    # the name the standard library's multiprocessing gives __main__ too.)
    allowed = {"__main__", "__mp_main__", "intake", "nacl", "_sodium", "_cffi_backend", "_distutils_hack"}
    assert set(loaded) <= allowed, loaded

    passfile = tmp_path / "pass.txt"
    passfile.write_text(PASSPHRASE, encoding="utf-8")
    tool = env_dir / "bin" / "intake-offline"
    subprocess.run(
        [tool, "keygen", "--out", tmp_path / "s", "--passphrase-file", passfile],
        check=True,
        capture_output=True,
    )

    sys.path.insert(0, str(ROOT))
    from intake.formats.keyring import load

    generation = load(tmp_path / "s" / "secretariat.keyring", PASSPHRASE).current
    body = payload("ar")
    write_bundle(tmp_path / "b.bin", [make_item(body, generation)[1]])
    result = subprocess.run(
        [
            tool,
            "decrypt",
            tmp_path / "b.bin",
            "--keyring",
            tmp_path / "s" / "secretariat.keyring",
            "--out",
            tmp_path / "read",
            "--passphrase-file",
            passfile,
            "--lang",
            "ar",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    [request] = Secretariat.requests(tmp_path / "read")
    assert request["request"]["fields"]["threat"] == body["fields"]["threat"]
    # The questions (questions.json) and their translations (the compiled catalogs) came with the
    # wheel: the request's page asks "How urgent is the situation?" in Arabic.
    assert "ما مدى استعجال الوضع؟" in Secretariat.page_of(tmp_path / "read", request["item"])[1]

    # The desk runs there too, its style sheet with it.
    desk = subprocess.Popen(
        [tool, "desk", tmp_path / "read", "--keyring", tmp_path / "s" / "secretariat.keyring"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = next(line for line in desk.stdout if line.startswith("http://")).strip()
        with urllib.request.urlopen(url + "style.css", timeout=30) as response:  # noqa: S310 (the desk's own URL)
            assert b"font-family" in response.read()
    finally:
        desk.terminate()
        desk.wait(timeout=30)
        desk.stdout.close()
