"""The intake-offline command as a secretariat runs it: keys, fingerprints, exit statuses."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from intake.formats import envelope, keyfiles
from intake.formats import keyring as keyring_mod

from ..conftest import make_item, payload, write_bundle

TOOL = [sys.executable, "-m", "intake.offline"]
PASSPHRASE = "correct horse battery staple"


def run(*args, check_status=None, **kwargs):
    """Run intake-offline with no terminal attached; return the completed process."""
    result = subprocess.run(
        [*TOOL, *map(str, args)], capture_output=True, text=True, stdin=subprocess.DEVNULL, **kwargs
    )
    if check_status is not None:
        assert result.returncode == check_status, result.stderr
    return result


@pytest.fixture
def passfile(tmp_path):
    path = tmp_path / "passphrase.txt"
    path.write_text(PASSPHRASE + "\n", encoding="utf-8")
    return path


@pytest.fixture
def secretariat(tmp_path, passfile):
    """A secretariat folder made by `keygen`, as on the air-gapped machine."""
    out = tmp_path / "secretariat"
    result = run("keygen", "--out", out, "--passphrase-file", passfile, check_status=0)
    return out, result.stdout


def test_keygen_writes_public_keys_and_an_encrypted_keyring(secretariat):
    out, stdout = secretariat
    keyring_path = out / "secretariat.keyring"
    assert stat.S_IMODE(keyring_path.stat().st_mode) == 0o600  # secret: the secretariat's alone
    for path in (out / "keys" / "submission.pub", out / "keys" / "signing.pub"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644  # public: a service account can read a copy
    ring = keyring_mod.load(keyring_path, PASSPHRASE)
    raw = keyring_path.read_bytes()
    for secret in (bytes(ring.current.box), bytes(ring.current.sign)):
        assert secret not in raw and secret.hex().encode() not in raw
    submission = keyfiles.read_submission_key(out / "keys")
    signing = keyfiles.read_signing_key(out / "keys")
    assert bytes(submission) == bytes(ring.current.box.public_key)
    assert envelope.fingerprint(bytes(submission)) in stdout
    assert envelope.fingerprint(bytes(signing)) in stdout


def test_keygen_refuses_to_overwrite(secretariat, passfile):
    out, _ = secretariat
    before = (out / "secretariat.keyring").read_bytes()
    result = run("keygen", "--out", out, "--passphrase-file", passfile, check_status=2)
    assert "already exists; refusing to overwrite" in result.stderr
    assert (out / "secretariat.keyring").read_bytes() == before


def test_keygen_refuses_short_passphrase_and_missing_terminal(tmp_path):
    short = tmp_path / "short.txt"
    short.write_text("tooshort", encoding="utf-8")
    result = run("keygen", "--out", tmp_path / "a", "--passphrase-file", short, check_status=2)
    assert "at least 12 characters" in result.stderr
    assert not (tmp_path / "a" / "secretariat.keyring").exists()
    result = run("keygen", "--out", tmp_path / "b", check_status=2)
    assert "use --passphrase-file" in result.stderr


def test_decrypt_exit_status_and_reports(tmp_path, secretariat, passfile):
    out, _ = secretariat
    ring = keyring_mod.load(out / "secretariat.keyring", PASSPHRASE)
    good = make_item(payload("ru"), ring.current)[1]
    broken = bytearray(make_item(payload(), ring.current)[1])
    broken[-5] ^= 0xFF
    bundle = tmp_path / "export.bin"
    ids = write_bundle(bundle, [good, bytes(broken)])
    result = run(
        "decrypt",
        bundle,
        "--keyring",
        out / "secretariat.keyring",
        "--out",
        tmp_path / "read",
        "--passphrase-file",
        passfile,
        check_status=1,
    )
    assert f"FAILED item 2 ({ids[1].hex()}): does not decrypt" in result.stderr
    assert "1 new requests, 0 already decrypted, 1 failed" in result.stdout
    assert "decrypting: 100%" in result.stderr
    write_bundle(bundle, [good])
    result = run(
        "decrypt",
        bundle,
        "--keyring",
        out / "secretariat.keyring",
        "--out",
        tmp_path / "read",
        "--passphrase-file",
        passfile,
        check_status=0,
    )
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not the passphrase at all", encoding="utf-8")
    result = run(
        "decrypt",
        bundle,
        "--keyring",
        out / "secretariat.keyring",
        "--out",
        tmp_path / "r2",
        "--passphrase-file",
        wrong,
        check_status=2,
    )
    assert result.stderr.strip() == "intake-offline: wrong passphrase, or the keyring is damaged"
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_rotation_keeps_old_items_readable(tmp_path, secretariat, passfile):
    out, _ = secretariat
    keyring_path = out / "secretariat.keyring"
    old = keyring_mod.load(keyring_path, PASSPHRASE).current
    result = run(
        "keys",
        "add",
        "--keyring",
        keyring_path,
        "--out",
        tmp_path / "rotated",
        "--passphrase-file",
        passfile,
        check_status=0,
    )
    new_public = keyfiles.read_submission_key(tmp_path / "rotated" / "keys")
    assert envelope.fingerprint(bytes(new_public)) in result.stdout
    ring = keyring_mod.load(keyring_path, PASSPHRASE)
    assert len(ring.generations) == 2 and ring.generations[0].key_id == old.key_id
    listing = run("keys", "list", "--keyring", keyring_path, "--passphrase-file", passfile, check_status=0)
    assert f"generation 1, key id {old.key_id.hex()}" in listing.stdout
    assert f"generation 2 (current), key id {envelope.key_id(bytes(new_public)).hex()}" in listing.stdout
    bundle = tmp_path / "export.bin"
    write_bundle(bundle, [make_item(payload(), old)[1], make_item(payload(), ring.current)[1]])
    result = run(
        "decrypt",
        bundle,
        "--keyring",
        keyring_path,
        "--out",
        tmp_path / "read",
        "--passphrase-file",
        passfile,
        check_status=0,
    )
    assert "2 new requests" in result.stdout


@pytest.mark.parametrize(
    "args", [[], ["keygen"], ["decrypt"], ["reply"], ["keys"], ["keys", "add"], ["keys", "list"]]
)
def test_every_subcommand_documents_itself(args):
    result = run(*args, "--help", check_status=0)
    assert "usage: intake-offline" in result.stdout


def test_missing_bundle_and_keyring_are_one_line_errors(tmp_path, secretariat, passfile):
    out, _ = secretariat
    result = run(
        "decrypt",
        tmp_path / "nope.bin",
        "--keyring",
        out / "secretariat.keyring",
        "--out",
        tmp_path / "read",
        "--passphrase-file",
        passfile,
        check_status=2,
    )
    assert result.stderr.startswith("intake-offline: no bundle at")
    result = run(
        "decrypt",
        tmp_path / "nope.bin",
        "--keyring",
        tmp_path / "none.keyring",
        "--out",
        tmp_path / "read",
        "--passphrase-file",
        passfile,
        check_status=2,
    )
    assert "cannot read keyring" in result.stderr
    assert not Path(tmp_path / "read").exists() or not os.listdir(tmp_path / "read")


@pytest.mark.slow
def test_everything_the_tool_writes_is_for_its_owner_alone(tmp_path, passfile):
    """0600 files and 0700 folders, even under the usual umask 022: keys, requests, files, replies."""
    from .crafting import honest_entries, made, write_entries

    secretariat = tmp_path / "secretariat"
    run("keygen", "--out", secretariat, "--passphrase-file", passfile, check_status=0, umask=0o022)
    keyring_path = secretariat / "secretariat.keyring"
    generation = keyring_mod.load(keyring_path, PASSPHRASE).current
    sent = made([b"photo", b"%PDF-1.4"], names=["a.jpg", "b.pdf"], generation=generation)
    write_entries(tmp_path / "export.bin", honest_entries(os.urandom(16), sent))
    read = tmp_path / "read"
    run(
        "decrypt",
        tmp_path / "export.bin",
        "--keyring",
        keyring_path,
        "--out",
        read,
        "--passphrase-file",
        passfile,
        check_status=0,
        umask=0o022,
    )
    run(
        "reply",
        read,
        "--keyring",
        keyring_path,
        "--out",
        tmp_path / "return.bin",
        "--passphrase-file",
        passfile,
        check_status=0,
        umask=0o022,
    )
    run(
        "keys",
        "add",
        "--keyring",
        keyring_path,
        "--out",
        tmp_path / "rotation",
        "--passphrase-file",
        passfile,
        check_status=0,
        umask=0o022,
    )

    written = [secretariat, read, tmp_path / "rotation", tmp_path / "return.bin"]
    for top in written:
        for path in [top, *top.rglob("*")]:
            mode = stat.S_IMODE(path.lstat().st_mode)
            expected = (
                0o700 if path.is_dir() else 0o644 if path.suffix == ".pub" else 0o600
            )  # public keys: public
            assert mode == expected, (path.relative_to(tmp_path), oct(mode))
    names = {p.name for p in read.rglob("*")}
    assert {"index.html", "index.csv", "decisions.csv", "attachment-1.jpg", "attachment-2.bin"} <= names
