"""Deciding in the desk: into decisions.csv, where reply reads it; notes that stay; the bundle shown is the one written."""

import csv
import io
import json
import re
from html import unescape
from pathlib import Path

from intake.formats.return_bundle import MAX_MESSAGE
from intake.offline import ledger

from ..actors import Secretariat
from ..conftest import snapshot
from .helpers import decide_in_desk

ARABIC = "تمت الموافقة على طلبك. سنتواصل معك عبر الطريقة التي اخترتها."
RUSSIAN = "Мы передали ваш запрос партнёрам; они свяжутся с вами."


def test_decisions_saved_in_the_desk_are_what_reply_sends(world):
    ar = world.submit("ar", "individual")
    ru = world.submit("ru", "organisation")
    world.export_decrypt()
    with world.desk() as desk:
        assert decide_in_desk(desk, world.item(ar), "accepted", ARABIC)[0] == 303
        assert decide_in_desk(desk, world.item(ru), "referred", RUSSIAN)[0] == 303
    rows = {row["reference"]: row for row in world.rows()}
    assert (rows[ar]["status"], rows[ar]["message"]) == ("accepted", ARABIC)
    assert (world.out / "decisions.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    # The CLI, unchanged, reads them where the desk wrote them.
    target = world.base / "return.bin"
    result = world.reply(target)
    assert "2 status updates (0 'delivered', 2 with a message" in result.stdout
    assert world.sent(target) == {ar: ("accepted", ARABIC), ru: ("referred", RUSSIAN)}


def test_a_follow_up_is_decided_on_its_own_row_and_the_earlier_row_stays(world):
    code = world.submit("es", "individual", contact_language="es")
    world.export_decrypt()
    with world.desk(passphrase=True) as desk:
        decide_in_desk(desk, world.item(code), "more_info", "¿Cuál es la fecha de la audiencia?")
    world.reply(world.base / "r1.bin")
    assert world.operator.import_(world.base / "r1.bin").returncode == 0
    world.defender.follow_up("es", code, "El 12 de marzo.")  # from the status page, as the site offers
    world.export_decrypt()

    followup = world.item(code, "followup")
    with world.desk() as desk:
        _, _, page = desk.request("GET", f"/case/{world.item(code, 'individual')}")
        assert "answered: needs a decision" in page
        assert "¿Cuál es la fecha de la audiencia?" in unescape(page)  # the question, above the answer
        assert f'name="item" value="{followup}"' in page
        assert decide_in_desk(desk, followup, "accepted", "Aceptada: le escribiremos.")[0] == 303
    rows = [row for row in world.rows() if row["reference"] == code]
    assert [(r["form"], r["status"]) for r in rows] == [("individual", "more_info"), ("followup", "accepted")]
    world.reply(world.base / "r2.bin")  # no row was cleared, and reply accepts the file
    assert world.sent(world.base / "r2.bin")[code] == ("accepted", "Aceptada: le escribiremos.")


def resave_as_excel_in_french(path: Path, note: str = "") -> None:
    """decisions.csv as a French Excel saves it: semicolons, Windows-1252, CRLF (with `note` in the
    message of a row with a status)."""
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))
    if note:
        rows[1][1:3] = ["in_review", note]
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerows(rows)
    path.write_bytes(out.getvalue().encode("cp1252"))


