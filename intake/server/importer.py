"""Applying a return bundle on the server: verified first, then journaled, so it happens whole."""

from pathlib import Path

from nacl.signing import VerifyKey

from intake.formats import return_bundle
from intake.formats.durable import fsync_dir, stamp, write_atomic
from intake.formats.return_bundle import ReturnBundle, ReturnError
from intake.server.dropbox import DropBox
from intake.server.statuses import Status, StatusStore

JOURNAL = "return-journal"  # the bundle being applied; present only between start and finish
SEQUENCE = "return-sequence"  # the last sequence number applied


def last_sequence(data_dir: Path) -> int:
    """The sequence number of the last bundle applied, 0 if none."""
    try:
        return int((Path(data_dir) / SEQUENCE).read_text(encoding="ascii"))
    except FileNotFoundError:
        return 0


def _apply(bundle: ReturnBundle, data_dir: Path, dropbox: DropBox, statuses: StatusStore) -> int:
    """Apply every update and deletion, then record the sequence and drop the journal.

    Each step can be repeated, so a crash half-way is mended by applying the journal again.
    """
    deleted = 0
    for update in bundle.updates:
        statuses.put(update.lookup_id, Status(update.status, update.day, update.sealed_message))
    present = set(dropbox.item_ids())
    for item_id in bundle.acks:
        if item_id in present:
            dropbox.delete_item(item_id)
            deleted += 1
    write_atomic(Path(data_dir) / SEQUENCE, str(bundle.sequence).encode("ascii"))
    (Path(data_dir) / JOURNAL).unlink(missing_ok=True)
    stamp(Path(data_dir))
    fsync_dir(Path(data_dir))
    return deleted


def finish_pending(verify_key: VerifyKey, data_dir: Path, dropbox: DropBox, statuses: StatusStore) -> bool:
    """Complete an import that a crash interrupted; return whether there was one."""
    journal = Path(data_dir) / JOURNAL
    if not journal.exists():
        return False
    _apply(return_bundle.decode(journal.read_bytes(), verify_key), data_dir, dropbox, statuses)
    return True


def import_bundle(
    data: bytes, verify_key: VerifyKey, data_dir: Path, dropbox: DropBox, statuses: StatusStore
) -> tuple[ReturnBundle, int]:
    """Verify, check the sequence, then apply a return bundle; return it and how many items went.

    Nothing changes unless the signature verifies and the sequence is newer than the last one.
    """
    finish_pending(verify_key, data_dir, dropbox, statuses)
    bundle = return_bundle.decode(data, verify_key)
    last = last_sequence(data_dir)
    if bundle.sequence <= last:
        raise ReturnError(
            f"its sequence number {bundle.sequence} is not newer than the last one applied ({last}): "
            "an old bundle, replayed; or, if the secretariat made it just now, its sequence counter is "
            "behind (a keyring restored without its .sequence file): ask for a new reply made with "
            f"`intake-offline reply ... --after {last}`"
        )
    write_atomic(Path(data_dir) / JOURNAL, data)  # from here on the import completes, even after a crash
    return bundle, _apply(bundle, data_dir, dropbox, statuses)
