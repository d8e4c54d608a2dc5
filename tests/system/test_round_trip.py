"""The status round trip: signed return bundles from the air gap, applied whole or not at all."""

import csv
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intake.formats import refcode, return_bundle
from intake.formats.keyring import Generation
from intake.formats.return_bundle import STATUSES

from ..conftest import LANGS, ROOT, both_engines, csrf_token, drop_box, item_ids, status_of, store_of

BIN = Path(sys.executable).parent
PASSPHRASE = "the secretariat's passphrase"


def export_decrypt(tmp_path, operator, secretariat, name):
    """The operator exports, the secretariat decrypts into read/."""
    return secretariat.decrypt(operator.export(tmp_path / f"{name}.bin"), tmp_path / "read")


def reply_and_import(operator, secretariat, read, target):
    """The secretariat replies, the operator imports it."""
    result = operator.import_(secretariat.reply(read, target))
    assert result.returncode == 0, result.stderr


MESSAGES = {
    "en": "We need the date of the court hearing.",
    "es": "Necesitamos la fecha de la audiencia. ¿Puede enviarla?",
    "fr": "Votre demande a été transmise à un partenaire : il vous contactera.",
    "ar": "تمت الموافقة على طلبك. سنتواصل معك قريبًا.",
    "ru": "К сожалению, мы не можем поддержать этот запрос.",
}
DECISIONS = {"en": "more_info", "es": "in_review", "fr": "referred", "ar": "accepted", "ru": "declined"}


@both_engines
def test_full_cycle_in_every_language(defender, tmp_path, app, client, site, operator, secretariat):
    forms = dict(
        zip(LANGS, ["individual", "organisation", "feedback", "individual", "organisation"], strict=True)
    )
    codes = {lang: defender.submit(lang, form) for lang, form in forms.items()}
    read = export_decrypt(tmp_path, operator, secretariat, "export-1")
    with open(read / "decisions.csv", encoding="utf-8-sig") as f:
        listed = {row["reference"] for row in csv.DictReader(f)}
    assert listed == set(codes.values())
    later = [defender.submit("en", "feedback") for _ in range(2)]  # not in the first export

    secretariat.decide(read, {codes[lang]: (DECISIONS[lang], MESSAGES[lang]) for lang in LANGS})
    result = secretariat.run("reply", read, "--out", tmp_path / "return-1.bin")
    assert result.returncode == 0, result.stderr
    assert (
        "5 status updates (0 'delivered', 5 with a message, 0 sent again), 5 items acknowledged"
        in result.stdout
    )
    result = operator.run("import", tmp_path / "return-1.bin")
    assert result.returncode == 0, result.stderr
    assert "5 status updates, 5 acknowledged items deleted" in result.stdout

    from intake.web.lookup import STATUS_TEXT

    for lang in LANGS:
        page = defender.look_up(lang, codes[lang].lower()).text
        with app.test_request_context(f"/{lang}/"):
            from flask import g
            from flask_babel import gettext, refresh

            g.lang = lang
            refresh()
            name = gettext(str(STATUS_TEXT[DECISIONS[lang]][0]._args[0]))
        assert f"<h2>{name}</h2>" in page
        assert MESSAGES[lang].replace("'", "&#39;") in page
        assert 'class="message" dir="auto"' in page
        # The code appears only inside the follow-up form, which must carry it back.
        assert codes[lang] not in page.replace(f'type="hidden" value="{codes[lang]}"', "")
        assert ('data-kind="followup"' in page) == (DECISIONS[lang] == "more_info")

    # Acknowledged items are gone; the two that came later stay and export again.
    assert len(item_ids(site)) == 2
    read2 = tmp_path / "second"
    bundle = tmp_path / "export-2.bin"
    assert operator.run("export", "--out", bundle).returncode == 0
    assert secretariat.run("decrypt", bundle, "--out", read2).returncode == 0
    with open(read2 / "decisions.csv", encoding="utf-8-sig") as f:
        assert {row["reference"] for row in csv.DictReader(f)} == set(later)


