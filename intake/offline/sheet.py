"""A CSV file as spreadsheets save it: comma or semicolon, UTF-8 (BOM or not) or Windows-1252.

LibreOffice and Excel in French, Spanish or German save with semicolons, and Excel's plain
"CSV" is Windows-1252. Whatever is read here is understood whole, or refused with the row and
the reason: a file half understood must never be acted on.
"""

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from intake.formats.durable import write_atomic

BOM = b"\xef\xbb\xbf"
SEPARATORS = {",": "comma", ";": "semicolon"}


class SheetError(ValueError):
    """A file that is not understood whole; the message names the row (or line) and the reason."""


@dataclass(frozen=True)
class Sheet:
    """What was read, and how it was written, so rows can be added the same way."""

    header: tuple[str, ...]
    rows: tuple[tuple[int, dict[str, str]], ...]  # (row number as a spreadsheet shows it, cells by column)
    separator: str
    encoding: str  # "utf-8" or "cp1252"
    bom: bool
    newline: str

    def describe(self) -> str:
        """How the file was read, in words."""
        encoding = "UTF-8" if self.encoding == "utf-8" else "Windows-1252"
        return f"{SEPARATORS[self.separator]}-separated, {encoding}{' with a BOM' if self.bom else ''}"


def _decode(data: bytes, name: str) -> tuple[str, str, bool]:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SheetError(f'{name} is saved as UTF-16 ("Unicode text"): save it as CSV UTF-8 instead')
    bom = data.startswith(BOM)
    body = data[len(BOM) :] if bom else data
    try:
        return body.decode("utf-8"), "utf-8", bom
    except UnicodeDecodeError as e:
        if bom:
            line = body[: e.start].count(b"\n") + 1
            raise SheetError(f"{name} line {line}: not valid UTF-8, though the file says it is") from None
    try:
        return body.decode("cp1252"), "cp1252", False
    except UnicodeDecodeError as e:
        line = body[: e.start].count(b"\n") + 1
        raise SheetError(
            f"{name} line {line}: neither UTF-8 nor Windows-1252 text: save it as CSV UTF-8"
        ) from None


def _names(line: str, separator: str) -> list[str]:
    try:
        cells = next(csv.reader([line], delimiter=separator), [])
    except csv.Error:
        return []
    return [cell.strip().lower() for cell in cells]


def _header(
    text: str, name: str, columns: tuple[str, ...], required: tuple[str, ...]
) -> tuple[str, list[str]]:
    """Pick the separator that makes the first line a header of known columns."""
    first = text.splitlines()[0] if text else ""
    candidates = {sep: _names(first, sep) for sep in SEPARATORS}
    # The separator under which most cells are column names: the other leaves one long cell.
    separator = max(candidates, key=lambda sep: sum(n in columns for n in candidates[sep]))
    names = candidates[separator]
    if not any(n in columns for n in names):
        raise SheetError(
            f"{name} row 1: the header is not understood: it should name the columns "
            f"{', '.join(columns)}, separated by commas or semicolons"
        )
    for cell in names:
        if cell not in columns:
            raise SheetError(f"{name} row 1: unknown column {cell!r}; the columns are {', '.join(columns)}")
    for cell in names:
        if names.count(cell) > 1:
            raise SheetError(f"{name} row 1: the column {cell!r} appears twice")
    missing = [c for c in required if c not in names]
    if missing:
        raise SheetError(f"{name} row 1: the column {missing[0]!r} is missing; keep {', '.join(required)}")
    return separator, names


def read(path: Path, columns: tuple[str, ...], required: tuple[str, ...]) -> Sheet:
    """Read the whole file, or raise SheetError naming the first row (or line) not understood."""
    path = Path(path)
    text, encoding, bom = _decode(path.read_bytes(), path.name)
    separator, header = _header(text, path.name, columns, required)
    rows = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, strict=True)
    number = 0
    try:
        for number, cells in enumerate(reader, start=1):
            if number == 1 or not cells:
                continue  # the header, or a blank line
            if len(cells) != len(header):
                raise SheetError(
                    f"{path.name} row {number}: {len(cells)} fields, but the header has {len(header)}; "
                    "a separator inside a cell must be in quotes"
                )
            rows.append((number, dict(zip(header, cells, strict=True))))
    except csv.Error as e:
        raise SheetError(f"{path.name} row {number + 1}: {e}") from None
    newline = "\r\n" if "\r\n" in text or "\n" not in text else "\n"
    return Sheet(tuple(header), tuple(rows), separator, encoding, bom, newline)


def new(columns: tuple[str, ...]) -> Sheet:
    """An empty sheet written the way we write new files: comma, UTF-8 with a BOM (for Excel), CRLF."""
    return Sheet(tuple(columns), (), ",", "utf-8", True, "\r\n")


def append(path: Path, sheet: Sheet, rows: list[dict[str, str]]) -> None:
    """Add rows at the end the way the file was written; the bytes already there stay as they are."""
    path = Path(path)
    old = path.read_bytes() if path.exists() else b""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=sheet.separator, lineterminator=sheet.newline)
    if not old:
        writer.writerow(sheet.header)
    writer.writerows([[row.get(column, "") for column in sheet.header] for row in rows])
    # Windows-1252 cannot hold every script: a character it lacks (in a country's name, say)
    # becomes "?" in the rows added here, never in the rows already there.
    added = out.getvalue().encode(sheet.encoding, errors="replace")
    if not old and sheet.bom:
        added = BOM + added
    if old and not old.endswith((b"\n", b"\r")):
        added = sheet.newline.encode("ascii") + added
    write_atomic(path, old + added)


def rewrite(path: Path, sheet: Sheet, rows: list[dict[str, str]]) -> Sheet:
    """Write the whole file again, header and `rows` in order, with the sheet's separator and line
    endings; return how it was written.

    A Windows-1252 file stays so while it can hold the text; one that cannot (an Arabic or Russian
    message) becomes UTF-8 with a BOM, as does a UTF-8 file without one once it holds more than
    ASCII: an ASCII file may have come from Excel's plain "CSV", which reads UTF-8 only with a BOM.
    """
    out = io.StringIO()
    writer = csv.writer(out, delimiter=sheet.separator, lineterminator=sheet.newline)
    writer.writerow(sheet.header)
    writer.writerows([[row.get(column, "") for column in sheet.header] for row in rows])
    text = out.getvalue()
    written = Sheet(
        sheet.header, (), sheet.separator, "utf-8", sheet.bom or not text.isascii(), sheet.newline
    )
    if sheet.encoding == "cp1252":
        try:
            text.encode("cp1252")
            written = sheet
        except UnicodeEncodeError:
            written = Sheet(sheet.header, (), sheet.separator, "utf-8", True, sheet.newline)
    data = text.encode(written.encoding)
    write_atomic(Path(path), BOM + data if written.bom else data)  # a decision survives a power cut
    return written
