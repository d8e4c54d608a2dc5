"""Evidence attachments: sealed as they stream in, limits kept, refused cleanly offline when damaged."""

import io
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from intake.formats import export_bundle, stream
from intake.formats.stream import CHUNK, SEALED_CHUNK, StreamError
from intake.offline.decrypt import decrypt_bundle
from intake.server import cli

from ..actors import Defender, Secretariat
from ..conftest import both_engines, drop_box, everything_under, filled

SIZES = [0, 1, CHUNK, CHUNK + 1]


def sealed(data: bytes, key: bytes | None = None) -> tuple[bytes, bytes]:
    out = io.BytesIO()
    sealer = stream.Sealer(out, key)
    sealer.write(data)
    sealer.finish()
    return sealer.key, out.getvalue()


@given(st.integers(0, 2**34))
def test_padme_adds_at_most_12_percent(length):
    padded = stream.padme(length)
    assert padded >= length and padded - length <= max(1, length * 0.12)


def test_stream_refusals_name_the_problem():
    data = os.urandom(3 * CHUNK + 5)
    key, whole = sealed(data)
    chunks = [whole[i : i + SEALED_CHUNK] for i in range(0, len(whole), SEALED_CHUNK)]
    _, extra_chunk = sealed(os.urandom(10), key)
    cases = {
        "truncated": (whole[:-7], "truncated in chunk 4 of 4"),
        "missing last chunk": (b"".join(chunks[:3]), "truncated in chunk 4 of 4"),
        "extra chunk": (whole + extra_chunk, "goes on after its last chunk"),
        "swapped": (chunks[1] + chunks[0] + b"".join(chunks[2:]), "chunk 1 of 4 does not decrypt"),
        "wrong key": (sealed(data)[1], "chunk 1 of 4 does not decrypt"),
    }
    for broken, message in cases.values():
        with pytest.raises(StreamError, match=message):
            stream.open_stream(io.BytesIO(broken), key, len(data), io.BytesIO())
    # A last chunk where a middle one belongs (the stream cut at a chunk boundary and re-flagged):
    short_key, three = sealed(os.urandom(2 * CHUNK + 1))
    with pytest.raises(StreamError, match="does not decrypt"):
        stream.open_stream(io.BytesIO(three[: 2 * SEALED_CHUNK]), short_key, 2 * CHUNK, io.BytesIO())


def export_read(tmp_path, site, keyring, monkeypatch):
    for key, value in site.items():
        monkeypatch.setenv(key, value)
    target = tmp_path / f"export-{len(list(tmp_path.glob('export-*')))}.bin"
    assert cli.main(["export", "--out", str(target)]) == 0
    report = decrypt_bundle(target, keyring, tmp_path / "read")
    return report, tmp_path / "read"