def test_the_file_keeps_the_way_the_spreadsheet_saved_it(world):
    fr = world.submit("fr", "feedback")
    ar = world.submit("ar", "individual")
    world.export_decrypt()
    path = world.out / "decisions.csv"
    resave_as_excel_in_french(path, "Demande reçue, à l'étude.")
    with world.desk() as desk:
        decide_in_desk(desk, world.item(fr), "closed", "Merci : votre remarque a été transmise à l'équipe.")
        data = path.read_bytes()
        assert not data.startswith(b"\xef\xbb\xbf") and data.decode("cp1252").splitlines()[0].count(";") == 8
        assert b"\r\n" in data and "été".encode("cp1252") in data
        # Arabic cannot be written in Windows-1252: the file becomes UTF-8 with a BOM, still with semicolons.
        decide_in_desk(desk, world.item(ar), "accepted", ARABIC)
        data = path.read_bytes()
        assert data.startswith(b"\xef\xbb\xbf") and data.decode("utf-8-sig").splitlines()[0].count(";") == 8
    world.reply(world.base / "r.bin")
    assert world.sent(world.base / "r.bin") == {
        fr: ("closed", "Merci : votre remarque a été transmise à l'équipe."),
        ar: ("accepted", ARABIC),
    }


def test_an_ascii_file_gets_a_bom_with_its_first_accent_so_excel_reads_it_as_utf8(world):
    code = world.submit("es", "individual")
    world.export_decrypt()
    path = world.out / "decisions.csv"
    resave_as_excel_in_french(path)  # nothing but ASCII: it reads as UTF-8 too
    with world.desk() as desk:
        decide_in_desk(desk, world.item(code), "accepted", "Su solicitud fue aceptada.")
        assert path.read_bytes().startswith(b"reference;")  # ASCII still: left as it was
        decide_in_desk(desk, world.item(code), "accepted", "Aceptada: le escribiremos pronto, señora.")
        assert path.read_bytes().startswith(b"\xef\xbb\xbfreference;status;")


