"""Write a secretariat's folder in the layout decrypt used before issue 16 (one folder per request,
with its request.json and request.html): made by that release (commit 1171831) itself, not by a
copy of its code.

    mkdir /tmp/release-1171831 && git archive 1171831 | tar -x -C /tmp/release-1171831
    (cd /tmp/release-1171831 && /path/to/checkout/.venv/bin/intake translations compile)
    PYTHONPATH=/tmp/release-1171831 .venv/bin/python tests/offline/releases/make_folder_per_request.py

It writes tests/offline/releases/folder-per-request/: a backup made by that release's `intake-offline
backup --with-requests` of its test keyring (a throwaway passphrase, in the clear: these keys protect
nothing) and of the folder its `decrypt` wrote from three requests (two with files, one without),
with one decision typed into decisions.csv; and what a secretariat must still find in it afterwards.
"""

import csv
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from intake.formats.keyring import QUICK, Generation, Keyring, save  # the release's modules
from intake.offline import backup
from intake.offline.decrypt import decrypt_bundle
from tests.offline.crafting import honest_entries, made, write_entries  # the release's own helpers

OUT = Path(__file__).resolve().parent / "folder-per-request"
PASSPHRASE = "a throwaway passphrase for a test keyring"


def main() -> int:
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir()
    (OUT / "passphrase.txt").write_text(PASSPHRASE)
    with tempfile.TemporaryDirectory() as tmp:
        expected = decrypted(Path(tmp))
        backup.make(
            Path(tmp) / "requests", Path(tmp) / "secretariat.keyring", OUT / "backup", with_requests=True
        )
    (OUT / "expected.json").write_text(json.dumps(expected, ensure_ascii=False, indent=1) + "\n")
    return 0


def decrypted(base: Path) -> dict:
    """Decrypt three requests into base/requests, decide one; return what each request holds."""
    generation = Generation.new()
    save(base / "secretariat.keyring", Keyring((generation,)), PASSPHRASE, cost=QUICK)
    sent = [
        made([b"%PDF-1.4 " * 300], ["شهادة.pdf"], generation, lang="ar"),
        made([b"Acta de la reunion", b"\xff\xd8" * 90], ["acta.txt", "foto.jpg"], generation, lang="es"),
        made((), None, generation, lang="fr", form="feedback"),
    ]
    ids = [os.urandom(16) for _ in sent]
    bundle = base / "export.bin"
    write_entries(
        bundle, [entry for id_, m in zip(ids, sent, strict=True) for entry in honest_entries(id_, m)]
    )
    out = base / "requests"
    report = decrypt_bundle(bundle, Keyring((generation,)), out)
    assert report.ok and report.written == 3, report.failures
    # The secretariat decided the Arabic request in its spreadsheet.
    with open(out / "decisions.csv", encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        if row["item"] == ids[0].hex():
            row["status"], row["message"] = "accepted", "Nous vous aiderons."
    with open(out / "decisions.csv", "w", encoding="utf-8-sig", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)
    return {
        id_.hex(): {
            "request": json.loads((out / "requests" / id_.hex() / "request.json").read_bytes()),
            "files": {
                p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted((out / "requests" / id_.hex()).glob("attachment-*"))
            },
        }
        for id_ in ids
    }


if __name__ == "__main__":
    sys.exit(main())