@both_engines
def test_files_round_trip_without_javascript(tmp_path, client, site, keyring, monkeypatch):
    marker = b"ATTACHMARK" + os.urandom(4).hex().encode()
    files = [(f"file-{n}.txt", (marker * (n // len(marker) + 1))[:n]) for n in SIZES]
    files.append(("photo.jpg", marker + os.urandom(1000)))
    response = Defender(client).send("es", "individual", filled("individual", "x"), files)
    assert response.status_code == 200, response.text[:400]
    for path, data in everything_under(site["INTAKE_DATA_DIR"]):
        assert marker not in data, path
    stored = drop_box(site)
    assert (len(stored["items"]) == 1 and [row[2] for row in stored["streams"]] == [1, 2, 3, 4, 5]) or sorted(
        row[2] for row in stored["streams"]
    ) == [1, 2, 3, 4, 5]
    report, read = export_read(tmp_path, site, keyring, monkeypatch)
    assert report.ok, report.failures
    [request] = Secretariat.requests(read)
    folder = read / "requests" / request["item"]
    for number, (name, content) in enumerate(files, start=1):
        suffix = ".jpg" if name.endswith(".jpg") else ".txt"
        assert (folder / f"attachment-{number}{suffix}").read_bytes() == content
    _, page = Secretariat.page_of(read, request["item"])
    assert page.count("hidden metadata") == 1 and "photo.jpg" in page
    assert all(row[1] is not None for row in drop_box(site)["streams"])  # nothing left staged


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([(f"f{i}.txt", b"x") for i in range(6)], "at most 5 files"),
        ([("big.bin", b"x" * 1_200_000)], "at most 1 MB in total"),
    ],
)
@both_engines
def test_limits_refuse_with_answers_kept_and_nothing_left(site, files, message):
    from intake import create_app

    client = create_app({**site, "INTAKE_MAX_ATTACHMENT_MB": "1"}).test_client()
    answers = filled("organisation", "KEPT")
    response = Defender(client).send("en", "organisation", answers, files)
    assert response.status_code == 413
    assert message in response.text and answers["org_work"] in response.text
    stored = drop_box(site)
    assert stored["items"] == stored["streams"] == stored["chunks"] == []  # nothing left, nothing staged


def test_a_disk_that_fills_mid_upload(tiny_disk, site, keyring, tmp_path, monkeypatch):
    from intake import create_app

    site = {**site, "INTAKE_DATA_DIR": str(tiny_disk / "data"), "INTAKE_MIN_FREE_MB": "1"}
    app = create_app(site)
    client = app.test_client()
    first = Defender(client).send("fr", "individual", filled("individual", "FIRST"), [("a.txt", b"kept")])
    assert first.status_code == 200
    before = drop_box(site)
    answers = filled("individual", "SECOND")
    response = Defender(client).send("fr", "individual", answers, [("big.bin", os.urandom(5_000_000))])
    assert response.status_code == 503
    assert answers["hr_work"] in response.text  # typed answers kept
    assert drop_box(site) == before  # nothing stored is damaged, no partial ciphertext left
    again = Defender(client).send("fr", "individual", filled("individual", "THIRD"), [("b.txt", b"small")])
    assert again.status_code == 200  # space came back with the refused upload's staged chunks gone
    report, _ = export_read(tmp_path, site, keyring, monkeypatch)
    assert report.ok and report.written == 2
    app.extensions["intake"].store.db.close()  # so that the file system can be unmounted


def _tampered_bundles(generation):
    """(name, bundle bytes, expected failure) for attachment streams a hostile server could send."""
    from ..conftest import make_item

    data = os.urandom(2 * CHUNK + 3)
    key, stream = sealed(data)
    meta = {"name": "letter.pdf", "type": "application/pdf", "size": len(data), "key": key.hex()}
    body = {"form": "individual", "lang": "ru", "fields": {"urgency": "high"}, "attachments": [meta]}
    _, item = make_item(body, generation)
    chunks = [stream[i : i + SEALED_CHUNK] for i in range(0, len(stream), SEALED_CHUNK)]
    other_key = sealed(data)[1]
    variants = {
        "truncated": (stream[:-1], "truncated in chunk 3 of 3"),
        "swapped": (chunks[1] + chunks[0] + chunks[2], "chunk 1 of 3 does not decrypt"),
        "wrong key": (other_key, "chunk 1 of 3 does not decrypt"),
        "extra": (stream + chunks[2], "goes on after its last chunk"),
    }
    for name, (attachment, message) in variants.items():
        yield name, [(1, item), (2, attachment)], message
    yield "missing", [(1, item)], "attachment 1 is missing from the bundle"


def test_damaged_attachments_are_refused_offline_and_the_request_kept(tmp_path, generation, keyring):
    for name, entries, message in _tampered_bundles(generation):
        path = tmp_path / f"{name}.bin"
        item_id = os.urandom(16)
        with open(path, "wb") as f:
            export_bundle.write(f, [(t, item_id, d) for t, d in entries])
        out = tmp_path / name
        report = decrypt_bundle(path, keyring, out)
        assert report.written == 1 and len(report.failures) == 1, (name, report.failures)
        assert message in report.failures[0], (name, report.failures)
        assert [r["item"] for r in Secretariat.requests(out)] == [item_id.hex()]  # the request is kept
        assert "NOT DECRYPTED" in Secretariat.page_of(out, item_id.hex())[1]
        assert not (out / "requests" / item_id.hex()).exists()  # and no file, nor a folder for none
