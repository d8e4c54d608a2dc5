"""Backups: a backup restored onto a fresh machine decrypts, decides and replies as before."""

import json
import stat
import time

from ..conftest import snapshot
from .helpers import Desk, Secretariat, decide_in_desk, desk_request, tool
from .test_desk_decisions import World


def test_a_restored_backup_decrypts_decides_and_replies_as_before(tmp_path):
    world = World(tmp_path)
    first = world.submit("ar", "individual")
    world.export_decrypt()
    with Desk(world.secretariat) as desk:
        decide_in_desk(desk, world.item(first), "in_review", "طلبك قيد المراجعة.")
        desk_request(desk, "POST", f"/case/{world.item(first)}/note", {"note": "BACKUPNOTE: call the lawyer"})
    # A reply made on a clock far ahead (or after --after): the server now expects larger numbers
    # than this machine's clock gives. Only the .sequence file and the ledger remember it.
    ahead = int(time.time()) + 10**8
    world.secretariat.reply(world.base / "r1.bin", "--after", ahead)
    tool("intake", "import", world.base / "r1.bin", env=world.env)

    old = world.secretariat
    backup = tmp_path / "usb" / "backup-1"
    result = tool(
        "intake-offline", "backup", old.out, "--keyring", old.keyring, "--out", backup, "--with-requests"
    )
    assert "1 requests" in result.stdout
    for path in [backup, *backup.rglob("*")]:
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path
    manifest = json.loads((backup / "manifest.json").read_bytes())
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
    tool("intake-offline", "restore", backup, "--keyring", keyring, "--out", out)
    assert snapshot(out / "requests") == snapshot(old.out / "requests")
    for name in ("decisions.csv", "ledger.json", "notes.json"):
        assert (out / name).read_bytes() == (old.out / name).read_bytes(), name
    assert (fresh / "keys" / "secretariat.keyring.sequence").read_text() == str(ahead + 1)

    world.secretariat = restored = Secretariat.__new__(Secretariat)
    restored.base, restored.keyring, restored.out, restored.passfile = fresh, keyring, out, old.passfile
    second = world.submit("ru", "organisation")
    world.export_decrypt()  # decrypts with the restored keyring into the restored folder
    with Desk(restored) as desk:
        _, _, page = desk_request(desk, "GET", f"/case/{world.item(first)}")
        assert "BACKUPNOTE: call the lawyer" in page  # the note came back
        assert decide_in_desk(desk, world.item(second), "accepted", "Ваш запрос принят.")[0] == 303
    result = restored.reply(fresh / "r2.bin")
    assert (
        "1 status updates (0 'delivered', 1 with a message, 0 sent again), 2 items acknowledged"
        in result.stdout
    )
    assert "1 decisions were sent by earlier replies and not again" in result.stdout  # the ledger came back
    assert tool("intake", "import", fresh / "r2.bin", env=world.env).returncode == 0  # newer than `ahead`
    assert world.sent(fresh / "r2.bin") == {second: ("accepted", "Ваш запрос принят.")}


def test_without_the_sequence_file_and_ledger_the_server_would_refuse_the_reply(tmp_path):
    """Why they are in the backup: the same restore, less those two files, makes a reply the server refuses."""
    world = World(tmp_path)
    world.submit("fr", "feedback")
    world.export_decrypt()
    ahead = int(time.time()) + 10**8
    world.secretariat.reply(world.base / "r1.bin", "--after", ahead)
    tool("intake", "import", world.base / "r1.bin", env=world.env)
    backup = tmp_path / "b"
    tool(
        "intake-offline",
        "backup",
        world.secretariat.out,
        "--keyring",
        world.secretariat.keyring,
        "--out",
        backup,
        "--with-requests",
    )
    fresh = tmp_path / "new"
    tool("intake-offline", "restore", backup, "--keyring", fresh / "k", "--out", fresh / "requests")
    (fresh / "k.sequence").unlink()
    (fresh / "requests" / "ledger.json").unlink()
    restored = Secretariat.__new__(Secretariat)
    restored.keyring, restored.out, restored.passfile = (
        fresh / "k",
        fresh / "requests",
        world.secretariat.passfile,
    )
    restored.reply(fresh / "r2.bin")
    refused = tool("intake", "import", fresh / "r2.bin", env=world.env, status=2)
    assert f"not newer than the last one applied ({ahead + 1})" in refused.stderr


def test_restore_checks_everything_before_it_writes_anything(tmp_path):
    world = World(tmp_path)
    world.submit("es", "individual")
    world.export_decrypt()
    old = world.secretariat
    small = tmp_path / "small"
    result = tool("intake-offline", "backup", old.out, "--keyring", old.keyring, "--out", small)
    assert "0 requests" in result.stdout and not (small / "folder" / "requests").exists()
    result = tool(
        "intake-offline", "restore", small, "--keyring", tmp_path / "a" / "k", "--out", tmp_path / "a" / "r"
    )
    assert "holds no requests" in result.stdout
    # Onto what exists already: refused, nothing written.
    refused = tool(
        "intake-offline", "restore", small, "--keyring", old.keyring, "--out", tmp_path / "b", status=2
    )
    assert "already exists" in refused.stderr and not (tmp_path / "b").exists()
    assert (
        tool(
            "intake-offline", "backup", old.out, "--keyring", old.keyring, "--out", small, status=2
        ).returncode
        == 2
    )

    # A damaged file, or a manifest naming a file no backup holds: refused whole.
    damaged = tmp_path / "damaged"
    tool("intake-offline", "backup", old.out, "--keyring", old.keyring, "--out", damaged, "--with-requests")
    decisions = damaged / "folder" / "decisions.csv"
    decisions.write_bytes(decisions.read_bytes().replace(b",,", b",accepted,", 1))
    refused = tool(
        "intake-offline",
        "restore",
        damaged,
        "--keyring",
        tmp_path / "c" / "k",
        "--out",
        tmp_path / "c" / "r",
        status=2,
    )
    assert "decisions.csv is missing or damaged; nothing was restored" in refused.stderr
    assert not (tmp_path / "c").exists()
    manifest = json.loads((small / "manifest.json").read_bytes())
    manifest["files"]["folder/../../escaped"] = manifest["files"]["folder/decisions.csv"]
    (small / "manifest.json").write_text(json.dumps(manifest))
    refused = tool(
        "intake-offline",
        "restore",
        small,
        "--keyring",
        tmp_path / "d" / "k",
        "--out",
        tmp_path / "d" / "r",
        status=2,
    )
    assert "names a file a backup never holds" in refused.stderr and not (tmp_path / "d").exists()
    assert not (tmp_path / "escaped").exists()
