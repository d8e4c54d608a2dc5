"""The real server, `intake serve` with the shipped settings: every form in every language."""

import re
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

from intake.offline.decrypt import decrypt_bundle

from ..actors import Defender, Secretariat, code_of
from ..conftest import LANGS, everything_under, filled


def test_every_form_in_every_language_under_gunicorn(server, tmp_path, keyring, site):
    marker = f"GMARK{secrets.token_hex(6)}"
    sent = {}
    for lang in LANGS:
        for form in ("individual", "organisation", "feedback"):
            answers = filled(form, marker)
            response = Defender(url=server["url"]).send(lang, form, answers)
            assert response.status_code == 200
            code = code_of(response.text)
            sent[code] = (lang, form, answers)

    bundle = tmp_path / "export.bin"
    subprocess.run(
        [Path(sys.executable).parent / "intake", "export", "--out", bundle],
        env=server["env"],
        check=True,
        capture_output=True,
    )
    report = decrypt_bundle(bundle, keyring, tmp_path / "read")
    assert report.ok and report.written == len(sent) == 15
    for request in Secretariat.requests(tmp_path / "read"):
        lang, form, answers = sent.pop(request["reference"])
        assert request["request"]["lang"] == lang and request["form"] == form
        fields = request["request"]["fields"]
        for name, value in answers.items():
            assert fields[name] == ("3000" if name == "amount_eur" else value)
    assert sent == {}

    # No marker and no address anywhere: data folder, temporary folder, logs.
    places = [site["INTAKE_DATA_DIR"], server["tmp"]]
    for path, data in everything_under(*places):
        assert marker.encode() not in data, path
    access, errors = (log.read_text(encoding="utf-8") for log in server["logs"])
    assert marker not in access + errors
    assert "127.0.0.1" not in access and not re.search(r"\d{2}:\d{2}:\d{2}", access + errors)
    assert re.search(r'^\[\d{4}-\d{2}-\d{2}\] "POST /es/feedback" 200 \d+$', access, re.M), access[:500]


def test_malformed_requests_leave_no_address_in_the_logs(server):
    host, port = server["url"].removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as raw:
        raw.sendall(b"NOT A REQUEST\r\n\r\n")
        raw.recv(1000)
    time.sleep(0.3)
    errors = server["logs"][1].read_text(encoding="utf-8")
    assert "Invalid request from ip=-: " in errors
    assert "127.0.0.1" not in errors.replace(f"Listening at: {server['url']}", "")
