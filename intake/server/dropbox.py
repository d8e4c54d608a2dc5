"""The drop box: sealed items on disk, named by the server, written durably, ciphertext only."""

import os
import re
import secrets
from collections.abc import Iterator, Sequence
from pathlib import Path

from intake.formats.durable import fsync_dir, make_dir, stamp, write_atomic
from intake.formats.item import ITEM_SIZE

_NAME = re.compile(r"\A[0-9a-f]{32}\.item\Z")  # the only names the drop box creates or reads,
_ATTACHMENT = re.compile(r"\A[0-9a-f]{32}-[0-9]{1,2}\.att\Z")  # with its attachments: <id>-<k>.att


class DropBox:
    """A folder of `<random id>.item` files, each exactly one drop-box item."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def item_path(self, item_id: bytes) -> Path:
        path = self.root / f"{item_id.hex()}.item"
        if not _NAME.match(path.name) or path.parent != self.root:
            raise ValueError("not a drop-box item id")
        return path

    def attachment_paths(self, item_id: bytes) -> list[Path]:
        """The item's sealed attachment streams, in order."""
        prefix = f"{item_id.hex()}-"
        names = [n for n in os.listdir(self.root) if n.startswith(prefix) and _ATTACHMENT.match(n)]
        return [self.root / n for n in sorted(names, key=lambda n: int(n[33:-4]))]

    def save_item(self, data: bytes, staged: Sequence[Path] = ()) -> bytes:
        """Store an item durably, its staged attachments first; return its random id.

        The item is written last (tmp, fsync, link, fsync dir): an item never exists without
        its attachments, and attachments without an item are never exported.
        """
        if len(data) != ITEM_SIZE:
            raise ValueError("a drop-box item has a fixed size")
        make_dir(self.root)
        item_id = secrets.token_bytes(16)
        attachments = [self.root / f"{item_id.hex()}-{number}.att" for number in range(1, len(staged) + 1)]
        for source, target in zip(staged, attachments, strict=True):
            os.replace(source, target)
        stamp(*attachments)
        write_atomic(self.item_path(item_id), data, mode=0o600, replace=False)
        return item_id

    def item_ids(self) -> list[bytes]:
        """Every complete item, in name order (temporary files are never listed)."""
        if not self.root.is_dir():
            return []
        return [bytes.fromhex(n[:32]) for n in sorted(os.listdir(self.root)) if _NAME.match(n)]

    def read_item(self, item_id: bytes) -> bytes:
        """Read one item."""
        return self.item_path(item_id).read_bytes()

    def items(self) -> Iterator[tuple[bytes, bytes, list[Path]]]:
        """Yield (id, data, attachment paths) for every item still there when its turn comes."""
        for item_id in self.item_ids():
            try:
                yield item_id, self.read_item(item_id), self.attachment_paths(item_id)
            except FileNotFoundError:
                continue

    def delete_item(self, item_id: bytes) -> None:
        """Overwrite an item and its attachments with zeros, then unlink them (once acknowledged)."""
        for path in [self.item_path(item_id), *self.attachment_paths(item_id)]:
            _overwrite(path)
            path.unlink()
        stamp(self.root)
        fsync_dir(self.root)


def _overwrite(path: Path) -> None:
    size = path.stat().st_size
    with open(path, "r+b") as f:
        for start in range(0, size, 2**20):
            f.write(bytes(min(2**20, size - start)))
        f.flush()
        os.fsync(f.fileno())
