"""Readable renderings of decrypted requests: escaped HTML pages and a spreadsheet-safe CSV."""

import csv
import io
import unicodedata
from collections.abc import Iterator
from html import escape

from intake.formats.payload import JSONObject
from intake.offline import attachments

URGENCY_RANK = {"critical": 0, "high": 1, "normal": 2}
URGENCY_LABEL = {"critical": "CRITICAL (days)", "high": "high (weeks)", "normal": "normal"}
COLUMNS = ("urgency", "received", "form", "reference", "language", "country", "origin", "folder")

# Local files, opened from disk: forbid everything but our own inline style, so a hostile
# request cannot run script or fetch anything even if escaping were ever wrong.
_HEAD = """<!doctype html>
<html lang="{lang}" dir="{dir}">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="referrer" content="no-referrer">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 1rem auto; padding: 0 1rem; }}
dt {{ font-weight: bold; margin-top: .8rem; }}
dd {{ white-space: pre-wrap; margin-inline-start: 1rem; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #999; padding: .3rem .5rem; }}
.critical {{ background: #fdd; font-weight: bold; }} .high {{ background: #ffe9c7; }}
.code {{ font-family: monospace; font-size: 1.1rem; }}
.warning {{ background: #fff4d6; padding: .3rem .5rem; }}
</style>
</head>
<body>
"""


def urgency(request: JSONObject) -> str:
    """Return the request's urgency, treating anything unknown as normal."""
    value = request["request"]["fields"].get("urgency")
    return value if isinstance(value, str) and value in URGENCY_RANK else "normal"


def sort_key(request: JSONObject) -> tuple[int, str, str]:
    """Urgent first, then oldest first, then by item id so the order is stable."""
    return (URGENCY_RANK[urgency(request)], request["received"], request["item"])


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _code(reference: str) -> str:
    return f'<bdi dir="ltr" class="code">{escape(reference)}</bdi>'


def request_html(request: JSONObject) -> str:
    """Render one request; every value is escaped and shown in its own direction."""
    body = request["request"]
    lang = body["lang"]
    level = urgency(request)
    parts = [
        _HEAD.format(lang=lang, dir="rtl" if lang == "ar" else "ltr", title="Request"),
        f"<h1>Request {_code(request['reference'])}</h1>",
        f'<p class="{level}">Urgency: {escape(URGENCY_LABEL[level])}</p>',
        "<dl>",
    ]
    meta = [
        ("Received", request["received"]),
        ("Form", request["form"]),
        ("Language", lang),
        ("Sealed in", request["origin"]),
    ]
    for label, value in meta:
        parts.append(f"<dt>{escape(label)}</dt><dd>{escape(value)}</dd>")
    parts.append("</dl><h2>What the sender wrote</h2><dl>")
    for name, value in body["fields"].items():
        values = value if isinstance(value, list) else [value]
        shown = "\n".join(escape(v) for v in values)
        parts.append(f'<dt dir="auto">{escape(_label(name))}</dt><dd dir="auto">{shown}</dd>')
    parts.append("</dl>")
    parts.extend(_attachments_html(request.get("attachments", [])))
    parts.append("\n</body>\n</html>\n")
    return "".join(parts)


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


def _as_text(value: str) -> str:
    return f'<bdi dir="auto">{escape(visible(value))}</bdi>'


def _attachments_html(entries: list[JSONObject]) -> Iterator[str]:
    """Each file as a download (never a link to open), with what the sender said about it as text.

    Browsers may ignore `download` on local pages (Chromium does, on file://), so what keeps a
    click harmless is the name the file was written under: only passive formats keep theirs.
    """
    if not entries:
        return
    yield f"<h2>Attachments ({len(entries)})</h2><ol>"
    for entry in entries:
        about = f"sent as {_as_text(entry['name'])}, declared type {_as_text(entry['type'])}, {entry['size']:,} bytes"
        if entry.get("file"):
            file = escape(entry["file"])
            yield f'<li><a href="{file}" download="{file}">{file}</a>: {about}'
            if attachments.is_inert(entry["file"]):
                yield f'<p class="warning">{escape(INERT_ADVICE)}</p>'
            if attachments.carries_metadata(entry["name"], entry["type"]):
                yield f'<p class="warning">{escape(METADATA_ADVICE)}</p>'
            yield "</li>"
        else:
            yield f'<li class="critical">NOT DECRYPTED: {about}: {escape(entry.get("problem") or "")}</li>'
    yield "</ol>"


def summary_row(request: JSONObject) -> dict[str, str]:
    """The columns of index.html and index.csv for one request."""
    country = request["request"]["fields"].get("country", "")
    return {
        "urgency": urgency(request),
        "received": request["received"],
        "form": request["form"],
        "reference": request["reference"],
        "language": request["request"]["lang"],
        "country": country if isinstance(country, str) else "",
        "origin": request["origin"],
        "folder": f"requests/{request['item']}",
    }


def index_html(requests: list[JSONObject]) -> str:
    """Render the list of all requests, urgent first, each linking to its own page."""
    parts = [
        _HEAD.format(lang="en", dir="ltr", title="Requests"),
        f"<h1>Requests ({len(requests)})</h1>\n<table>\n<tr>",
        "".join(f"<th>{c}</th>" for c in COLUMNS),
        "</tr>\n",
    ]
    for request in sorted(requests, key=sort_key):
        row = summary_row(request)
        cells = [
            escape(row["urgency"]),
            escape(row["received"]),
            escape(row["form"]),
            _code(row["reference"]),
            escape(row["language"]),
            f'<bdi dir="auto">{escape(row["country"])}</bdi>',
            escape(row["origin"]),
            f'<a href="{escape(row["folder"])}/request.html">{escape(row["folder"])}</a>',
        ]
        level = row["urgency"]
        parts.append(f'<tr class="{level}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>\n")
    parts.append("</table>\n</body>\n</html>\n")
    return "".join(parts)


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


def index_csv(requests: list[JSONObject]) -> str:
    """Return the list as CSV, urgent first, with formula-like cells defused."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for request in sorted(requests, key=sort_key):
        writer.writerow({k: defuse(v) for k, v in summary_row(request).items()})
    return out.getvalue()
