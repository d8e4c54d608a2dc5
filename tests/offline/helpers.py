"""What only the desk's tests need: a site whose requests the secretariat decrypted, and deciding in
the desk as its page does. The people are tests/actors.py's, the fixtures tests/conftest.py's."""

import csv
import io
import re
from pathlib import Path

from intake.formats import refcode, return_bundle

from ..actors import Defender, Desk, Operator, Secretariat


class World:
    """The real site, its operator's commands and the secretariat's machine, with one folder of
    decrypted requests (`out`) that the desk works in."""

    def __init__(
        self, defender: Defender, operator: Operator, secretariat: Secretariat, generation, base: Path
    ):
        self.defender, self.operator, self.secretariat = defender, operator, secretariat
        self.generation, self.base = generation, base
        self.out = base / "requests"
        self.exports = 0

    def submit(self, lang: str, form: str, **answers) -> str:
        """A defender sends valid answers (with these changes); return the reference code."""
        return self.defender.submit(lang, form, "DECMARK", **answers)

    def export(self) -> Path:
        """The operator exports the drop box into a new bundle."""
        self.exports += 1
        return self.operator.export(self.base / f"export-{self.exports}.bin")

    def export_decrypt(self, *more) -> None:
        """Export, and decrypt the bundle into the folder."""
        self.secretariat.decrypt(self.export(), self.out, *more)

    def reply(self, target: Path, *more):
        """`intake-offline reply` from the folder into `target`; return what it printed."""
        result = self.secretariat.run("reply", self.out, "--out", target, *more)
        assert result.returncode == 0, result.stderr
        return result

    def desk(self, **options):
        """The desk on the folder (Secretariat.desk's options)."""
        return self.secretariat.desk(self.out, **options)

    def item(self, code: str, form: str | None = None) -> str:
        """The item of the code's request (of that form) in the folder."""
        for request in self.secretariat.requests(self.out):
            if request["reference"] == code and (form is None or request["form"] == form):
                return request["item"]
        raise AssertionError("no such request")

    def sent(self, target: Path) -> dict:
        """{code: (status, message)} as the defender's status page would find them."""
        bundle = return_bundle.decode(target.read_bytes(), self.generation.sign.verify_key)
        found = {}
        for request in self.secretariat.requests(self.out):
            code = refcode.normalise(request["reference"])
            for update in bundle.updates:
                if update.lookup_id == refcode.lookup_id(code):
                    sealed = update.sealed_message
                    text = return_bundle.open_message(sealed, refcode.reply_key(code)) if sealed else ""
                    found[refcode.display(code)] = (update.status, text)
        return found

    def rows(self) -> list[dict]:
        """decisions.csv as a spreadsheet reads it, whatever separator and encoding it was saved in."""
        data = (self.out / "decisions.csv").read_bytes()
        text = data.decode("utf-8-sig") if data.startswith(b"\xef\xbb\xbf") else data.decode("cp1252")
        separator = ";" if text.splitlines()[0].count(";") > text.splitlines()[0].count(",") else ","
        return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=separator))


def decide_in_desk(desk: Desk, item: str, status: str, message: str) -> tuple[int, str]:
    """Open the case as its page shows it, and save a decision with its form."""
    code, _, page = desk.request("GET", f"/case/{item}")
    assert code == 200, page[:300]
    newest = re.search(r'name="item" value="([0-9a-f]{32})"', page).group(1)
    code, _, page = desk.request(
        "POST", f"/case/{item}/decision", {"item": newest, "status": status, "message": message}
    )
    return code, page
