"""The browser's sealing code and the server's: one format, checked byte for byte under Node."""

import hashlib
import json
import os
import shutil
import subprocess

import pytest

from intake.formats import envelope, item, refcode
from intake.formats.envelope import KIND_BODY, ORIGIN_BROWSER, Frame
from intake.formats.payload import encode_json
from intake.web import checks
from intake.web.fields import clean

from ..actors import Secretariat
from ..conftest import ROOT, SAMPLES, drop_box, item_ids

VENDOR = ROOT / "intake" / "static" / "vendor"
PINNED = {
    "tweetnacl-1.0.3/nacl-fast.min.js": "3ec535c004aeeb225785d8e93fb33bf99f52e399bd7dfc01969b5629baea5131",
    "tweetnacl-sealedbox-js-1.2.0/sealedbox.web.js": "badaf1e4afb6c804cbfb03e415f96f072c4ac2a34673eed855d2b738d1c06cbb",
}
NODE = shutil.which("node")


def test_vendored_files_are_the_published_bytes():
    for name, digest in PINNED.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    for licence in ("tweetnacl-1.0.3/LICENSE", "tweetnacl-sealedbox-js-1.2.0/LICENSE.txt"):
        assert (VENDOR / licence).stat().st_size > 100


def test_no_eval_or_webassembly_in_what_the_page_loads():
    scripts = sorted((ROOT / "intake" / "static").rglob("*.js"))
    assert {p.name for p in scripts} >= {"seal-format.js", "seal.js", "nacl-fast.min.js", "sealedbox.web.js"}
    for path in scripts:
        text = path.read_text(encoding="utf-8")
        for banned in ("eval(", "new Function", "WebAssembly."):
            assert banned not in text, (path.name, banned)
        if "vendor" not in path.parts:  # ours keep to the vendored code's ES5 syntax: no arrows
            assert "=>" not in text, path.name


