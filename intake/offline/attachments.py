"""Attachments on the air-gapped side: decrypted into the request's folder under names we choose."""

import io
import os

from intake.formats.payload import JSONObject
from intake.formats.stream import StreamError, open_stream

# Formats that keep their extension: a browser shows them without running anything (or cannot
# show them and saves them), and a desktop opens them in a viewer or player that runs nothing
# from the file. PDF, office documents, archives, SVG, HTML and the rest can carry scripts or
# other files, so they are written as inert data (.bin). docs/decisions.md, issue 11, says why.
PASSIVE_EXTENSIONS = frozenset(
    {
        ".jpg",
        ".jpeg",
        ".png",
        ".gif",
        ".webp",
        ".heic",
        ".heif",
        ".tif",
        ".tiff",
        ".txt",
        ".mp3",
        ".m4a",
        ".wav",
        ".ogg",
        ".opus",
        ".mp4",
        ".mov",
        ".webm",
    }
)
INERT = ".bin"
# Formats that often carry who made them, where and on what (EXIF, GPS, author, edit history).
_METADATA_EXTENSIONS = {
    ".jpg",
    ".jpeg",
    ".png",
    ".heic",
    ".heif",
    ".tif",
    ".tiff",
    ".gif",
    ".webp",
    ".pdf",
    ".doc",
    ".docx",
    ".xls",
    ".xlsx",
    ".ppt",
    ".pptx",
    ".odt",
    ".ods",
    ".odp",
    ".mp4",
    ".mov",
    ".m4a",
    ".mp3",
    ".wav",
}
_METADATA_TYPES = (
    "image/",
    "video/",
    "audio/",
    "application/pdf",
    "application/msword",
    "application/vnd.openxmlformats",
    "application/vnd.oasis",
)


def safe_name(number: int, name: str) -> str:
    """attachment-<n><ext>: never a path from the bundle; the extension only if it is passive."""
    extension = os.path.splitext(name)[1]
    extension = extension.lower() if extension.isascii() else INERT
    return f"attachment-{number}{extension if extension in PASSIVE_EXTENSIONS else INERT}"


def is_inert(file_name: str) -> bool:
    """True for a file written as inert data, whatever the sender said it was."""
    return file_name.endswith(INERT)


def carries_metadata(name: str, declared_type: str) -> bool:
    """True for file types that often hide identifying metadata."""
    extension = os.path.splitext(name)[1].lower()
    return extension in _METADATA_EXTENSIONS or declared_type.lower().startswith(_METADATA_TYPES)


def decrypt_into(folder: str, number: int, meta: JSONObject, data: bytes) -> JSONObject:
    """Decrypt one stream into `folder`; return its entry for request.json (file or problem)."""
    entry = {"name": meta["name"], "type": meta["type"], "size": meta["size"], "file": None, "problem": None}
    target = os.path.join(folder, safe_name(number, meta["name"]))
    try:
        with os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
            open_stream(io.BytesIO(data), bytes.fromhex(meta["key"]), meta["size"], out)
    except StreamError as e:
        os.unlink(target)
        entry["problem"] = str(e)
    else:
        entry["file"] = os.path.basename(target)
    return entry