def test_follow_up_round_trip(defender, tmp_path, app, client, site, operator, secretariat):
    code = defender.submit("ar", "individual")
    read = export_decrypt(tmp_path, operator, secretariat, "e1")
    secretariat.decide(read, {code: ("more_info", MESSAGES["ar"])})
    assert secretariat.run("reply", read, "--out", tmp_path / "r1.bin").returncode == 0
    assert operator.run("import", tmp_path / "r1.bin").returncode == 0

    page = defender.look_up("ar", code).text
    assert f'name="reference_code" type="hidden" value="{code}"' in page
    token = csrf_token(page)
    response = client.post("/ar/followup", data={"csrf_token": token, "reference_code": code, "message": ""})
    assert response.status_code == 400 and f'value="{code}"' in response.text  # kept for the retry
    response = client.post(
        "/ar/followup",
        data={
            "csrf_token": token,
            "reference_code": code,
            "message": "تاريخ الجلسة هو ١٢ مارس",
            "contact_details": "",
        },
    )
    assert response.status_code == 200 and 'class="code"' not in response.text

    assert operator.run("export", "--out", tmp_path / "e2.bin").returncode == 0
    assert secretariat.run("decrypt", tmp_path / "e2.bin", "--out", read).returncode == 0
    requests = secretariat.requests(read)
    follow = [r for r in requests if r["form"] == "followup"]
    assert len(follow) == 1 and follow[0]["reference"] == code
    assert follow[0]["request"]["fields"]["message"] == "تاريخ الجلسة هو ١٢ مارس"
    with open(read / "decisions.csv", encoding="utf-8-sig") as f:
        rows = [row for row in csv.DictReader(f) if row["reference"] == code]
    assert [row["form"] for row in rows] == ["individual", "followup"]

    # The answer reached the secretariat: the defender is no longer asked for more.
    reply_and_import(operator, secretariat, read, tmp_path / "r2.bin")
    page = defender.look_up("ar", code).text
    from intake.web.lookup import STATUS_TEXT

    assert f"<h2>{translated(app, 'ar', STATUS_TEXT['delivered'][0])}</h2>" in page
    assert 'data-kind="followup"' not in page


def translated(app, lang: str, text) -> str:
    """A lazy string from views.py as the page in `lang` shows it."""
    with app.test_request_context(f"/{lang}/"):
        from flask import g
        from flask_babel import gettext, refresh

        g.lang = lang
        refresh()
        return gettext(str(text._args[0]))


def test_acknowledged_requests_tell_the_defender_they_reached_the_secretariat(
    defender, tmp_path, app, client, operator, secretariat
):
    from intake.web.lookup import STATUS_TEXT

    codes = {lang: defender.submit(lang, "feedback" if lang == "fr" else "individual") for lang in LANGS}
    read = export_decrypt(tmp_path, operator, secretariat, "e1")
    reply_and_import(operator, secretariat, read, tmp_path / "r1.bin")  # nothing decided yet
    for lang in LANGS:
        page = defender.look_up(lang, codes[lang]).text
        name, meaning = (translated(app, lang, text) for text in STATUS_TEXT["delivered"])
        assert f"<h2>{name}</h2>" in page and meaning in page, lang
        waiting = translated(app, lang, STATUS_TEXT["received"][1])
        assert waiting not in page, lang  # no longer "waits to be read": the server has deleted it
        if lang != "en":
            assert name != str(STATUS_TEXT["delivered"][0]), f"{lang}: not translated"


