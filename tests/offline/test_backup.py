"""Backups: a backup restored onto a fresh machine decrypts, decides and replies as before."""

import json
import stat
import time

from ..actors import Secretariat, run
from ..conftest import snapshot
from .helpers import decide_in_desk


def restore(backup, keyring, out, status: int = 0):
    """`intake-offline restore` as typed on the new machine; check its exit status."""
    result = run("intake-offline", "restore", backup, "--keyring", keyring, "--out", out)
    assert result.returncode == status, result.stderr
    return result


def backup(world, target, *more, status: int = 0):
    """`intake-offline backup` of the world's keyring and folder; check its exit status."""
    result = world.secretariat.backup(world.out, target, *more)
    assert result.returncode == status, result.stderr
    return result


def test_a_restored_backup_decrypts_decides_and_replies_as_before(world, tmp_path):
    first = world.submit("ar", "individual")
    world.export_decrypt()
    with world.desk() as desk:
        decide_in_desk(desk, world.item(first), "in_review", "طلبك قيد المراجعة.")
        desk.request("POST", f"/case/{world.item(first)}/note", {"note": "BACKUPNOTE: call the lawyer"})
    # A reply made on a clock far ahead (or after --after): the server now expects larger numbers
    # than this machine's clock gives. Only the .sequence file and the ledger remember it.
    ahead = int(time.time()) + 10**8
    world.reply(world.base / "r1.bin", "--after", ahead)
    assert world.operator.import_(world.base / "r1.bin").returncode == 0

    old, old_out = world.secretariat, world.out
    target = tmp_path / "usb" / "backup-1"
    result = backup(world, target, "--with-requests")
    assert "1 requests" in result.stdout
    for path in [target, *target.rglob("*")]:
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path
    manifest = json.loads((target / "manifest.json").read_bytes())
    assert {
        "keyring/secretariat.keyring",
        "keyring/secretariat.keyring.sequence",
        "folder/decisions.csv",
        "folder/ledger.json",
        "folder/notes.json",
    } <= set(manifest["files"])

    # The machine is lost. A fresh one, the same keyring restored onto a new path.
    fresh = tmp_path / "new-machine"
    keyring, out = fresh / "keys" / "secretariat.keyring", fresh / "requests"
    restore(target, keyring, out)
    assert snapshot(out / "requests") == snapshot(old_out / "requests")
    for name in ("decisions.csv", "ledger.json", "notes.json"):
        assert (out / name).read_bytes() == (old_out / name).read_bytes(), name
    assert (fresh / "keys" / "secretariat.keyring.sequence").read_text() == str(ahead + 1)

    world.secretariat, world.out = Secretariat.existing(keyring, old.passfile), out
    second = world.submit("ru", "organisation")
    world.export_decrypt()  # decrypts with the restored keyring into the restored folder
    with world.desk() as desk:
        _, _, page = desk.request("GET", f"/case/{world.item(first)}")
        assert "BACKUPNOTE: call the lawyer" in page  # the note came back
        assert decide_in_desk(desk, world.item(second), "accepted", "Ваш запрос принят.")[0] == 303
    result = world.reply(fresh / "r2.bin")
    assert (
        "1 status updates (0 'delivered', 1 with a message, 0 sent again), 2 items acknowledged"
        in result.stdout
    )
    assert "1 decisions were sent by earlier replies and not again" in result.stdout  # the ledger came back
    assert world.operator.import_(fresh / "r2.bin").returncode == 0  # newer than `ahead`
    assert world.sent(fresh / "r2.bin") == {second: ("accepted", "Ваш запрос принят.")}


def test_without_the_sequence_file_and_ledger_the_server_would_refuse_the_reply(world, tmp_path):
    """Why they are in the backup: the same restore, less those two files, makes a reply the server refuses."""
    world.submit("fr", "feedback")
    world.export_decrypt()
    ahead = int(time.time()) + 10**8
    world.reply(world.base / "r1.bin", "--after", ahead)
    assert world.operator.import_(world.base / "r1.bin").returncode == 0
    backup(world, tmp_path / "b", "--with-requests")
    fresh = tmp_path / "new"
    restore(tmp_path / "b", fresh / "k", fresh / "requests")
    (fresh / "k.sequence").unlink()
    (fresh / "requests" / "ledger.json").unlink()
    world.secretariat, world.out = (
        Secretariat.existing(fresh / "k", world.secretariat.passfile),
        fresh / "requests",
    )
    world.reply(fresh / "r2.bin")
    refused = world.operator.import_(fresh / "r2.bin")
    assert refused.returncode == 2
    assert f"not newer than the last one applied ({ahead + 1})" in refused.stderr


def test_restore_checks_everything_before_it_writes_anything(world, tmp_path):
    world.submit("es", "individual")
    world.export_decrypt()
    old = world.secretariat
    small = tmp_path / "small"
    result = backup(world, small)
    assert "0 requests" in result.stdout and not (small / "folder" / "requests").exists()
    result = restore(small, tmp_path / "a" / "k", tmp_path / "a" / "r")
    assert "holds no requests" in result.stdout
    # Onto what exists already: refused, nothing written.
    refused = restore(small, old.keyring, tmp_path / "b", status=2)
    assert "already exists" in refused.stderr and not (tmp_path / "b").exists()
    backup(world, small, status=2)

    # A damaged file, or a manifest naming a file no backup holds: refused whole.
    damaged = tmp_path / "damaged"
    backup(world, damaged, "--with-requests")
    decisions = damaged / "folder" / "decisions.csv"
    decisions.write_bytes(decisions.read_bytes().replace(b",,", b",accepted,", 1))
    refused = restore(damaged, tmp_path / "c" / "k", tmp_path / "c" / "r", status=2)
    assert "decisions.csv is missing or damaged; nothing was restored" in refused.stderr
    assert not (tmp_path / "c").exists()
    manifest = json.loads((small / "manifest.json").read_bytes())
    manifest["files"]["folder/../../escaped"] = manifest["files"]["folder/decisions.csv"]
    (small / "manifest.json").write_text(json.dumps(manifest))
    refused = restore(small, tmp_path / "d" / "k", tmp_path / "d" / "r", status=2)
    assert "names a file a backup never holds" in refused.stderr and not (tmp_path / "d").exists()
    assert not (tmp_path / "escaped").exists()
