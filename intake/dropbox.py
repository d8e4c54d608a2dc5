"""The drop box: sealed items on disk, named by the server, written durably, ciphertext only."""

import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

from .fsutil import fsync_dir, write_atomic
from .item import ITEM_SIZE

_NAME = re.compile(r"\A[0-9a-f]{32}\.item\Z")  # the only names the drop box creates or reads


class DropBox:
    """A folder of `<random id>.item` files, each exactly one drop-box item."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, item_id: bytes) -> Path:
        path = self.root / f"{item_id.hex()}.item"
        if not _NAME.match(path.name) or path.parent != self.root:
            raise ValueError("not a drop-box item id")
        return path

    def save_item(self, data: bytes) -> bytes:
        """Write a sealed item durably (tmp, fsync, rename, fsync dir); return its random id."""
        if len(data) != ITEM_SIZE:
            raise ValueError("a drop-box item has a fixed size")
        self.root.mkdir(parents=True, exist_ok=True)
        item_id = secrets.token_bytes(16)
        write_atomic(self._path(item_id), data, mode=0o600, replace=False)
        return item_id

    def item_ids(self) -> list[bytes]:
        """Every complete item, in name order (temporary files are never listed)."""
        if not self.root.is_dir():
            return []
        return [bytes.fromhex(n[:32]) for n in sorted(os.listdir(self.root)) if _NAME.match(n)]

    def read_item(self, item_id: bytes) -> bytes:
        """Read one item."""
        return self._path(item_id).read_bytes()

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """Yield (id, data) for every item that is still there when its turn comes."""
        for item_id in self.item_ids():
            try:
                yield item_id, self.read_item(item_id)
            except FileNotFoundError:
                continue

    def delete_item(self, item_id: bytes) -> None:
        """Overwrite an item with zeros, then unlink it (after the secretariat acknowledged it)."""
        path = self._path(item_id)
        with open(path, "r+b") as f:
            f.write(bytes(ITEM_SIZE))
            f.flush()
            os.fsync(f.fileno())
        path.unlink()
        fsync_dir(self.root)
