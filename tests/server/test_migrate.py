"""`intake migrate`: a drop box of files, written by the release of 2026-11-21 itself
(tests/server/releases/), moved into the database on both engines."""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from intake.formats import refcode
from intake.formats.keyring import QUICK, load, save

from ..actors import Defender, Operator, Secretariat
from ..conftest import INTAKE, both_engines, drop_box, make_item, operator_env, payload

pytestmark = both_engines

RELEASE = Path(__file__).resolve().parent / "releases" / "2026-11-21"
EXPECTED = json.loads((RELEASE / "expected.json").read_text(encoding="utf-8"))


@pytest.fixture
def release(tmp_path, database_url):
    """The release's data folder and keys, copied, with this round's settings around them."""
    shutil.copytree(RELEASE / "data", tmp_path / "data")
    shutil.copytree(RELEASE / "keys", tmp_path / "keys")
    site = {
        "INTAKE_DATA_DIR": str(tmp_path / "data"),
        "INTAKE_KEYS_DIR": str(tmp_path / "keys"),
        "INTAKE_SECRET_KEY": "migrate-" + "x" * 40,
        "INTAKE_MIN_FREE_MB": "0",
        "INTAKE_LOOKUPS_PER_MINUTE": "100000",
    } | ({"INTAKE_DATABASE_URL": database_url} if database_url else {})
    passphrase = (RELEASE / "passphrase.txt").read_text()
    keyring = tmp_path / "air-gap" / "secretariat.keyring"
    keyring.parent.mkdir()
    # The release's keyring, saved again at the tests' quick key-derivation cost.
    save(keyring, load(RELEASE / "secretariat.keyring", passphrase), passphrase, cost=QUICK)
    (keyring.parent / "pass.txt").write_text(passphrase)
    return {"site": site, "secretariat": Secretariat.existing(keyring, keyring.parent / "pass.txt")}


def references(read: Path) -> list[str]:
    return sorted(request["reference"] for request in Secretariat.requests(read))


def old_files(data: Path) -> list[str]:
    return sorted(str(p.relative_to(data)) for p in data.rglob("*") if p.is_file() and p.parts[-2] != "data")


def test_the_service_and_commands_refuse_a_drop_box_of_files_until_it_is_moved(release, tmp_path):
    site = release["site"]
    operator = Operator(operator_env(site))
    before = old_files(Path(site["INTAKE_DATA_DIR"]))
    for command in (["serve"], ["check"], ["export", "--out", tmp_path / "x.bin"]):
        result = operator.run(*command)
        assert result.returncode == 2, command
        assert "holds requests in files" in result.stderr and "run `intake migrate`" in result.stderr
        assert "Traceback" not in result.stderr
    assert old_files(Path(site["INTAKE_DATA_DIR"])) == before
    assert not (tmp_path / "data" / "intake.db").exists()


def test_a_release_drop_box_is_moved_whole_then_migrate_refuses_to_run_again(release, tmp_path):
    site, secretariat = release["site"], release["secretariat"]
    operator = Operator(operator_env(site))
    moved = operator.run("migrate")
    assert moved.returncode == 0, moved.stderr
    assert "moved 4 requests, 3 attachments and 4 statuses" in moved.stdout
    assert old_files(Path(site["INTAKE_DATA_DIR"])) == []  # the files are gone, overwritten first

    read = secretariat.decrypt(operator.export(tmp_path / "export.bin"), tmp_path / "read")
    assert sorted(references(read)) == sorted(refcode.display(c) for c in EXPECTED["statuses"])
    opened = sorted(hashlib.sha256(p.read_bytes()).hexdigest() for p in read.glob("requests/*/attachment-*"))
    assert opened == EXPECTED["attachments"]  # every file, byte for byte

    from intake import create_app

    defender = Defender(create_app(site).test_client())
    for code, (status, message) in EXPECTED["statuses"].items():
        page = defender.look_up("en", code).text
        assert "No request found" not in page, status
        if message:
            assert message in page  # sealed to the code by the release, opened by the code now
    assert "More information needed" in defender.look_up("en", next(iter(EXPECTED["statuses"]))).text
    assert "last return bundle applied: sequence 42" in operator.run("check").stdout

    before = drop_box(site)
    again = operator.run("migrate")
    assert again.returncode == 2 and "holds no drop box of files: it was moved already" in again.stderr
    assert drop_box(site) == before


def more_requests(data: Path, keyring_path: Path, passphrase: str, count: int) -> list[str]:
    """More requests in the release's layout (one file per request, one per status), so that a
    migration takes long enough to be interrupted in the middle."""
    generation = load(keyring_path, passphrase).current
    codes = []
    for _ in range(count):
        code, data_bytes = make_item(payload("ru"), generation)
        name = os.urandom(16).hex()
        (data / "dropbox" / f"{name}.item").write_bytes(data_bytes)
        (data / "status" / refcode.lookup_id(code).hex()).write_text(
            '{"status": "received", "day": "2026-11-20"}'
        )
        codes.append(code)
    return codes


def test_a_migration_killed_half_way_and_run_again_loses_and_duplicates_nothing(release, tmp_path):
    site, secretariat = release["site"], release["secretariat"]
    data = Path(site["INTAKE_DATA_DIR"])
    codes = more_requests(data, secretariat.keyring, secretariat.passfile.read_text(), 60)
    env = operator_env(site)
    total = len(list((data / "dropbox").glob("*.item")))
    proc = subprocess.Popen(
        [INTAKE, "migrate"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while len(list((data / "dropbox").glob("*.item"))) > total - 5:  # some moved, most not yet
        assert proc.poll() is None and time.monotonic() < deadline, (
            "migrate ended before it could be interrupted"
        )
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert list((data / "dropbox").glob("*.item")), "interrupted half-way"

    operator = Operator(env)
    again = operator.run("migrate")  # the operator runs it again
    assert again.returncode == 0, again.stderr
    assert old_files(data) == []
    read = secretariat.decrypt(operator.export(tmp_path / "export.bin"), tmp_path / "read")
    exported = references(read)
    assert len(exported) == len(set(exported)) == total  # each request once
    assert set(exported) == {refcode.display(c) for c in [*codes, *EXPECTED["statuses"]]}
    from intake import create_app

    defender = Defender(create_app(site).test_client())
    for code in codes[:5] + codes[-5:]:
        assert "No request found" not in defender.look_up("ru", code).text