def run_node(request: dict) -> dict:
    if NODE is None:
        pytest.fail("node is required for the browser-format tests (apt-get install nodejs)")
    result = subprocess.run(
        [NODE, ROOT / "tests" / "js" / "seal_node.js"],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def test_node_seals_what_pynacl_opens_and_frames_match_byte_for_byte(generation):
    pub = bytes(generation.box.public_key)
    kid = envelope.key_id(pub)
    payloads = [
        {"form": "individual", "lang": lang, "fields": {"threat": text, "measures": ["legal_aid", "other"]}}
        for lang, text in SAMPLES.items()
    ]
    payloads.append({"form": "feedback", "lang": "ar", "fields": {"message": '𝄞\n\t"quote" \\ / é', "x": ""}})
    biggest = {"form": "feedback", "lang": "ru", "fields": {"message": ""}}
    biggest["fields"]["message"] = "ж" * ((envelope.MAX_PAYLOAD[KIND_BODY] - len(encode_json(biggest))) // 2)
    payloads.append(biggest)
    codes = [refcode.make() for _ in range(5)]
    typed = [c.lower() for c in codes] + [
        "\u2066" + refcode.display(codes[0]) + "\u2069",
        codes[1][:-1] + "U",
        "оl23" + codes[2][4:],
    ]
    texts = ["  a\r\nb\rc\x00d\x1fe\u00a0 ", "e\u0301", "\ufefftab\t", "\u3000x\u2028"]
    numbers = ["3 000", "٣٠٠٠", "۱۲", "1.000.000", "1000001", "three", "-5", "+7"]
    out = run_node(
        {
            "publicKey": pub.hex(),
            "keyId": kid.hex(),
            "payloads": payloads,
            "codes": typed,
            "texts": texts,
            "numbers": numbers,
            "lookalikes": refcode.LOOKALIKES,
            "digits": checks.digits(),
        }
    )

    keys = {kid: generation.box}
    for payload, envelope_hex, frame_hex in zip(payloads, out["envelopes"], out["frames"], strict=True):
        python_frame = Frame(KIND_BODY, ORIGIN_BROWSER, kid, encode_json(payload)).to_bytes()
        assert bytes.fromhex(frame_hex) == python_frame
        sealed = bytes.fromhex(envelope_hex)
        assert len(sealed) == envelope.ENVELOPE_SIZES[KIND_BODY]
        opened = envelope.open_envelope(sealed, KIND_BODY, keys)
        assert opened.origin == ORIGIN_BROWSER and json.loads(opened.payload) == payload
    assert out["badKey"] == "key id does not match the key"

    def python_code(text):
        try:
            return refcode.display(refcode.normalise(text))
        except refcode.InvalidCode:
            return None

    assert out["codes"] == [python_code(t) for t in typed]
    assert out["codes"][:6] == [refcode.display(c) for c in codes] + [refcode.display(codes[0])]
    assert out["texts"] == [clean(t) for t in texts]
    assert out["numbers"] == ["3000", "3000", "12", "1000000", None, None, None, "7"]


def test_node_and_python_seal_attachment_streams_identically():
    import io

    from intake.formats import stream

    lengths = [0, 1, 2, 100, 65535, 65536, 65537, 200_000, 1_000_003]
    streams = []
    for n in [0, 1, 65536, 65537, 200_000]:
        streams.append({"data": os.urandom(n).hex(), "key": os.urandom(32).hex()})
    out = run_node(
        {
            "publicKey": "00" * 32,
            "keyId": "00" * 8,
            "payloads": [],
            "codes": [],
            "texts": [],
            "numbers": [],
            "lookalikes": {},
            "streams": streams,
            "lengths": lengths,
        }
    )
    assert out["padme"] == [stream.padme(n) for n in lengths]
    for given, sealed_hex in zip(streams, out["streams"], strict=True):
        data, key = bytes.fromhex(given["data"]), bytes.fromhex(given["key"])
        python = io.BytesIO()
        sealer = stream.Sealer(python, key)
        sealer.write(data)
        sealer.finish()
        assert bytes.fromhex(sealed_hex) == python.getvalue()
        back = io.BytesIO()
        stream.open_stream(io.BytesIO(bytes.fromhex(sealed_hex)), key, len(data), back)
        assert back.getvalue() == data


def envelope_for(payload, public_key) -> str:
    """A body sealed as seal.js seals it (origin browser), base64url without padding."""
    import base64

    sealed = item.seal_body(payload, public_key, ORIGIN_BROWSER)
    return base64.urlsafe_b64encode(sealed).decode().rstrip("=")


def post_envelope(client, lang, form, **data):
    from ..conftest import csrf_token

    page = client.get(f"/{lang}/{form}")
    fields = {"csrf_token": csrf_token(page.text), **data}
    return client.post(f"/{lang}/{form}", data={k: v for k, v in fields.items() if v is not None})


def test_a_browser_envelope_is_stored_like_any_other(
    client, site, generation, keyring, tmp_path, monkeypatch
):
    from intake.offline.decrypt import decrypt_bundle
    from intake.server import cli

    payload = {"form": "feedback", "lang": "fr", "fields": {"kind": "feedback", "message": "merci"}}
    response = post_envelope(
        client, "fr", "feedback", envelope=envelope_for(payload, generation.box.public_key)
    )
    assert response.status_code == 200 and 'class="code"' in response.text
    plain = post_envelope(client, "fr", "feedback", **payload["fields"], contact_language="fr")
    assert plain.status_code == 200
    sizes = {len(row[1]) for row in drop_box(site)["items"]}
    assert sizes == {item.ITEM_SIZE}  # the two paths leave the same traces
    for name, value in site.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["export", "--out", str(tmp_path / "b.bin")]) == 0
    report = decrypt_bundle(tmp_path / "b.bin", keyring, tmp_path / "out")
    assert report.ok and report.written == 2
    origins = sorted(request["origin"] for request in Secretariat.requests(tmp_path / "out"))
    assert origins == ["browser", "server"]


def test_the_server_refuses_bad_envelopes_and_stores_nothing(client, site, generation):
    from intake.formats.keyring import Generation

    good = envelope_for({"form": "feedback", "lang": "en", "fields": {}}, generation.box.public_key)
    stale = envelope_for({"form": "feedback", "lang": "en", "fields": {}}, Generation.new().box.public_key)
    cases = [
        ({"envelope": good, "message": "plaintext too"}, 400, "both encrypted and unencrypted"),
        ({"envelope": good[:-10]}, 400, "damaged on the way"),
        ({"envelope": "!!!not base64!!!"}, 400, "damaged on the way"),
        ({"envelope": ""}, 400, "damaged on the way"),
        ({"envelope": stale}, 400, "key changed after you opened this page"),
        ({"envelope": good, "csrf_token": None}, 403, "the form has expired"),
    ]
    for data, status, message in cases:
        response = post_envelope(client, "en", "feedback", **data)
        assert response.status_code == status, message
        assert message in response.text
    assert item_ids(site) == []
