"""The drop box in a database, on both engines: what is stored, what is shown, what is shared."""

import datetime
import os
import time

import pytest

from intake.formats import refcode, return_bundle
from intake.server import datafolder, settings, statuses

from ..actors import Defender
from ..conftest import both_engines, drop_box, first_start, import_return, item_ids, store_of

pytestmark = both_engines

NOT_FOUND = "<h2>No request found</h2>"


def shown(defender: Defender, code: str) -> str | None:
    """The status the defender's lookup shows ("received", "accepted", ...), or None for "no request"."""
    from intake.web.lookup import STATUS_TEXT

    page = defender.look_up("en", code).text
    if NOT_FOUND in page:
        return None
    [status] = [name for name, (title, _) in STATUS_TEXT.items() if f"<h2>{title}</h2>" in page]
    return status


def decided(generation, sequence, *updates, version=return_bundle.VERSION):
    """A return bundle the secretariat signed."""
    bundle = return_bundle.ReturnBundle(sequence, "2026-11-27", tuple(updates), ())
    return return_bundle.encode(bundle, generation.sign, version)


def update(code, status, day="2026-11-27"):
    return return_bundle.Update(refcode.lookup_id(refcode.normalise(code)), status, day)


def tamper(site, statement, *params):
    """Someone with the database's password, or a copy of its file, writes into it directly."""
    with store_of(site) as store, store.db.transaction() as cur:
        cur.execute(statement, params)
        return cur.rowcount


def test_a_status_written_into_the_database_by_anyone_else_is_never_shown(site, engine, defender, generation):
    first, second, third = (defender.submit("en", "individual") for _ in range(3))
    import_return(site, decided(generation, 1, update(first, "accepted").signed(generation.sign)),
                  generation.sign.verify_key)  # fmt: skip
    assert (shown(defender, first), shown(defender, second)) == ("accepted", "received")

    lookup = {code: refcode.lookup_id(refcode.normalise(code)) for code in (first, second, third)}
    # The secretariat's signed "accepted", copied over another request's "received".
    tamper(site, "UPDATE statuses SET status = 'accepted', proof = (SELECT proof FROM statuses WHERE lookup = ?) "
                 "WHERE lookup = ?", lookup[first], lookup[second])  # fmt: skip
    # The signed "accepted" turned into "declined", its signature kept.
    tamper(site, "UPDATE statuses SET status = 'declined' WHERE lookup = ?", lookup[first])
    # The server's own "received", moved to another day with its MAC kept.
    tamper(site, "UPDATE statuses SET day = '2026-01-01' WHERE lookup = ?", lookup[third])
    # A status made up for a code nobody sent, with a proof of the right length.
    made_up = refcode.make()
    tamper(site, "INSERT INTO statuses (lookup, status, day, message, proof) VALUES (?, 'accepted', ?, NULL, ?)",
           refcode.lookup_id(made_up), "2026-11-27", os.urandom(64))  # fmt: skip

    for code in (first, second, third, made_up):
        assert shown(defender, code) is None, code


def test_a_status_with_a_mac_made_without_the_servers_secret_is_never_shown(site, engine, defender):
    code = defender.submit("en", "feedback")
    lookup = refcode.lookup_id(refcode.normalise(code))
    forged = statuses.received(lookup, "2026-11-27", statuses.mac_key(b"a guess at the secret"))
    tamper(site, "UPDATE statuses SET day = ?, proof = ? WHERE lookup = ?", forged.day, forged.proof, lookup)
    assert shown(defender, code) is None
    honest = statuses.received(lookup, "2026-11-27", statuses.mac_key(site["INTAKE_SECRET_KEY"].encode()))
    tamper(site, "UPDATE statuses SET proof = ? WHERE lookup = ?", honest.proof, lookup)
    assert shown(defender, code) == "received"  # the same row with the server's own MAC is shown


def test_version_1_bundles_are_still_read_and_their_statuses_shown(site, engine, defender, generation):
    code = defender.submit("es", "organisation")
    bundle = decided(generation, 3, update(code, "in_review"), version=1)
    assert bundle[8] == 1  # the version byte, as formats.md gives it
    import_return(site, bundle, generation.sign.verify_key)
    assert shown(defender, code) == "in_review"
    with store_of(site) as store:
        assert store.last_sequence() == 3


def test_a_replayed_or_older_bundle_changes_nothing(site, engine, defender, generation):
    code = defender.submit("en", "individual")
    import_return(site, decided(generation, 5, update(code, "accepted").signed(generation.sign)),
                  generation.sign.verify_key)  # fmt: skip
    before = drop_box(site)
    for sequence in (5, 4):
        with pytest.raises(return_bundle.ReturnError, match=r"not newer than the last one applied \(5\)"):
            import_return(site, decided(generation, sequence, update(code, "declined").signed(generation.sign)),
                          generation.sign.verify_key)  # fmt: skip
        assert drop_box(site) == before
    assert shown(defender, code) == "accepted"