def test_a_message_too_long_or_without_a_status_is_refused_and_nothing_changes(world):
    code = world.submit("ru", "individual")
    world.export_decrypt()
    item = world.item(code)
    before = snapshot(world.out)
    longest = "я" * (MAX_MESSAGE // 2)  # 2 bytes each: exactly the limit
    with world.desk() as desk:
        status, page = decide_in_desk(desk, item, "accepted", longest + "!")
        assert status == 400 and "2,047 bytes of UTF-8; at most 2,046" in page
        assert longest + "!" in unescape(page)  # what was typed is kept
        status, page = decide_in_desk(desk, item, "", "a message alone")
        assert status == 400 and "a message needs a status too" in page
        status, page = decide_in_desk(desk, item, "approved", "")
        assert status == 400 and "unknown status" in page
        assert snapshot(world.out) == before
        assert decide_in_desk(desk, item, "accepted", longest)[0] == 303


def test_a_case_that_got_a_newer_request_is_read_before_it_is_decided(world):
    code = world.submit("en", "individual")
    world.export_decrypt()
    item = world.item(code)
    with world.desk() as desk:
        _, _, page = desk.request("GET", f"/case/{item}")
        shown = re.search(r'name="item" value="([0-9a-f]{32})"', page).group(1)
        # A decrypt meanwhile brings a follow-up of the case: one more run's file.
        [newer] = [r for r in Secretariat.requests(world.out) if r["item"] == item]
        newer["item"], newer["form"] = "f" * 32, "followup"
        newer["request"] = {"form": "followup", "lang": "en", "fields": {"message": "later"}}
        (world.out / "requests" / "run-2.jsonl").write_text(json.dumps(newer) + "\n")
        before = snapshot(world.out)
        status, _, page = desk.request(
            "POST", f"/case/{item}/decision", {"item": shown, "status": "accepted", "message": ""}
        )
        assert status == 400 and "A newer request of this case has arrived" in page
        assert snapshot(world.out) == before


def test_notes_stay_on_the_machine(world):
    code = world.submit("fr", "organisation")
    world.export_decrypt()
    item = world.item(code)
    secret = "NOTEMARK: source met in person, do not name"
    with world.desk(passphrase=True) as desk:
        status, _, _ = desk.request("POST", f"/case/{item}/note", {"note": secret})
        assert status == 303
        _, _, page = desk.request("GET", f"/case/{item}?saved=note")
        assert secret in unescape(page) and "Note saved." in page
        decide_in_desk(desk, item, "in_review", "Nous examinons votre demande.")
        _, _, answer = desk.request("GET", "/answer")
        expected = re.search(r'name="expected" value="([0-9a-f]+)"', answer).group(1)
        status, _, _ = desk.request(
            "POST", "/answer", {"expected": expected, "folder": str(world.base / "usb")}
        )
        assert status == 303
    notes = world.out / "notes.json"
    assert json.loads(notes.read_bytes())["notes"] == {code: secret}
    assert notes.stat().st_mode & 0o777 == 0o600
    [bundle] = (world.base / "usb").iterdir()
    assert secret not in str(world.sent(bundle)) and b"NOTEMARK" not in bundle.read_bytes()
    for path in world.out.rglob("*"):
        if path.is_file() and path.name != "notes.json":
            assert b"NOTEMARK" not in path.read_bytes(), path.name


def test_while_another_program_works_in_the_folder_nothing_is_saved(world):
    code = world.submit("en", "feedback")
    world.export_decrypt()
    before = snapshot(world.out)
    with world.desk() as desk, ledger.locked(world.out):
        status, page = decide_in_desk(desk, world.item(code), "closed", "Thank you.")
        assert status == 400 and "another program is working" in page
        status, _, page = desk.request("POST", f"/case/{world.item(code)}/note", {"note": "x"})
        assert status == 400 and "another program is working" in page
    assert snapshot(world.out) == before


def test_the_answer_page_shows_exactly_what_the_bundle_carries(world):
    codes = [world.submit(lang, "individual", contact_language=lang) for lang in ("ar", "ru", "en")]
    world.export_decrypt()
    with world.desk() as desk:
        decide_in_desk(desk, world.item(codes[0]), "accepted", ARABIC)
        decide_in_desk(desk, world.item(codes[1]), "declined", RUSSIAN)
        _, _, page = desk.request("GET", "/answer")
        shown = {}
        for row in re.findall(r"<tr><td>(.*?)</tr>", page, re.S):
            cells = re.findall(r"<td>(.*?)</td>", "<td>" + row, re.S)
            text = [unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells]
            shown[text[0]] = (text[1], text[3])
        assert shown == {
            codes[0]: ("accepted", ARABIC),
            codes[1]: ("declined", RUSSIAN),
            codes[2]: ("delivered", ""),
        }
        assert "Acknowledgements (3)" in page
        expected = re.search(r'name="expected" value="([0-9a-f]+)"', page).group(1)
        sequence = Path(str(world.secretariat.keyring) + ".sequence")

        # A wrong passphrase writes nothing; a decision changed since the page was shown neither.
        form = {"expected": expected, "folder": str(world.base / "usb"), "passphrase": "not the passphrase"}
        status, _, refused = desk.request("POST", "/answer", form)
        assert status == 400 and "Nothing was written: wrong passphrase" in refused
        decide_in_desk(desk, world.item(codes[2]), "closed", "")
        form["passphrase"] = Secretariat.PASSPHRASE
        status, _, refused = desk.request("POST", "/answer", form)
        assert status == 400 and "has changed since it was shown" in refused
        assert not (world.base / "usb").exists() or not list((world.base / "usb").iterdir())
        assert not sequence.exists()

        _, _, page = desk.request("GET", "/answer")
        form["expected"] = re.search(r'name="expected" value="([0-9a-f]+)"', page).group(1)
        status, headers, _ = desk.request("POST", "/answer", form)
        assert status == 303 and headers["Location"].endswith("/answer")
        _, _, page = desk.request("GET", "/answer")
        assert "Wrote " in page and "Carry it to the operator" in page
    [bundle] = (world.base / "usb").iterdir()
    assert world.sent(bundle) == {
        codes[0]: ("accepted", ARABIC),
        codes[1]: ("declined", RUSSIAN),
        codes[2]: ("closed", ""),
    }
    assert sequence.exists() and bundle.stat().st_mode & 0o777 == 0o600
    assert world.operator.import_(bundle).returncode == 0
