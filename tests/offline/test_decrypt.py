"""intake-offline decrypt: every good item readable, every hostile one reported and contained."""

import csv
import io
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.public import SealedBox

from intake.formats import envelope, export_bundle, item, refcode
from intake.formats.envelope import KIND_BODY, Frame
from intake.formats.keyring import Generation, Keyring
from intake.formats.payload import encode_json
from intake.offline.decrypt import decrypt_bundle

from ..actors import Secretariat
from ..conftest import SAMPLES, make_item, payload, tree, write_bundle


def decrypt(tmp_path, keyring, datas, name="bundle"):
    """Bundle item bytes, decrypt into tmp_path/out, return (report, ids, out)."""
    path = tmp_path / f"{name}.bin"
    ids = write_bundle(path, datas)
    out = tmp_path / "out"
    return decrypt_bundle(path, keyring, out), ids, out


def request_of(out, id_):
    [request] = [r for r in Secretariat.requests(out) if r["item"] == id_.hex()]
    return request


def test_round_trip_every_language_and_the_largest_payload(tmp_path, generation, keyring):
    bodies = [payload(lang) for lang in SAMPLES]
    biggest = payload("ar", text="")
    room = envelope.MAX_PAYLOAD[KIND_BODY] - len(encode_json(biggest))
    biggest["fields"]["threat"] = "ب" * (room // 2) + "x" * (room % 2)  # Arabic letters are 2 bytes
    assert len(encode_json(biggest)) == envelope.MAX_PAYLOAD[KIND_BODY]
    bodies.append(biggest)
    made = [
        make_item(b, generation, origin=o) for b, o in zip(bodies, ["server", "browser"] * 3, strict=True)
    ]
    report, ids, out = decrypt(tmp_path, keyring, [d for _, d in made])
    assert report.ok and report.written == 6
    for id_, body, (code, _) in zip(ids, bodies, made, strict=True):
        request = request_of(out, id_)
        assert request["request"] == body
        assert request["reference"] == refcode.display(code)
        path, case = Secretariat.page_of(out, id_.hex())
        assert f'<bdi dir="ltr" class="code">{refcode.display(code)}</bdi>' in case
        assert ('dir="rtl"' in case) == (body["lang"] == "ar")
        page = path.read_text(encoding="utf-8")
        assert "<script" not in page and "http" not in page.replace('http-equiv="Content', "")
    # Six requests, three files: the run's requests, the page of their cases, one folder.
    assert sorted(os.listdir(out / "requests")) == ["run-1-page-1.html", "run-1.jsonl"]


def test_index_lists_urgent_first_and_defuses_formulas(tmp_path, generation, keyring):
    bodies = [
        payload(urgency="normal", country='=HYPERLINK("x")'),
        payload(urgency="critical"),
        payload(urgency="high"),
    ]
    report, ids, out = decrypt(tmp_path, keyring, [make_item(b, generation)[1] for b in bodies])
    assert report.ok
    rows = list(csv.DictReader(io.StringIO((out / "index.csv").read_text(encoding="utf-8"))))
    assert [r["urgency"] for r in rows] == ["critical", "high", "normal"]
    assert rows[2]["country"] == '\'=HYPERLINK("x")'
    html = (out / "index.html").read_text(encoding="utf-8")
    assert html.index(ids[1].hex()) < html.index(ids[2].hex()) < html.index(ids[0].hex())


def test_running_twice_duplicates_nothing(tmp_path, generation, keyring):
    datas = [make_item(payload(), generation)[1] for _ in range(3)]
    path = tmp_path / "bundle.bin"
    write_bundle(path, datas)
    first = decrypt_bundle(path, keyring, tmp_path / "out")
    before = {p: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    second = decrypt_bundle(path, keyring, tmp_path / "out")
    after = {p: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert (first.written, second.written, second.unchanged) == (3, 0, 3)
    assert second.ok and before == after


def test_rotated_keys_still_open_old_items(tmp_path, generation):
    new = Generation.new()
    old_item = make_item(payload(), generation)[1]
    new_item = make_item(payload(), new)[1]
    report, _, _ = decrypt(tmp_path, Keyring((generation, new)), [old_item, new_item])
    assert report.ok and report.written == 2
    report, ids, _ = decrypt(tmp_path, Keyring((new,)), [old_item], name="again")
    assert report.failures == [f"item 1 ({ids[0].hex()}): sealed to unknown key id {generation.key_id.hex()}"]


def _reseal_body(generation, frame_bytes):
    return bytes([1]) + generation.key_id + SealedBox(generation.box.public_key).encrypt(frame_bytes)


def _item_with_body(generation, body_env, **record):
    fields = {"reference": refcode.make(), "day": "2026-11-21", "form": "individual", "origin": "server"}
    fields.update(record)
    return item.seal_item(body_env, item.Record(**fields), generation.box.public_key)


def _raw_record_item(generation, record_json: bytes, body_env):
    frame = Frame(envelope.KIND_RECORD, 1, generation.key_id, record_json)
    return envelope.seal(frame, generation.box.public_key) + body_env


def _body_frame(generation, payload_bytes, padding_byte=0):
    data = bytearray(Frame(KIND_BODY, 1, generation.key_id, payload_bytes).to_bytes())
    if padding_byte:
        data[-1] = padding_byte
    return bytes(data)


def _crafted(generation, payload_bytes, padding_byte=0):
    """An item whose body frame holds exactly these payload bytes, sealed as a forger would."""
    frame = _body_frame(generation, payload_bytes, padding_byte)
    return _item_with_body(generation, _reseal_body(generation, frame))


def _binding_record(generation, body_env):
    """A record that correctly names `body_env`, sealed without the server's checks."""
    record = {"ref": refcode.make(), "day": "2026-11-21", "form": "individual", "origin": "server"}
    record["body"] = item.body_binding(body_env)
    return _raw_record_item(generation, json.dumps(record).encode(), body_env)


def hostile_cases(generation):
    """(item bytes, expected message) pairs a compromised server might craft."""
    other = Generation.new()
    good_body = item.seal_body(payload(), generation.box.public_key)
    climb = "../../../../tmp/escaped"
    yield make_item(payload(), other)[1], "sealed to unknown key id"
    yield (
        _crafted(generation, b"{}", padding_byte=7),
        "padding is not all zero",
    )
    yield (
        _crafted(generation, b"\xff\xfe"),
        "not valid UTF-8",
    )
    yield (
        _crafted(generation, b"{not json"),
        "not valid JSON",
    )
    yield (
        _crafted(generation, b"[" * 5000),
        "not valid JSON",
    )
    outer_other = bytes([1]) + other.key_id + good_body[9:]
    yield _binding_record(generation, outer_other), "sealed to unknown key id"
    record = json.dumps(
        {
            "ref": climb,
            "day": "2026-11-21",
            "form": "individual",
            "origin": "server",
            "body": item.body_binding(good_body),
        }
    ).encode()
    yield _raw_record_item(generation, record, good_body), "reference code is invalid"
    for typed in (
        refcode.display(refcode.make()),
        refcode.make().lower(),
    ):  # a code, not as the server writes it
        fields = {"ref": typed, "day": "2026-11-21", "form": "individual", "origin": "server"}
        record = json.dumps(fields | {"body": item.body_binding(good_body)}).encode()
        yield _raw_record_item(generation, record, good_body), "reference code is not canonical"
    record = json.dumps(
        {
            "ref": refcode.make(),
            "day": "../../x",
            "form": climb,
            "origin": "server",
            "body": item.body_binding(good_body),
        }
    ).encode()
    yield _raw_record_item(generation, record, good_body), "record day is not YYYY-MM-DD"
    swapped = item.seal_body(payload(), generation.box.public_key)
    yield (
        _item_with_body(generation, good_body)[: item.RECORD_SIZE] + swapped,
        "record belongs to another body",
    )
    yield _item_with_body(generation, good_body, origin="browser"), "disagree about where the body was sealed"
    lone = b'{"form":"individual","lang":"en","fields":{"x":"\\ud800"}}'
    yield _crafted(generation, lone), "neither text"
    listed = item.seal_body(payload(urgency=["critical"]), generation.box.public_key)
    yield _item_with_body(generation, listed), None  # decrypts; a list is not an urgency: sorted as normal
    dup = b'{"form":"individual","lang":"en","lang":"ar","fields":{}}'
    yield (
        _crafted(generation, dup),
        "not valid JSON",
    )
    nan = b'{"form":"individual","lang":"en","fields":{},"n":NaN}'
    yield (
        _crafted(generation, nan),
        "not valid JSON",
    )
    body = payload(form="feedback", name=climb)
    yield (
        _item_with_body(generation, item.seal_body(body, generation.box.public_key)),
        "disagree about the form",
    )
    yield (
        _item_with_body(generation, good_body)[item.RECORD_SIZE :]
        + _item_with_body(generation, good_body)[: item.RECORD_SIZE],
        "does not decrypt",
    )


def test_hostile_items_are_reported_and_contained(tmp_path, generation, keyring):
    cases = [c for c in hostile_cases(generation) if c[1]]
    readable = [c for c in hostile_cases(generation) if not c[1]]
    good = [make_item(payload(), generation)[1] for _ in range(2)]
    datas = [good[0]] + [d for d, _ in cases] + [d for d, _ in readable] + [good[1]]
    before = tree(tmp_path)
    report, ids, out = decrypt(tmp_path, keyring, datas)
    assert report.written == 2 + len(readable)
    assert len(report.failures) == len(cases)
    for index, ((_, message), line) in enumerate(zip(cases, report.failures, strict=True), start=2):
        assert line.startswith(f"item {index} ({ids[index - 1].hex()}): ")
        assert message in line, line
        assert "\n" not in line
    assert not (tmp_path.parent / "escaped").exists() and not os.path.exists("/tmp/escaped")
    outside = [p for p in tree(tmp_path) if not p.startswith("out")]
    assert sorted(outside) == sorted([*before, "bundle.bin"])
    decrypted = [ids[0], *ids[len(cases) + 1 :]]
    assert sorted(r["item"] for r in Secretariat.requests(out)) == sorted(i.hex() for i in decrypted)
    assert sorted(os.listdir(out / "requests")) == ["run-1-page-1.html", "run-1.jsonl"]


def test_duplicates_checksums_and_framing(tmp_path, generation, keyring):
    a, b = make_item(payload(), generation)[1], make_item(payload(), generation)[1]
    path = tmp_path / "bundle.bin"
    same = os.urandom(16)
    entries = [(1, same, a), (1, same, b), (1, os.urandom(16), a)]
    with open(path, "wb") as f:
        export_bundle.write(f, entries)
    report = decrypt_bundle(path, keyring, tmp_path / "out")
    assert report.written == 1
    assert "duplicate id of item 1" in report.failures[0]
    assert "same sealed body as item 1" in report.failures[1]
    data = bytearray(path.read_bytes())
    data[100] ^= 1  # inside item 1
    path.write_bytes(bytes(data))
    report = decrypt_bundle(path, keyring, tmp_path / "out2")
    assert "item 1" in report.failures[0] and "checksum does not match" in report.failures[0]


@pytest.mark.parametrize(
    ("cut", "message"),
    [
        (lambda d: d[: len(d) // 2], "truncated in item 2 of 3"),
        (lambda d: d + b"x", "bytes after its 3 items"),
        (lambda d: b"NOTINTAK" + d[8:], "not an intake export bundle"),
        (lambda d: d[:16] + bytes([1]) + d[17:33] + b"\xff\xff\xff\xff" + d[37:], "claims 4294967295 bytes"),
        (lambda d: d[:16] + bytes([7]) + d[17:], "unknown type 7"),
    ],
)
def test_broken_framing_keeps_what_came_before(tmp_path, generation, keyring, cut, message):
    datas = [make_item(payload(), generation)[1] for _ in range(3)]
    path = tmp_path / "bundle.bin"
    write_bundle(path, datas)
    path.write_bytes(cut(path.read_bytes()))
    report = decrypt_bundle(path, keyring, tmp_path / "out")
    assert message in report.failures[-1]
    assert report.failures[-1].startswith("bundle: ")
    expected = {"truncated in item 2 of 3": 1, "bytes after its 3 items": 3}.get(message, 0)
    assert report.written == expected


def test_a_different_item_under_a_known_id_does_not_overwrite(tmp_path, generation, keyring):
    path = tmp_path / "bundle.bin"
    id_ = os.urandom(16)
    with open(path, "wb") as f:
        export_bundle.write(f, [(1, id_, make_item(payload(), generation)[1])])
    decrypt_bundle(path, keyring, tmp_path / "out")
    first = request_of(tmp_path / "out", id_)
    with open(path, "wb") as f:
        export_bundle.write(f, [(1, id_, make_item(payload(), generation)[1])])
    report = decrypt_bundle(path, keyring, tmp_path / "out")
    assert "an earlier, different request has the same id" in report.failures[0]
    assert Secretariat.requests(tmp_path / "out") == [first]


_FUZZ_GEN = Generation.new()
_FUZZ_DATAS = [make_item(payload(), _FUZZ_GEN)[1] for _ in range(2)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(st.integers(0, 2 * item.ITEM_SIZE + 200), st.binary(min_size=1, max_size=64)), max_size=4
    ),
    st.integers(0, 2 * item.ITEM_SIZE + 200),
)
def test_fuzz_mutated_bundles_never_crash_or_escape(tmp_path_factory, edits, cut):
    base = tmp_path_factory.mktemp("fuzz")
    path = base / "bundle.bin"
    write_bundle(path, _FUZZ_DATAS)
    data = bytearray(path.read_bytes())
    for where, chunk in edits:
        data[where : where + len(chunk)] = chunk
    path.write_bytes(bytes(data[: max(cut, 1)]) if cut % 3 == 0 else bytes(data))
    report = decrypt_bundle(path, Keyring((_FUZZ_GEN,)), base / "out")
    assert report.written + len(report.failures) >= 1
    assert tree(base) == sorted(["bundle.bin", "out", *[p for p in tree(base) if p.startswith("out/")]])