def test_after_gets_past_a_sequence_ahead_of_the_clock(
    defender, tmp_path, client, site, generation, operator, secretariat
):
    """A keyring restored without its .sequence file, on a machine whose clock is behind the last reply."""
    import time

    code = defender.submit("es", "individual")
    read = export_decrypt(tmp_path, operator, secretariat, "e1")
    ahead = int(time.time()) + 10**9  # a reply once made with a clock far ahead, or this one behind
    (tmp_path / "earlier.bin").write_bytes(signed(generation, ahead))
    assert operator.run("import", tmp_path / "earlier.bin").returncode == 0
    assert not Path(str(secretariat.keyring) + ".sequence").exists()  # restored without it

    def reply(name, *flags):
        result = secretariat.run("reply", read, "--out", tmp_path / name, *flags)
        assert result.returncode == 0, result.stderr
        return operator.run("import", tmp_path / name)

    refused = reply("r1.bin")
    assert refused.returncode == 2 and f"not newer than the last one applied ({ahead})" in refused.stderr
    before = drop_box(site)
    assert reply("r2.bin", "--after", ahead).returncode == 0
    assert drop_box(site) != before
    assert status_of(site, code).status == "delivered"
    assert item_ids(site) == []
    assert reply("r3.bin").returncode == 0  # and the replies after it follow on


def signed(generation, sequence=10, updates=(), acks=()):
    return return_bundle.encode(
        return_bundle.ReturnBundle(sequence, "2026-11-21", tuple(updates), tuple(acks)), generation.sign
    )


def hostile_bundles(generation):
    code = refcode.make()
    update = return_bundle.Update(
        refcode.lookup_id(code),
        "accepted",
        "2026-11-21",
        return_bundle.seal_message("x", refcode.reply_key(code).public_key),
    )
    good = signed(generation, 10, [update], [os.urandom(16)])
    flipped = bytearray(good)
    flipped[40] ^= 1
    yield "tampered", bytes(flipped), "signature does not verify"
    yield "truncated", good[:-100], "signature does not verify"
    yield "empty", b"", "too short"
    yield "unsigned", good[:-64] + bytes(64), "signature does not verify"
    yield "another key", signed(Generation.new(), 10, [update]), "signature does not verify"
    yield "replayed", signed(generation, 5, [update]), "not newer than the last one applied (7)"
    yield "same sequence", signed(generation, 7, [update]), "not newer than the last one applied (7)"


@both_engines
def test_forged_tampered_truncated_and_replayed_bundles_change_nothing(
    defender, tmp_path, client, site, generation, operator
):
    code = defender.submit("fr", "feedback")
    first = signed(
        generation,
        7,
        [return_bundle.Update(refcode.lookup_id(refcode.normalise(code)), "in_review", "2026-11-21")],
    )
    (tmp_path / "first.bin").write_bytes(first)
    assert operator.run("import", tmp_path / "first.bin").returncode == 0
    before = drop_box(site)
    for name, data, message in hostile_bundles(generation):
        path = tmp_path / f"{name}.bin"
        path.write_bytes(data)
        result = operator.run("import", path)
        assert result.returncode == 2, name
        assert message in result.stderr and "nothing was changed" in result.stderr, (name, result.stderr)
        assert "Traceback" not in result.stderr
        assert drop_box(site) == before, name


