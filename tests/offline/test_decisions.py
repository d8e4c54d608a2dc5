"""decisions.csv as spreadsheets save it: understood whole, or refused naming the row, never half read."""

import os
import shutil
import subprocess
import sys

import pytest

from intake.formats import refcode, return_bundle
from intake.formats.keyring import QUICK, Generation, Keyring, save
from intake.offline.decrypt import decrypt_bundle

from ..actors import Secretariat
from ..conftest import make_item, payload, snapshot

PASSPHRASE = "the decisions passphrase"
HEADER = ["reference", "status", "message", "urgency", "received", "form", "language", "country", "item"]


def spreadsheet(rows, *, sep, encoding, bom=False, newline="\r\n", quote_all=False) -> bytes:
    """A CSV file as Excel and LibreOffice write it.

    A cell is quoted when it holds the separator, a quote or a line break (LibreOffice's "Quote
    all text cells" quotes every cell that is not a number); quotes are doubled; a line break
    inside a cell is LF; every row ends with the program's line ending, the last one too.
    """

    def cell(value: str) -> str:
        if (quote_all and value and not value.replace("-", "").isdigit()) or any(
            c in value for c in (sep, '"', "\n", "\r")
        ):
            return '"' + value.replace('"', '""') + '"'
        return value

    text = "".join(sep.join(cell(v) for v in row) + newline for row in rows)
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding)


@pytest.fixture(scope="module")
def air_gap(tmp_path_factory):
    """Three requests decrypted on the air-gapped machine, and the keyring that signs replies."""
    base = tmp_path_factory.mktemp("decisions")
    generation = Generation.new()
    save(base / "secretariat.keyring", Keyring((generation,)), PASSPHRASE, cost=QUICK)
    (base / "pass.txt").write_text(PASSPHRASE, encoding="utf-8")
    from intake.formats import export_bundle

    items = [make_item(payload(lang), generation) for lang in ("fr", "es", "ar")]
    with open(base / "export.bin", "wb") as f:
        export_bundle.write(f, [(1, os.urandom(16), data) for _, data in items])
    assert decrypt_bundle(base / "export.bin", Keyring((generation,)), base / "pristine").ok
    requests = {r["request"]["lang"]: r for r in Secretariat.requests(base / "pristine")}
    return {"base": base, "generation": generation, "requests": requests}


def fresh(air_gap, tmp_path):
    """A copy of the decrypted folder, as if no reply had been made from it."""
    out = tmp_path / "read"
    shutil.copytree(air_gap["base"] / "pristine", out)
    return out


def reply(air_gap, out, target):
    base = air_gap["base"]
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "intake.offline",
            "reply",
            out,
            "--keyring",
            base / "secretariat.keyring",
            "--passphrase-file",
            base / "pass.txt",
            "--out",
            target,
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )


def row(request, status, message, received=None):
    return [
        request["reference"],
        status,
        message,
        "normal",
        received or request["received"],
        request["form"],
        request["request"]["lang"],
        "Atlantis",
        request["item"],
    ]


def sent(air_gap, target) -> dict:
    """What the server would apply: {code: (status, message as the defender opens it)}."""
    bundle = return_bundle.decode(target.read_bytes(), air_gap["generation"].sign.verify_key)
    by_lookup = {}
    for request in air_gap["requests"].values():
        code = refcode.normalise(request["reference"])
        by_lookup[refcode.lookup_id(code)] = code
    result = {}
    for update in bundle.updates:
        code = by_lookup[update.lookup_id]
        message = update.sealed_message and return_bundle.open_message(
            update.sealed_message, refcode.reply_key(code)
        )
        result[code] = (update.status, message or "")
    return result


