"""What the views need, built once per worker: settings, stores, limits, the live submission key."""

import base64
import hashlib
import logging
from pathlib import Path

from flask import abort, current_app, g
from nacl.public import PublicKey

from intake.server import limits, settings
from intake.server.accept import Acceptor
from intake.server.dropbox import DropBox
from intake.server.keys import SubmissionKey
from intake.server.statuses import StatusStore

log = logging.getLogger("intake")
STATIC = Path(__file__).resolve().parent.parent / "static"


class Services:
    """Settings, stores, limits, and the submission key as the keys folder holds it."""

    def __init__(self, cfg: settings.Config):
        self.config = cfg
        self.dropbox = DropBox(cfg.dropbox_dir)
        self.statuses = StatusStore(cfg.status_dir)
        self.acceptor = Acceptor(self.dropbox, self.statuses)
        self.key = SubmissionKey(cfg.keys_dir, log.warning)
        self.integrity = _integrity(STATIC)
        self.result_sizes: dict[str, int] = {}  # each language's lookup answer length (lookup.padded)
        # Each worker takes its share of the global rates (docs/security.md, "Floods").
        share = max(1, cfg.workers)
        self.submissions = limits.TokenBucket.per_minute(cfg.submissions_per_minute / share)
        self.lookups = limits.TokenBucket.per_minute(cfg.lookups_per_minute / share)
        self.quota = limits.Quota(
            cfg.dropbox_dir, cfg.quota_bytes, cfg.min_free_bytes, text_reserve_bytes=cfg.text_reserve_bytes
        )

    @property
    def public_key(self) -> PublicKey | None:
        """This request's submission key (read once per request), None while the site is offline."""
        if "public_key" not in g:
            g.public_key = self.key.get()
        return g.public_key

    def sealing_key(self) -> PublicKey:
        """The submission key, for a view: the site is offline without one (503), never open.

        build_app's before_request answers 503 before any view runs without a key; a view that
        runs anyway gets the same answer here, rather than a form or a seal with no key.
        """
        key = self.public_key
        if key is None:
            abort(503)
        return key


def _integrity(static: Path) -> dict[str, str]:
    """Subresource-integrity values of every script, from the bytes served (computed at start-up)."""
    return {
        str(path.relative_to(static)): "sha384-"
        + base64.b64encode(hashlib.sha384(path.read_bytes()).digest()).decode()
        for path in static.rglob("*.js")
    }


def services() -> Services:
    """The running app's stores, limits and key."""
    return current_app.extensions["intake"]
