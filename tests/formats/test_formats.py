"""The byte formats of docs/formats.md: known answers, strict parsing, tamper cases, fuzzing."""

import contextlib
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.public import PrivateKey, SealedBox

from intake.formats import envelope, export_bundle, item, refcode
from intake.formats.envelope import KIND_BODY, KIND_RECORD, FormatError, Frame
from intake.formats.keyring import Generation

from ..conftest import ROOT, make_item, payload

_GEN = Generation.new()
_, _GOOD = make_item(payload(), _GEN)
VECTORS = json.loads((ROOT / "docs" / "formats-vectors.json").read_text(encoding="utf-8"))


def test_vectors_key_id_and_fingerprint():
    v = VECTORS["key_id"]
    assert envelope.key_id(bytes.fromhex(v["public_key"])).hex() == v["key_id"]
    assert envelope.fingerprint(bytes.fromhex(v["public_key"])) == v["fingerprint"]


def test_vectors_frame_bytes():
    v = VECTORS["frame"]
    frame = Frame(v["kind"], v["origin"], bytes.fromhex(v["key_id"]), v["payload_utf8"].encode())
    assert frame.to_bytes().hex() == v["frame"]
    assert Frame.from_bytes(bytes.fromhex(v["frame"])) == frame


def test_vectors_envelope_opens():
    v = VECTORS["envelope"]
    sk = PrivateKey(bytes.fromhex(v["secret_key"]))
    keys = {envelope.key_id(bytes(sk.public_key)): sk}
    frame = envelope.open_envelope(bytes.fromhex(v["envelope"]), v["kind"], keys)
    assert frame.payload.decode() == v["payload_utf8"]


def test_vectors_refcode_binding_and_bundle_checksum():
    v = VECTORS["refcode"]
    assert v["random_symbols"] + refcode.check_symbol(v["random_symbols"]) == v["code"]
    assert refcode.display(v["code"]) == v["display"]
    assert refcode.normalise(v["typed"]) == v["code"]
    assert refcode.lookup_id(v["code"]).hex() == v["lookup_id"]
    assert bytes(refcode.reply_key(v["code"]).public_key).hex() == v["reply_public_key"]
    envelope = bytes.fromhex(VECTORS["envelope"]["envelope"])
    assert item.body_binding(envelope) == VECTORS["body_binding"]["binding"]
    b = VECTORS["bundle_checksum"]
    head = bytes.fromhex(b["entry_head"])
    assert head == export_bundle._ENTRY.pack(b["type"], bytes.fromhex(b["id"]), len(b["data_utf8"]))
    assert export_bundle._checksum(head, b["data_utf8"].encode()).hex() == b["checksum"]


def test_every_envelope_of_a_kind_has_one_size(generation):
    small, large = payload(text="x"), payload(text="y" * 60000)
    _, a = make_item(small, generation)
    _, b = make_item(large, generation, origin="browser")
    assert len(a) == len(b) == item.ITEM_SIZE


def test_frame_refuses_oversize_payload(generation):
    with pytest.raises(FormatError, match="exceeds"):
        Frame(KIND_BODY, 1, generation.key_id, b"x" * (envelope.MAX_PAYLOAD[KIND_BODY] + 1))


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda f: bytes([2]) + f[1:], "frame version 2"),
        (lambda f: f[:1] + bytes([9]) + f[2:], "unknown frame kind 9"),
        (lambda f: f[:-1] + b"\x01", "padding is not all zero"),
        (lambda f: f[:11] + (70000).to_bytes(4, "big") + f[15:], "claims a payload of 70000"),
        (lambda f: f[:-1], "is 65535 bytes"),
    ],
)
def test_frame_parsing_is_strict(generation, tamper, message):
    good = Frame(KIND_BODY, 1, generation.key_id, b'{"a":1}').to_bytes()
    with pytest.raises(FormatError, match=message):
        Frame.from_bytes(tamper(good))


def test_open_checks_inner_against_outer(generation):
    other = PrivateKey.generate()
    keys = {generation.key_id: generation.box, envelope.key_id(bytes(other.public_key)): other}
    # The inside names the other key, the outside names this one.
    inner = Frame(KIND_BODY, 1, envelope.key_id(bytes(other.public_key)), b"{}").to_bytes()
    forged = bytes([1]) + generation.key_id + SealedBox(generation.box.public_key).encrypt(inner)
    with pytest.raises(FormatError, match="inner key id differs"):
        envelope.open_envelope(forged, KIND_BODY, keys)
    # A record frame where a body belongs, at the body's size: refused by kind.
    record = Frame(KIND_RECORD, 1, generation.key_id, b"{}").to_bytes().ljust(65536, b"\0")
    with pytest.raises(FormatError):
        envelope.open_envelope(
            bytes([1]) + generation.key_id + SealedBox(generation.box.public_key).encrypt(record),
            KIND_BODY,
            keys,
        )


def test_open_refuses_unknown_key_and_flipped_bits(generation):
    _, data = make_item(payload(), generation)
    body = data[item.RECORD_SIZE :]
    with pytest.raises(FormatError, match="unknown key id"):
        envelope.open_envelope(body, KIND_BODY, {})
    flipped = body[:-1] + bytes([body[-1] ^ 1])
    with pytest.raises(FormatError, match="does not decrypt"):
        envelope.open_envelope(flipped, KIND_BODY, {generation.key_id: generation.box})


@settings(max_examples=300)
@given(st.binary(max_size=2000))
def test_fuzz_frame_parser_only_raises_format_error(data):
    with contextlib.suppress(FormatError):
        Frame.from_bytes(data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=4000), st.integers(min_value=0, max_value=item.ITEM_SIZE - 1))
def test_fuzz_item_parser_only_raises_format_error(data, where):
    mutated = _GOOD[:where] + data + _GOOD[where + len(data) :]
    with contextlib.suppress(FormatError):
        item.open_item(mutated[: item.ITEM_SIZE], {_GEN.key_id: _GEN.box})


@settings(max_examples=300)
@given(st.binary(max_size=3000))
def test_fuzz_bundle_reader_only_raises_bundle_error(data):
    try:
        for _entry in export_bundle.read(io.BytesIO(export_bundle.MAGIC + data)):
            pass
    except export_bundle.BundleError:
        pass


def test_vectors_return_bundle_both_versions():
    from nacl.signing import SigningKey

    from intake.formats import return_bundle

    v = VECTORS["return_bundle"]
    key = SigningKey(bytes.fromhex(v["signing_seed"]))
    assert bytes(key.verify_key).hex() == v["verify_key"]
    update = return_bundle.Update(bytes.fromhex(v["lookup_id"]), v["status"], v["day"])
    bundle = return_bundle.ReturnBundle(v["sequence"], v["day"], (update,), (bytes.fromhex(v["ack"]),))
    assert return_bundle.encode(bundle, key).hex() == v["v2"]  # version 2 is what is written
    assert return_bundle.encode(bundle, key, version=1).hex() == v["v1"]
    assert update.signed(key).signature.hex() == v["update_signature_v2"]
    for version in ("v1", "v2"):  # and both are read
        read = return_bundle.decode(bytes.fromhex(v[version]), key.verify_key)
        assert (read.sequence, read.acks, read.updates[0].status) == (7, bundle.acks, "accepted")
    assert (
        return_bundle.decode(bytes.fromhex(v["v2"]), key.verify_key).updates[0].signature.hex()
        == (v["update_signature_v2"])
    )