# The third request's message uses the characters Windows-1252 has beyond Latin-1.
MESSAGES = {
    "fr": "Merci ; nous vous contacterons.\nÀ bientôt, « l'équipe »",
    "es": '¿Puede enviarnos la fecha de la audiencia? Gracias; "urgente"',
    "ar": "Wir melden uns bald.\nGrüße, „Team“ – 3 € ‰",
}
DECIDED = {"fr": "accepted", "es": "more_info", "ar": "in_review"}

# (program, locale and "Save as" choice; how it writes; how it shows an ISO date after opening)
SAVED = [
    ("Excel, French, CSV (separateur: point-virgule)", {"sep": ";", "encoding": "cp1252"}, "21/11/2026"),
    ("Excel, Spanish, CSV UTF-8", {"sep": ";", "encoding": "utf-8", "bom": True}, "21/11/2026"),
    ("Excel, German, CSV (Trennzeichen-getrennt)", {"sep": ";", "encoding": "cp1252"}, "21.11.2026"),
    (
        "LibreOffice, French, quote all text cells",
        {"sep": ";", "encoding": "utf-8", "newline": "\n", "quote_all": True},
        None,
    ),
    ("LibreOffice, Spanish, Western Europe (Windows-1252)", {"sep": ";", "encoding": "cp1252"}, None),
    ("LibreOffice, English, defaults", {"sep": ",", "encoding": "utf-8", "newline": "\n"}, None),
]


@pytest.mark.parametrize(("program", "how", "date"), SAVED, ids=[s[0] for s in SAVED])
def test_spreadsheets_files_are_read_whole(air_gap, tmp_path, program, how, date):
    out = fresh(air_gap, tmp_path)
    requests = air_gap["requests"]
    rows = [HEADER] + [
        row(requests[lang], DECIDED[lang].upper() if lang == "fr" else DECIDED[lang], MESSAGES[lang], date)
        for lang in ("fr", "es", "ar")
    ]
    (out / "decisions.csv").write_bytes(spreadsheet(rows, **how))
    result = reply(air_gap, out, tmp_path / "return.bin")
    assert result.returncode == 0, result.stderr
    expected = {
        refcode.normalise(requests[lang]["reference"]): (DECIDED[lang], MESSAGES[lang]) for lang in DECIDED
    }
    same = sent(air_gap, tmp_path / "return.bin") == expected  # compared apart: no message in the output
    assert same, f"{program}: the bundle does not carry the decisions as written"
    assert "3 items acknowledged" in result.stdout


def _refusals(requests):
    fr, es = requests["fr"], requests["es"]
    good = [HEADER, row(fr, "accepted", "Merci"), row(es, "declined", "")]
    excel = {"sep": ";", "encoding": "cp1252"}
    yield (
        "status column deleted",
        spreadsheet([r[:1] + r[2:] for r in good], **excel),
        "row 1: the column 'status' is missing",
    )
    yield (
        "a translated header",
        spreadsheet([["Référence", *HEADER[1:]], *good[1:]], **excel),
        "row 1: unknown column 'référence'",
    )
    yield "no header", spreadsheet(good[1:], **excel), "row 1: the header is not understood"
    yield (
        "tab-separated",
        spreadsheet(good, sep="\t", encoding="utf-8"),
        "row 1: the header is not understood",
    )
    unquoted = spreadsheet(good, **excel).replace(b"Merci", b"Merci; au revoir")
    yield "a separator typed outside quotes", unquoted, "row 2: 10 fields, but the header has 9"
    yield "a stray quote", spreadsheet(good, **excel).replace(b";Merci;", b';"Merci" x;'), "row 2: "
    yield (
        "neither UTF-8 nor Windows-1252",
        spreadsheet(good, **excel).replace(b"Merci", b"Merci \x81"),
        "line 2: neither UTF-8 nor Windows-1252",
    )
    russian = [HEADER, row(fr, "declined", "К сожалению, мы не можем поддержать этот запрос.")]
    yield (
        "Russian saved as Windows-1251 (Excel, Russian)",
        spreadsheet(russian, sep=";", encoding="cp1251"),
        "row 2: the message looks like text in another script",
    )
    arabic = [HEADER, row(fr, "accepted", "?????? ??? ????? ?????")]  # what Excel keeps of Arabic in "CSV"
    yield "Arabic lost to question marks", spreadsheet(arabic, **excel), "row 2: the message looks like"
    yield (
        "Unicode text (UTF-16)",
        "\ufeff".encode("utf-16-le") + "\t".join(HEADER).encode("utf-16-le"),
        "saved as UTF-16",
    )
    yield (
        "an item that is not a request here",
        spreadsheet([HEADER, [*row(fr, "accepted", "")[:-1], "1E+25"]], **excel),
        "row 2: the item column does not name a request",
    )
    copied = [HEADER, row(fr, "accepted", ""), row(es, "declined", ""), row(fr, "declined", "")]
    yield (
        "a row copied and decided otherwise",
        spreadsheet(copied, **excel),
        "rows 2 and 4 are for the same request and decide it differently",
    )
    sorted_alone = [HEADER, [*row(fr, "accepted", "")[:-1], es["item"]]]
    yield (
        "one column sorted alone",
        spreadsheet(sorted_alone, **excel),
        "row 2: the reference code and the item belong to different requests",
    )


