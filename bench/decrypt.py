"""Offline decryption rate against bare SealedBox.decrypt on the same items, in one run."""

import os
import tempfile
import time
from pathlib import Path

from nacl.public import SealedBox

from intake.formats import export_bundle, item, refcode
from intake.formats.keyring import Generation, Keyring
from intake.offline.decrypt import decrypt_bundle

FIELDS = {"name": "bench", "country": "Atlantis", "urgency": "high", "threat": "تهديد " * 400}


def run(count: int) -> list[tuple[str, str, str]]:
    """Return table rows (measure, value, ratio to baseline)."""
    generation = Generation.new()
    pub = generation.box.public_key
    datas = []
    for i in range(count):
        body = {"form": "individual", "lang": "ar", "fields": dict(FIELDS, n=str(i))}
        record = item.Record(refcode.make(), "2026-11-21", "individual", "server")
        datas.append(item.seal_item(item.seal_body(body, pub), record, pub))
    with tempfile.TemporaryDirectory(prefix="intake-bench-") as tmp:
        path = Path(tmp) / "export.bin"
        with open(path, "wb") as f:
            export_bundle.write(f, ((export_bundle.TYPE_ITEM, os.urandom(16), d) for d in datas))
        box = SealedBox(generation.box)
        start = time.perf_counter()
        for data in datas:  # the bare work: open both envelopes of every item, nothing else
            box.decrypt(data[1 + 8 : item.RECORD_SIZE])
            box.decrypt(data[item.RECORD_SIZE + 1 + 8 :])
        bare = time.perf_counter() - start
        start = time.perf_counter()
        report = decrypt_bundle(path, Keyring((generation,)), Path(tmp) / "out")
        full = time.perf_counter() - start
        assert report.ok and report.written == count, report.failures[:3]
    return [
        (f"bare SealedBox.decrypt, {count} items (record + body)", f"{count / bare:,.0f} items/s", "1.00"),
        (f"intake-offline decrypt, {count} items", f"{count / full:,.0f} requests/s", f"{bare / full:.2f}"),
    ]
