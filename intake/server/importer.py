"""Applying a return bundle on the server: its signature checked first, then applied in one
transaction, so it happens whole or not at all, and never twice."""

from nacl.signing import VerifyKey

from intake.formats import return_bundle
from intake.formats.return_bundle import ReturnBundle, ReturnError
from intake.server import statuses
from intake.server.store import Stale, Store


def import_bundle(
    data: bytes, verify_key: VerifyKey, store: Store, mac_key: bytes
) -> tuple[ReturnBundle, int]:
    """Verify, then apply a return bundle; return it and how many items were deleted.

    Nothing changes unless the signature verifies (each status's own too, in version 2) and the
    sequence number is newer than the last one applied.
    """
    bundle = return_bundle.decode(data, verify_key)
    try:
        with store.returning(bundle.sequence) as applying:
            for update in bundle.updates:
                applying.status(statuses.from_update(update, mac_key))
            for item_id in bundle.acks:
                applying.acknowledge(item_id)
    except Stale as e:
        raise ReturnError(
            f"its sequence number {bundle.sequence} is not newer than the last one applied ({e.last}): "
            "an old bundle, replayed; or, if the secretariat made it just now, its sequence counter is "
            "behind (a keyring restored without its .sequence file): ask for a new reply made with "
            f"`intake-offline reply ... --after {e.last}`"
        ) from e
    return bundle, applying.deleted