def test_what_is_not_understood_is_refused_naming_the_row_and_nothing_is_written(air_gap, tmp_path):
    sequence = air_gap["base"] / "secretariat.keyring.sequence"
    for number, (case, data, expected) in enumerate(_refusals(air_gap["requests"])):
        out = fresh(air_gap, tmp_path / str(number))
        (out / "decisions.csv").write_bytes(data)
        before, counter = snapshot(out), sequence.read_bytes() if sequence.exists() else None
        result = reply(air_gap, out, tmp_path / f"return-{number}.bin")
        assert result.returncode == 2, (case, result.stdout, result.stderr)
        assert expected in result.stderr, (case, result.stderr)
        assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1, case
        assert not (tmp_path / f"return-{number}.bin").exists(), case
        assert snapshot(out) == before, case
        assert (sequence.read_bytes() if sequence.exists() else None) == counter, case


def test_decrypt_adds_rows_the_way_the_file_was_saved_and_never_touches_the_others(air_gap, tmp_path):
    out = fresh(air_gap, tmp_path)
    requests = air_gap["requests"]
    rows = [HEADER] + [row(requests[lang], DECIDED[lang], MESSAGES[lang], "21/11/2026") for lang in DECIDED]
    saved = spreadsheet(rows, sep=";", encoding="cp1252")
    (out / "decisions.csv").write_bytes(saved)
    generation = air_gap["generation"]
    from .crafting import honest_entries, made, write_entries

    new = made(generation=generation, country="Côte d’Ivoire 日本")
    write_entries(tmp_path / "more.bin", honest_entries(os.urandom(16), new))
    assert decrypt_bundle(tmp_path / "more.bin", Keyring((generation,)), out).ok
    data = (out / "decisions.csv").read_bytes()
    assert data.startswith(saved)
    added = data[len(saved) :].decode("cp1252")
    assert added.endswith("\r\n") and added.count(";") == len(HEADER) - 1
    assert "Côte d’Ivoire ??" in added  # Windows-1252 has no Japanese: only the new row's country says so

    (out / "decisions.csv").write_bytes(saved.replace(b"reference", b"Referenz"))
    before = (out / "decisions.csv").read_bytes()
    third = made(generation=generation)
    write_entries(tmp_path / "third.bin", honest_entries(os.urandom(16), third))
    report = decrypt_bundle(tmp_path / "third.bin", Keyring((generation,)), out)
    assert report.failures == [
        "decisions.csv row 1: unknown column 'referenz'; the columns are reference, status, message, urgency, "
        "received, form, language, country, item; new requests were not added to it: correct it, then run "
        "decrypt again"
    ]
    assert (out / "decisions.csv").read_bytes() == before