@both_engines
def test_an_import_killed_half_way_changes_all_or_nothing_and_the_next_completes(
    defender, tmp_path, site, generation, operator
):
    codes = [refcode.normalise(defender.submit("en", "feedback")) for _ in range(3)]
    items = item_ids(site)
    updates = [return_bundle.Update(refcode.lookup_id(c), "closed", "2026-11-22") for c in codes]
    # Many more statuses, so that the import takes a while and is killed in the middle of it.
    updates += [return_bundle.Update(os.urandom(32), "in_review", "2026-11-22") for _ in range(20_000)]
    (tmp_path / "big.bin").write_bytes(signed(generation, 20, updates, items))
    before = drop_box(site)
    proc = subprocess.Popen([BIN / "intake", "import", tmp_path / "big.bin"], env=operator.env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    time.sleep(random.uniform(0.05, 1.0))  # wherever it is then: reading, verifying, applying
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    after = drop_box(site)
    applied = after["items"] == []
    assert after == before or (applied and status_of(site, codes[0]).status == "closed"), "half an import"
    result = operator.run("import", tmp_path / "big.bin")  # the operator runs it again
    assert result.returncode == (2 if applied else 0), result.stderr
    assert [status_of(site, c).status for c in codes] == ["closed"] * 3
    assert item_ids(site) == []
    with store_of(site) as store:
        assert store.last_sequence() == 20


def test_reply_refuses_bad_decisions_naming_the_row(defender, tmp_path, client, operator, secretariat):
    code = defender.submit("en", "individual")
    read = export_decrypt(tmp_path, operator, secretariat, "e")
    cases = [
        ((code, "approved", ""), "row 2: unknown status 'approved'"),
        ((code, "", "a message"), "row 2: a message needs a status too"),
        ((code, "accepted", "x" * 3000), "row 2: the message is longer than 2046 bytes"),
        (("ABCDE-FGHJK-MNPQR-STVWX", "accepted", ""), "row 2: the reference code is not valid"),
    ]
    for (reference, status, message), expected in cases:
        with open(read / "decisions.csv", encoding="utf-8-sig", newline="") as f:
            rows = list(csv.DictReader(f))
        rows[0].update(reference=reference, status=status, message=message)
        with open(read / "decisions.csv", "w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=rows[0].keys())
            writer.writeheader()
            writer.writerows(rows)
        result = secretariat.run("reply", read, "--out", tmp_path / "r.bin")
        assert result.returncode == 2 and expected in result.stderr, result.stderr
        assert not (tmp_path / "r.bin").exists()


def test_messages_are_padded_sealed_to_the_code_and_open_only_with_it():
    code, other = refcode.make(), refcode.make()
    short = return_bundle.seal_message("ok", refcode.reply_key(code).public_key)
    long = return_bundle.seal_message("ж" * 1000, refcode.reply_key(code).public_key)
    assert len(short) == len(long) == return_bundle.SEALED_MESSAGE_SIZE
    assert return_bundle.open_message(long, refcode.reply_key(code)) == "ж" * 1000
    with pytest.raises(return_bundle.ReturnError):
        return_bundle.open_message(short, refcode.reply_key(other))


def test_the_status_indexes_are_the_ones_formats_md_gives():
    """A bundle carries a status as its index: the reader and the spec must agree on every one."""
    spec = (ROOT / "docs" / "formats.md").read_text(encoding="utf-8")
    row = next(line for line in spec.splitlines() if "status: index into" in line)
    assert tuple(re.findall(r"`([a-z_]+)`", row)) == STATUSES


def test_unknown_and_mistyped_codes_do_the_same_work(defender, app, client, monkeypatch):
    import intake.web.lookup

    calls = []
    real = refcode.reply_key
    monkeypatch.setattr(intake.web.lookup.refcode, "reply_key", lambda c: calls.append(c) or real(c))
    known = defender.submit("en", "feedback")
    for typed in (known, refcode.display(refcode.make()), "not a code", known[:-1] + "0"):
        before = len(calls)
        with app.test_request_context("/en/status"):
            intake.web.lookup.lookup(typed)
        assert len(calls) == before + 1  # a reply key is derived and a message opening tried every time


_FUZZ_KEY = Generation.new().sign


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=3000),
        st.tuples(st.sampled_from([1, 2, 3]), st.binary(max_size=3000)).map(
            lambda v: return_bundle.MAGIC + bytes([v[0], 0, 0, 0]) + v[1]
        ),
    ),
    st.booleans(),
)
def test_fuzz_return_parser_only_refuses_cleanly(body, sign):
    version = body[8] if len(body) > 8 else 1
    domain = return_bundle.SIGN_DOMAINS.get(version, return_bundle.SIGN_DOMAINS[1])
    data = body + _FUZZ_KEY.sign(domain + body).signature if sign else body
    try:
        bundle = return_bundle.decode(data, _FUZZ_KEY.verify_key)
    except return_bundle.ReturnError:
        return
    # Anything accepted is exactly what it says.
    assert return_bundle.encode(bundle, _FUZZ_KEY, version=version) == data
