"""What the views need, built once per worker: settings, the store, the quota, the live keys."""

import atexit
import base64
import datetime
import hashlib
import logging
import threading
import time
from pathlib import Path

from flask import abort, current_app, g
from nacl.public import PublicKey
from nacl.signing import VerifyKey

from intake.server import settings, statuses
from intake.server.accept import Acceptor
from intake.server.keys import SigningKeys, SubmissionKey
from intake.server.limits import Quota
from intake.server.store import Store

log = logging.getLogger("intake")
STATIC = Path(__file__).resolve().parent.parent / "static"
TICK_SECONDS = 5  # how often a worker moves the rate counters on, requests or not


class Services:
    """Settings, the store, the quota, and the keys as the keys folder holds them."""

    def __init__(self, cfg: settings.Config, store: Store, secret: str):
        self.config = cfg
        self.store = store
        local = None if cfg.database_url else cfg.data_dir  # the free-disk floor, for a local database
        self.quota = Quota(cfg.quota_bytes, cfg.min_free_bytes, cfg.text_reserve_bytes, local)
        self.mac_key = statuses.mac_key(secret.encode("utf-8"))
        self.acceptor = Acceptor(store, self.quota, self.mac_key)
        self.key = SubmissionKey(cfg.keys_dir, log.warning)
        self.signing_keys = SigningKeys(cfg.keys_dir)
        self.integrity = _integrity(STATIC)
        self.result_sizes: dict[str, int] = {}  # each language's lookup answer length (lookup.padded)
        self.pages: dict = {}  # pages rendered once, to be filled in (prerender.py)
        self.rules: dict = {}  # each form's rules in each language, to check answers with (answers.py)

    @property
    def public_key(self) -> PublicKey | None:
        """This request's submission key (read once per request), None while the site is offline."""
        if "public_key" not in g:
            g.public_key = self.key.get()
        return g.public_key

    def sealing_key(self) -> PublicKey:
        """The key to seal to; the offline page (503) when there is none. (The before_request hook
        answers 503 before any view runs without a key: this is the same answer, if one ever did.)"""
        key = self.public_key
        if key is None:
            abort(503)
        return key

    def verify_keys(self) -> list[VerifyKey]:
        """The secretariat's signing keys, current and earlier, as the keys folder holds them now."""
        return self.signing_keys.get()

    def warm_up(self, app) -> None:
        """In a served worker, before its first request: render the pages filled in per request."""
        from intake.web.warm import warm_up  # the views import this module: imported when called

        warm_up(app)

    def start_ticking(self) -> None:
        """In a served worker: move the rate counters on, and sweep abandoned uploads daily."""

        def tick() -> None:
            swept = ""
            while True:
                try:
                    self.store.tick()
                    if swept != (day := datetime.date.today().isoformat()):
                        self.store.sweep()
                        swept = day
                except self.store.db.errors as e:
                    log.warning("the rate counters could not be moved on: %s", type(e).__name__)
                time.sleep(TICK_SECONDS)

        threading.Thread(target=tick, name="intake-tick", daemon=True).start()
        atexit.register(self.store.db.close)  # a worker that stops leaves its files dated by the day


def _integrity(static: Path) -> dict[str, str]:
    """Subresource-integrity values of every script, from the bytes served (computed at start-up)."""
    return {
        str(path.relative_to(static)): "sha384-"
        + base64.b64encode(hashlib.sha384(path.read_bytes()).digest()).decode()
        for path in static.rglob("*.js")
    }


def services() -> Services:
    """The running app's store, quota and keys."""
    return current_app.extensions["intake"]
