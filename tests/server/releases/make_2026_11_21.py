"""Write the drop box of files that `intake migrate` must move: made by the release of 2026-11-21
(commit 5b83a57) itself, not by a copy of its code.

    git worktree add /tmp/release-2026-11-21 5b83a57
    PYTHONPATH=/tmp/release-2026-11-21 .venv/bin/python tests/server/releases/make_2026_11_21.py
    git worktree remove /tmp/release-2026-11-21

It writes tests/server/releases/2026-11-21/: the data folder as that release left it (requests,
two with files, statuses with and without a message, the last sequence, and the journal of an
import a crash interrupted), its public keys, the test keyring that opens it (a throwaway
passphrase, in the clear: these keys protect nothing), and what a defender must see afterwards.
"""

import hashlib
import io
import json
import os
import re
import shutil
import sys
from pathlib import Path

from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from intake import create_app, keyfiles, refcode, returns  # the release's modules
from intake.offline import keyring as keyrings
from tests.conftest import filled  # the release's own valid answers

OUT = Path(__file__).resolve().parent / "2026-11-21"
PASSPHRASE = "a throwaway passphrase for a test keyring"


def submit(client, lang, form, files=()):
    page = client.get(f"/{lang}/{form}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    fields = MultiDict({"csrf_token": token})
    for key, value in filled(form, "RELEASEMARK").items():
        fields.setlist(key, value if isinstance(value, list) else [value])
    for name, content in files:
        fields.add("attachments", FileStorage(io.BytesIO(content), filename=name))
    boundary, body = encode_multipart(fields)
    response = client.post(
        f"/{lang}/{form}", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 200, response.status_code
    shown = re.search(
        r'<p class="code"><bdi dir="ltr">([0-9A-Z-]{23})</bdi>', response.get_data(as_text=True)
    )[1]
    return refcode.normalise(shown)


def main() -> int:
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir()
    generation = keyrings.Generation.new()
    keyrings.save(OUT / "secretariat.keyring", keyrings.Keyring((generation,)), PASSPHRASE)
    (OUT / "passphrase.txt").write_text(PASSPHRASE)
    keyfiles.write_public_keys(OUT / "keys", generation.box.public_key, generation.sign.verify_key)
    site = {
        "INTAKE_DATA_DIR": str(OUT / "data"),
        "INTAKE_KEYS_DIR": str(OUT / "keys"),
        "INTAKE_SECRET_KEY": "release-" + "x" * 40,
        "INTAKE_MIN_FREE_MB": "0",
    }
    os.environ.update(site)  # for the release's `intake import` below
    client = create_app(site).test_client()
    files = [
        ("شهادة.pdf", b"%PDF-1.4 " * 2000),
        ("acta.txt", "Acta de la reunión".encode()),
        ("foto.jpg", b"\xff\xd8" * 900),
    ]
    codes = [
        submit(client, "ar", "individual", files[:1]),
        submit(client, "es", "organisation", files[1:]),
        submit(client, "ru", "feedback"),
        submit(client, "fr", "individual"),
    ]

    def update(code, status, message=None):
        sealed = returns.seal_message(message, refcode.reply_key(code).public_key) if message else None
        return returns.Update(refcode.lookup_id(code), status, "2026-11-20", sealed)

    def bundle(sequence, *updates):
        return returns.encode(returns.ReturnBundle(sequence, "2026-11-20", updates, ()), generation.sign)

    # Imported by the release: statuses as files, the sequence as a file.
    (OUT / "first.bin").write_bytes(bundle(41, update(codes[0], "more_info", "¿Puede enviarnos la fecha?")))
    from intake import cli

    assert cli.main(["import", str(OUT / "first.bin")]) == 0, "the release's import failed"
    (OUT / "first.bin").unlink()
    # A second import, cut off by a crash just after the release wrote its journal.
    (OUT / "data" / "return-journal").write_bytes(
        bundle(42, update(codes[1], "accepted", "Nous vous aiderons."))
    )
    expected = {
        codes[0]: ["more_info", "¿Puede enviarnos la fecha?"],
        codes[1]: ["accepted", "Nous vous aiderons."],
        codes[2]: ["received", None],
        codes[3]: ["received", None],
    }
    digests = sorted(hashlib.sha256(content).hexdigest() for _, content in files)
    (OUT / "expected.json").write_text(
        json.dumps(
            {"sequence": 42, "statuses": expected, "attachments": digests}, ensure_ascii=False, indent=1
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
