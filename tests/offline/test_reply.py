"""reply: each status sent once, with the day it was decided; the newest decision wins; re-sending."""

import csv
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from intake.formats import refcode, return_bundle
from intake.formats.keyring import QUICK, Generation, Keyring, save
from intake.offline.decrypt import decrypt_bundle

from ..actors import Secretariat
from ..conftest import first_start, import_return, status_of
from .crafting import honest_entries, made, write_entries

PASSPHRASE = "the reply passphrase is long"


class Request(dict):
    """request.json, shown in test output by its item id alone (never its code or content)."""

    def __repr__(self) -> str:
        return f"<request {self['item']}>"


class AirGap:
    """The secretariat's machine: a keyring, a folder of decrypted requests, the real command."""

    def __init__(self, base: Path):
        self.base = base
        self.generation = Generation.new()
        self.keyring = base / "secretariat.keyring"
        save(self.keyring, Keyring((self.generation,)), PASSPHRASE, cost=QUICK)
        (base / "pass.txt").write_text(PASSPHRASE, encoding="utf-8")
        self.out = base / "requests"
        self.replies = 0

    def receive(self, *bodies) -> list[dict]:
        """Decrypt a bundle of requests with these payloads; return their request.json."""
        entries, ids = [], []
        for body in bodies:
            ids.append(os.urandom(16))
            entries += honest_entries(ids[-1], made(generation=self.generation, **body))
        path = self.base / f"export-{len(list(self.base.glob('export-*')))}.bin"
        write_entries(path, entries)
        assert decrypt_bundle(path, Keyring((self.generation,)), self.out).ok
        decrypted = {r["item"]: r for r in Secretariat.requests(self.out)}
        return [Request(decrypted[i.hex()]) for i in ids]

    def decide(self, choices: dict) -> None:
        """Fill in decisions.csv as in a spreadsheet: item -> (status, message)."""
        path = self.out / "decisions.csv"
        with open(path, encoding="utf-8-sig", newline="") as f:
            rows = list(csv.DictReader(f))
        for row in rows:
            if row["item"] in choices:
                row["status"], row["message"] = choices[row["item"]]
        with open(path, "w", encoding="utf-8-sig", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=rows[0].keys(), lineterminator="\r\n")
            writer.writeheader()
            writer.writerows(rows)

    def reply(self, *flags, status=0):
        """Run reply; return (the bundle, stdout)."""
        self.replies += 1
        target = self.base / f"return-{self.replies}.bin"
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "intake.offline",
                "reply",
                self.out,
                "--keyring",
                self.keyring,
                "--passphrase-file",
                self.base / "pass.txt",
                "--out",
                target,
                *map(str, flags),
            ],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode == status, result.stderr
        if status:
            return None, result.stderr
        return target, result.stdout

    def updates(self, target: Path, requests) -> dict:
        """{item of the request's code: (status, message, day)} as the server would file them."""
        bundle = return_bundle.decode(target.read_bytes(), self.generation.sign.verify_key)
        found = {}
        for request in requests:
            code = refcode.normalise(request["reference"])
            for update in bundle.updates:
                if update.lookup_id == refcode.lookup_id(code):
                    sealed = update.sealed_message
                    message = return_bundle.open_message(sealed, refcode.reply_key(code)) if sealed else ""
                    found[request["item"]] = (update.status, message, update.day)
        return found


class Server:
    """The operator's side: the real importer, the status records a defender's lookup reads."""

    def __init__(self, base: Path, generation: Generation):
        self.site = {"INTAKE_DATA_DIR": str(base / "server"), "INTAKE_KEYS_DIR": str(base / "keys")}
        first_start(self.site)
        self.verify = generation.sign.verify_key

    def apply(self, target: Path) -> None:
        import_return(self.site, target.read_bytes(), self.verify)

    def seen(self, request) -> tuple[str, str]:
        """What the defender's status page shows: the status and its day."""
        found = status_of(self.site, request["reference"])
        return (found.status, found.day) if found else None


def today() -> set[str]:
    now = datetime.date.today()
    return {now.isoformat(), (now + datetime.timedelta(days=1)).isoformat()}  # a run across midnight


@pytest.fixture
def air(tmp_path):
    return AirGap(tmp_path)


