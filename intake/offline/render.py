"""What pages and sheets share about a request: urgency, its order, its summary, a spreadsheet-safe CSV."""

import csv
import io
import unicodedata

from intake.formats.payload import JSONObject

URGENCY_RANK = {"critical": 0, "high": 1, "normal": 2}
URGENCY_LABEL = {"critical": "CRITICAL (days)", "high": "high (weeks)", "normal": "normal"}
COLUMNS = ("urgency", "received", "form", "reference", "language", "country", "origin", "item", "page")


def urgency(request: JSONObject) -> str:
    """Return the request's urgency, treating anything unknown as normal."""
    value = request["request"]["fields"].get("urgency")
    return value if isinstance(value, str) and value in URGENCY_RANK else "normal"


def sort_key(request: JSONObject) -> tuple[int, str, str]:
    """Urgent first, then oldest first, then by item id so the order is stable."""
    return (URGENCY_RANK[urgency(request)], request["received"], request["item"])


METADATA_ADVICE = (
    "This kind of file often carries hidden metadata (GPS position, device, author, edit history) "
    "that can identify the sender. Do not pass it on before removing it: see docs/secretariat.md, "
    "section 3, for mat2 on this machine."
)
INERT_ADVICE = (
    "Saved as inert data (.bin): the name the sender gave does not end in a format that opens "
    "without running anything (images, plain text, sound, video). Documents such as PDF and "
    "office files, archives, web pages and programs can carry scripts. Do not open it unless "
    "you know what it is: docs/secretariat.md, section 3, says how to check it and open a copy safely."
)


def visible(text: str) -> str:
    """Show invisible and direction-changing characters as [U+XXXX], so a name cannot disguise itself.

    A right-to-left override makes "invoice<U+202E>gpj.exe" read as "invoiceexe.jpg".
    """
    return "".join(f"[U+{ord(c):04X}]" if unicodedata.category(c) in _INVISIBLE else c for c in text)


_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def summary_row(request: JSONObject) -> dict[str, str]:
    """The columns of index.csv (and decisions.csv) for one request."""
    country = request["request"]["fields"].get("country", "")
    return {
        "urgency": urgency(request),
        "received": request["received"],
        "form": request["form"],
        "reference": request["reference"],
        "language": request["request"]["lang"],
        "country": country if isinstance(country, str) else "",
        "origin": request["origin"],
    }


_FORMULA = frozenset("=+-@")
# Characters a reader does not see before the first visible one: spaces of every kind, line
# breaks, controls, format characters (zero-width space, BOM, direction marks), lone combining
# marks, unassigned and private-use code points, and the Hangul and Braille blanks.
_UNSEEN = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn", "Mn", "Me"})
_BLANKS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def _first_seen(value: str) -> str:
    # NFKC one character at a time: it maps a full-width ＝ to "=", and unlike NFKC of the whole
    # text it cannot compose "=" and a following U+0338 into "≠" and hide the "=".
    for raw in value:
        for char in unicodedata.normalize("NFKC", raw):
            if unicodedata.category(char) not in _UNSEEN and char not in _BLANKS:
                return char
    return ""


def defuse(value: str) -> str:
    """Keep a spreadsheet from running a cell as a formula: prefix "'" if one could start it.

    Looks past every character a reader does not see to the first one they do, so a formula
    behind a space, a tab, a line break, a no-break or zero-width space or a BOM, or written
    with full-width signs, is defused too.
    """
    return "'" + value if value[:1] in ("\t", "\r") or _first_seen(value) in _FORMULA else value


def index_csv(requests: list[JSONObject], shown: dict[str, str]) -> str:
    """Return the list as CSV, urgent first, each with the page that `shown` says shows it, with
    formula-like cells defused."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for request in sorted(requests, key=sort_key):
        row = summary_row(request) | {"item": request["item"], "page": shown[request["item"]]}
        writer.writerow({k: defuse(v) for k, v in row.items()})
    return out.getvalue()
