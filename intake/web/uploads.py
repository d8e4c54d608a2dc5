"""File parts as they stream in: sealed on the fly into the database, never plaintext on disk."""

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from werkzeug.formparser import FormDataParser, MultiPartParser

from intake.formats.payload import JSONObject
from intake.formats.stream import SEALED_CHUNK, TAG, Sealer
from intake.server.limits import Quota
from intake.server.store import StagedStream, Store
from intake.web.fields import clean

FIELD = "attachments"  # plaintext files, sealed here as they arrive (no JavaScript)
SEALED_FIELD = "sealed_attachment"  # streams the browser already sealed, stored as they are
MAX_NAME = 100
# What a file's declared type may be (RFC 6838's characters, shorter): anything else is stored as
# application/octet-stream. The type is only ever shown, never used to open the file.
_MEDIA_TYPE = re.compile(r"\A[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\Z")


@dataclass(frozen=True)
class Staged:
    """A sealed stream staged in the database, and what the Frame must say about it."""

    stream_id: bytes
    length: int  # the sealed stream's bytes, as stored
    name: str
    type: str
    size: int  # the file's own bytes
    key: bytes | None  # None for a stream the browser sealed (its key is in the browser's Frame)

    def metadata(self) -> JSONObject:
        """The entry of the body payload's "attachments" list (docs/formats.md)."""
        if self.key is None:
            raise ValueError("a stream the browser sealed is described in the browser's Frame")
        return {"name": self.name, "type": self.type, "size": self.size, "key": self.key.hex()}


class Part:
    """One file part: what Werkzeug writes into (write, seek), kept within the request's limits."""

    def __init__(self, uploads: "Uploads", name: str, filename: str | None, content_type: str | None):
        self.uploads, self.field = uploads, name
        self.filename = clean(filename or "")[:MAX_NAME]  # as a typed answer: no control characters
        media_type = (content_type or "").split(";")[0].strip().lower()
        self.content_type = media_type if _MEDIA_TYPE.match(media_type) else "application/octet-stream"
        self.stream: StagedStream | None = None
        self.received = 0
        self.sealer: Sealer | None = None
        if uploads.problem is None and name in (FIELD, SEALED_FIELD):
            try:
                self.stream = uploads.store.stage()
            except uploads.store.db.errors:
                uploads.fail("store_failed")
            else:
                self.sealer = Sealer(self.stream) if name == FIELD else None
                uploads.parts.append(self)

    def write(self, data: bytes) -> int:
        """Seal (or store) a piece; past a limit or a storage error, drop everything and remember why."""
        self.received += len(data)
        self.uploads.received += len(data)
        if self.stream is None or self.uploads.problem:
            return len(data)
        if self.uploads.received > self.uploads.limit(self.field):
            self.uploads.fail("too_large")
            return len(data)
        # Stop at the floor of free disk, not at a full one: a refusal must delete what was staged,
        # and a secure delete writes as much again as it deletes.
        if not self.uploads.quota.disk_has_room(2 * self.uploads.received):
            self.uploads.fail("store_failed")
            return len(data)
        try:
            (self.sealer or self.stream).write(data)
        except self.uploads.store.db.errors:
            self.uploads.fail("store_failed")
        return len(data)

    def seek(self, *args: object) -> int:
        """Werkzeug rewinds a finished part; the stream is write-once, so there is nothing to do."""
        return 0

    @property
    def chosen(self) -> bool:
        """A file the defender chose: an empty file input still sends a part, with no name and no bytes."""
        return bool(self.filename) or self.received > 0

    def finish(self) -> Staged:
        """Seal the last chunk and describe the staged stream."""
        if self.stream is None:
            raise ValueError("only a stored part can be finished")
        size = self.sealer.finish() if self.sealer else self.received
        length = self.stream.finish()
        key = self.sealer.key if self.sealer else None
        return Staged(self.stream.id, length, self.filename, self.content_type, size, key)


class Uploads:
    """The file parts of one request, with the limits that apply to them together."""

    def __init__(self, store: Store, quota: Quota, max_files: int, max_bytes: int):
        self.store, self.quota = store, quota
        self.max_files, self.max_bytes = max_files, max_bytes
        self.parts: list[Part] = []
        self.received = 0
        self.problem: str | None = None  # "too_many", "too_large", "store_failed" or "malformed"

    def limit(self, field: str) -> int:
        """The byte limit for the field's parts together: files as chosen, or as the browser sealed
        them (Padmé adds at most 12%, and each 64 KiB chunk a 16-byte tag)."""
        if field == SEALED_FIELD:
            return self.max_bytes * 9 // 8 + self.max_files * SEALED_CHUNK
        return self.max_bytes

    def part(self, name: str, filename: str | None, content_type: str | None) -> Part:
        """A writer for the next file part (Werkzeug's stream factory calls this)."""
        if name in (FIELD, SEALED_FIELD) and filename and len(self.parts) >= self.max_files:
            self.fail("too_many")
        return Part(self, name, filename, content_type)

    def fail(self, problem: str) -> None:
        """Stop storing anything for this request and free the space at once."""
        self.problem = self.problem or problem
        self.discard()

    def discard(self) -> None:
        """Delete every staged stream no request took (an error, a refusal, the end of a request)."""
        streams = [part.stream.id for part in self.parts if part.stream is not None]
        self.parts = []
        with contextlib.suppress(*self.store.db.errors):  # a stream left behind is swept the next day
            self.store.discard(streams)

    def chosen(self) -> bool:
        """Whether any file part carries a file the defender chose."""
        return any(part.chosen for part in self.parts)

    def finish(self, field: str) -> list[Staged]:
        """Finish every real file of a field (an empty file input sends a part with no name)."""
        staged = []
        for part in [p for p in self.parts if p.field == field]:
            if not part.chosen:
                self.parts.remove(part)
                self.store.discard([part.stream.id] if part.stream else [])
            else:
                staged.append(part.finish())
        if field == SEALED_FIELD and any(s.size < TAG for s in staged):
            self.fail("malformed")
            return []
        return staged


class NamedMultiPartParser(MultiPartParser):
    """Werkzeug's parser, telling the stream factory which field a file part belongs to."""

    def start_file_streaming(self, event, total_content_length):
        """Open the writer for one file part."""
        # NamedFormDataParser passes on SealingRequest._get_file_stream, which takes the field's name.
        factory = cast(Callable[..., Part], self.stream_factory)
        return factory(
            name=event.name, filename=event.filename, content_type=event.headers.get("content-type")
        )


class NamedFormDataParser(FormDataParser):
    """Werkzeug's form parser using NamedMultiPartParser."""

    def _parse_multipart(self, stream, mimetype, content_length, options):
        parser = NamedMultiPartParser(
            stream_factory=self.stream_factory,
            max_form_memory_size=self.max_form_memory_size,
            max_form_parts=self.max_form_parts,
            cls=self.cls,
        )
        boundary = options.get("boundary", "").encode("ascii")
        if not boundary:
            raise ValueError("Missing boundary")
        form, files = parser.parse(stream, boundary, content_length)
        return stream, form, files