def test_limits_are_shared_by_every_connection_to_the_database(site, engine):
    """Two stores on one database, as two workers or two machines: one limit between them."""
    first_start(site)
    cfg = settings.from_environ(site)
    with datafolder.require(cfg) as one, datafolder.require(cfg) as other:
        while True:
            window = int(time.time()) // 10
            allowed = [store.allow("submit", 60) for _ in range(15) for store in (one, other)]
            if int(time.time()) // 10 == window:  # all thirty in one ten-second window
                break
    assert sum(allowed) == 60 // 6  # a sixth of the minute's limit in each ten seconds, for both together
    assert allowed[:10] == [True] * 10


def test_a_worker_with_a_late_clock_reading_cannot_reopen_the_window(site, engine):
    """A worker that read the clock just before a window turned, and reached the database just
    after another worker counted in the new window, must not move the counter back: it did, and
    under a flood on PostgreSQL the site let twice its limit through."""
    first_start(site)
    cfg = settings.from_environ(site)
    window = int(time.time()) // 10 + 100  # ahead of any real clock, so no tick interferes
    with datafolder.require(cfg) as one, datafolder.require(cfg) as other:
        allowed = []
        for _ in range(15):
            allowed.append(one.allow("submit", 60, now=window * 10 + 0.1))  # the new window
            allowed.append(other.allow("submit", 60, now=window * 10 - 0.1))  # a reading from the old one
    assert sum(allowed) == 60 // 6


def test_abandoned_uploads_are_swept_and_accepted_files_kept(site, engine, defender, generation, tmp_path):
    defender.submit("en", "individual", files=[("report.pdf", b"%PDF " * 3000, "application/pdf")])
    with store_of(site) as store:
        abandoned = store.stage()  # a connection cut half-way through a file
        abandoned.write(os.urandom(200_000))
    long_ago = (datetime.date.today() - datetime.timedelta(days=3)).isoformat()
    tamper(site, "UPDATE streams SET staged = ?", long_ago)  # every stream, the accepted one's too
    before = drop_box(site)
    assert len(before["streams"]) == 2

    with store_of(site) as store:
        assert store.sweep() == 1
    after = drop_box(site)
    assert list(after["streams"]) == [row for row in before["streams"] if row[1] is not None]
    assert {row[0] for row in after["chunks"]} == {row[0] for row in after["streams"]}
    assert len(item_ids(site)) == 1


def test_after_many_requests_the_data_folder_holds_a_fixed_handful_of_files(site, engine, defender):
    defender.submit("en", "feedback")
    few = sorted(os.listdir(site["INTAKE_DATA_DIR"]))
    for n in range(150):
        files = [(f"photo{n}.jpg", os.urandom(5000), "image/jpeg")] if n % 3 == 0 else None
        defender.submit("fr", "individual", files=files)
    assert len(item_ids(site)) == 151
    many = sorted(os.listdir(site["INTAKE_DATA_DIR"]))
    assert many == few
    assert len(many) <= 5, many  # the marker, the server's secret, the database and its two companions


def test_every_worker_of_every_machine_may_set_up_the_tables_at_once(site, engine):
    """Workers start together, and so may machines: each sets up the tables if they are not there."""
    import threading

    cfg = settings.from_environ(site)
    failures, barrier = [], threading.Barrier(8)

    def start():
        barrier.wait()
        try:
            datafolder.initialise(cfg).db.close()
        except Exception as e:  # any failure is the finding
            failures.append(repr(e))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    with datafolder.require(cfg) as store:
        assert store.waiting() == (0, None)


def test_after_a_key_rotation_statuses_signed_with_the_old_key_show_while_it_is_kept(
    site, engine, defender, generation, tmp_path
):
    """docs/secretariat.md: the operator installs the new keys and keeps the old signing key
    as keys/signing-<date>.pub."""
    import shutil

    from intake.formats import keyfiles
    from intake.formats.keyring import Generation

    code = defender.submit("ar", "individual")
    import_return(site, decided(generation, 1, update(code, "referred").signed(generation.sign)),
                  generation.sign.verify_key)  # fmt: skip
    keys = tmp_path / "keys"
    shutil.move(keys / "signing.pub", keys / "signing-2026-11.pub")  # kept, as the guide says
    (keys / "submission.pub").unlink()
    newer = Generation.new()
    keyfiles.write_public_keys(keys, newer.box.public_key, newer.sign.verify_key)
    assert shown(defender, code) == "referred"
    (keys / "signing-2026-11.pub").unlink()  # thrown away: the status can no longer be proved
    assert shown(defender, code) is None