def test_a_status_is_sent_once_with_the_day_it_was_decided(air, tmp_path):
    server = Server(tmp_path, air.generation)
    a, b = air.receive({}, {"lang": "ar"})
    air.decide({a["item"]: ("accepted", "We will contact you.")})
    first, _ = air.reply()
    [(status, message, day)] = [v for k, v in air.updates(first, [a, b]).items() if k == a["item"]]
    assert (status, message) == ("accepted", "We will contact you.") and day in today()
    server.apply(first)

    second, stdout = air.reply()  # a week later, say, with new requests decided or not
    assert a["item"] not in air.updates(second, [a, b])  # not sent again, so not re-dated
    assert "1 decisions were sent by earlier replies and not again" in stdout
    server.apply(second)
    assert server.seen(a) == ("accepted", day)

    air.decide({a["item"]: ("accepted", "We will contact you on Monday.")})  # a changed decision
    third, _ = air.reply()
    assert air.updates(third, [a])[a["item"]][:2] == ("accepted", "We will contact you on Monday.")
    assert air.updates(third, [a])[a["item"]][2] in today()
    server.apply(third)


def test_a_lost_bundle_is_sent_again_with_the_days_decided(air, tmp_path):
    server = Server(tmp_path, air.generation)
    a, b = air.receive({}, {})
    air.decide({a["item"]: ("declined", ""), b["item"]: ("in_review", "Soon.")})
    lost, _ = air.reply()
    ledger = json.loads((air.out / "ledger.json").read_bytes())
    ledger["codes"][a["reference"]]["decided"] = "2026-11-14"
    (air.out / "ledger.json").write_text(json.dumps(ledger), encoding="utf-8")
    lost.unlink()  # the USB stick was lost on the way

    nothing, _ = air.reply()
    assert air.updates(nothing, [a, b]) == {}
    again, stdout = air.reply("--resend")
    sent = air.updates(again, [a, b])
    assert sent[a["item"]] == ("declined", "", "2026-11-14")
    assert sent[b["item"]][:2] == ("in_review", "Soon.") and sent[b["item"]][2] in today()
    assert "2 sent again" in stdout
    server.apply(nothing)
    server.apply(again)  # newer than the last applied: accepted
    assert server.seen(a) == ("declined", "2026-11-14")


def test_the_newest_decision_for_a_code_wins(air):
    [first] = air.receive({"urgency": "critical"})
    air.decide({first["item"]: ("more_info", "When is the hearing?")})
    air.reply()
    answer = {"form": "followup", "reference_code": first["reference"], "message": "12 March"}
    [follow] = air.receive(answer)
    same_code = follow["reference"] == first["reference"]
    assert same_code, "the follow-up is filed under another code"
    # The secretariat decides on the follow-up's row and leaves more_info on the first row.
    air.decide({follow["item"]: ("accepted", "We will contact you.")})
    target, _ = air.reply()
    assert air.updates(target, [first])[first["item"]][:2] == ("accepted", "We will contact you.")
    # Sorting the sheet (newest rows first) changes nothing: the requests' own days and kinds decide.
    path = air.out / "decisions.csv"
    lines = path.read_bytes().split(b"\r\n")
    path.write_bytes(b"\r\n".join([lines[0], *reversed([line for line in lines[1:] if line])]) + b"\r\n")
    target, _ = air.reply()
    assert air.updates(target, [first]) == {}


def test_acknowledged_requests_say_they_reached_the_secretariat(air, tmp_path):
    server = Server(tmp_path, air.generation)
    waiting, decided = air.receive({}, {"lang": "ru"})
    air.decide({decided["item"]: ("accepted", "")})
    first, stdout = air.reply()
    sent = air.updates(first, [waiting, decided])
    assert sent[waiting["item"]][:2] == ("delivered", "") and sent[waiting["item"]][2] in today()
    assert sent[decided["item"]][:2] == ("accepted", "")
    assert "2 status updates (1 'delivered', 0 with a message, 0 sent again)" in stdout
    server.apply(first)
    assert server.seen(waiting)[0] == "delivered"
    second, _ = air.reply()
    assert air.updates(second, [waiting, decided]) == {}  # once


def test_an_answer_to_more_info_is_no_longer_asked_for(air, tmp_path):
    server = Server(tmp_path, air.generation)
    [first] = air.receive({})
    air.decide({first["item"]: ("more_info", "Which court?")})
    asked, _ = air.reply()
    server.apply(asked)
    [answer] = air.receive({"form": "followup", "reference_code": first["reference"], "message": "Kyiv"})
    arrived, _ = air.reply()  # the more_info row is still there; the answer is newer
    sent = air.updates(arrived, [first])
    assert sent[first["item"]][:2] == ("delivered", "")
    server.apply(arrived)
    assert server.seen(first)[0] == "delivered"  # the status page no longer asks for more
    air.decide({answer["item"]: ("referred", "A partner will contact you.")})
    decided, _ = air.reply()
    assert air.updates(decided, [first])[first["item"]][:2] == ("referred", "A partner will contact you.")
