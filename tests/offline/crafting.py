"""Export bundles as a server makes them, or as a hostile one crafts them: any order, any id."""

import csv
import hashlib
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

from intake.formats import export_bundle, stream
from intake.formats.keyring import Generation, Keyring

from ..actors import Secretariat
from ..conftest import make_item, payload

GEN = Generation.new()
KEYRING = Keyring((GEN,))


def sealed_file(data: bytes) -> tuple[bytes, bytes]:
    """Seal a file as the server does; return (key, stream)."""
    out = io.BytesIO()
    sealer = stream.Sealer(out)
    sealer.write(data)
    sealer.finish()
    return sealer.key, out.getvalue()


@dataclass
class Made:
    """An item as a sender made it, its attachment streams, and the files they hold."""

    data: bytes
    body: dict
    streams: list[bytes] = field(default_factory=list)
    files: list[bytes] = field(default_factory=list)

    def __repr__(self) -> str:  # test output never shows what a request says
        return f"<item with {len(self.streams)} files>"


def made(files=(), names=None, generation=GEN, **fields) -> Made:
    """An item announcing these files, sealed with the real code."""
    body = payload(**fields)
    metas, streams = [], []
    for number, data in enumerate(files):
        key, stream = sealed_file(data)
        name = names[number] if names else f"evidence-{number}.jpg"
        metas.append({"name": name, "type": "image/jpeg", "size": len(data), "key": key.hex()})
        streams.append(stream)
    if files:
        body["attachments"] = metas
    return Made(make_item(body, generation)[1], body, streams, list(files))


def write_entries(path: Path, entries) -> None:
    """Write (type, id, data, checksum_ok) entries as a hostile server could: any order, any id."""
    with open(path, "wb") as f:
        f.write(b"INTAKE-X" + bytes([1, 0, 0, 0]) + len(entries).to_bytes(4, "big"))
        for type_, id_, data, checksum_ok in entries:
            head = bytes([type_]) + id_ + len(data).to_bytes(4, "big")
            digest = hashlib.sha256(export_bundle.CHECKSUM_DOMAIN + head + data).digest()
            f.write(head + data + (digest if checksum_ok else bytes(32)))


def honest_entries(id_: bytes, m: Made) -> list:
    return [(1, id_, m.data, True)] + [(2, id_, s, True) for s in m.streams]


def check_honest(out: Path, id_: bytes, m: Made) -> None:
    """The honest item is decrypted and shown: its payload exactly, its files byte for byte."""
    [request] = [r for r in Secretariat.requests(out) if r["item"] == id_.hex()]
    same = request["request"] == m.body  # compared apart, so a failure does not print the request
    assert same, f"{id_.hex()}: the request differs from what the sender sealed"
    Secretariat.page_of(out, id_.hex())  # its case's page, linked from the index
    folder = out / "requests" / id_.hex()
    assert folder.is_dir() == bool(m.files), "a folder for a request without files, or none for its files"
    for number, data in enumerate(m.files, start=1):
        [written] = [p for p in folder.iterdir() if p.name.startswith(f"attachment-{number}.")]
        same = written.read_bytes() == data
        assert same, f"{written.name} differs from the file the sender sealed"


def check_index(out: Path) -> None:
    """index.html, index.csv and decisions.csv list exactly the requests decrypted, and requests/
    holds their runs' files and pages, and folders of files of those requests only."""
    items = {r["item"] for r in Secretariat.requests(out)}
    names = set(os.listdir(out / "requests"))
    assert not [name for name in names if name.startswith(".")], "a half-built file or folder was left"
    assert {name for name in names if not name.startswith("run-")} <= items, "a folder of no request"
    with open(out / "index.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {row["item"] for row in rows} == items and all((out / row["page"]).is_file() for row in rows)
    page = (out / "index.html").read_text(encoding="utf-8")
    assert all(f"#item-{item}" in page for item in items)
    with open(out / "decisions.csv", encoding="utf-8-sig", newline="") as f:
        assert {row["item"] for row in csv.DictReader(f)} == items
