"""Attachments on the air-gapped side: decrypted into the request's folder under names we choose."""

import io
import os
import re

from ..attachments import StreamError, open_stream

_EXTENSION = re.compile(r"\A\.[a-z0-9]{1,8}\Z")
# Formats that often carry who made them, where and on what (EXIF, GPS, author, edit history).
_METADATA_EXTENSIONS = {
    ".jpg", ".jpeg", ".png", ".heic", ".heif", ".tif", ".tiff", ".gif", ".webp", ".pdf", ".doc", ".docx",
    ".xls", ".xlsx", ".ppt", ".pptx", ".odt", ".ods", ".odp", ".mp4", ".mov", ".m4a", ".mp3", ".wav",
}  # fmt: skip
_METADATA_TYPES = ("image/", "video/", "audio/", "application/pdf", "application/msword",
                   "application/vnd.openxmlformats", "application/vnd.oasis")  # fmt: skip


def safe_name(number: int, name: str) -> str:
    """attachment-<n><ext>: never a path from the bundle; the extension only if it is plain."""
    extension = os.path.splitext(name)[1].lower()
    return f"attachment-{number}{extension if _EXTENSION.match(extension) else '.bin'}"


def carries_metadata(name: str, declared_type: str) -> bool:
    """True for file types that often hide identifying metadata."""
    extension = os.path.splitext(name)[1].lower()
    return extension in _METADATA_EXTENSIONS or declared_type.lower().startswith(_METADATA_TYPES)


def decrypt_into(folder: str, number: int, meta: dict, data: bytes) -> dict:
    """Decrypt one stream into `folder`; return its entry for request.json (file or problem)."""
    entry = {"name": meta["name"], "type": meta["type"], "size": meta["size"], "file": None, "problem": None}
    target = os.path.join(folder, safe_name(number, meta["name"]))
    try:
        with open(target, "xb") as out:
            open_stream(io.BytesIO(data), bytes.fromhex(meta["key"]), meta["size"], out)
    except StreamError as e:
        os.unlink(target)
        entry["problem"] = str(e)
    else:
        entry["file"] = os.path.basename(target)
    return entry
