"""`intake backup` while the service runs, and `intake restore` onto a new machine, as
docs/operator.md tells the operator; PostgreSQL's pg_dump and pg_restore as documented."""

import glob
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from intake.formats import refcode, return_bundle

from ..actors import Defender, Operator, Secretariat
from ..conftest import drop_box, operator_env, served_env, service


def decided(generation, code, status):
    update = return_bundle.Update(refcode.lookup_id(refcode.normalise(code)), status, "2026-11-28")
    bundle = return_bundle.ReturnBundle(1, "2026-11-28", (update.signed(generation.sign),), ())
    return return_bundle.encode(bundle, generation.sign)


def shown(url, code) -> str:
    page = Defender(url=url).look_up("en", code).text
    return "missing" if "No request found" in page else page


def test_a_backup_made_under_load_restores_on_a_new_machine_with_every_status(
    tmp_path, site, generation, secretariat
):
    data = Path(site["INTAKE_DATA_DIR"])
    operator = Operator(served_env(site))  # the secret is the data folder's, as on a single machine
    backup = tmp_path / "intake-backup.tar"
    with service(tmp_path / "before", site) as running:
        url = running["url"]
        codes = [
            Defender(url=url).submit(
                "ar", "individual", files=[("photo.jpg", b"\xff\xd8" * 4000, "image/jpeg")]
            )
        ]
        codes += [Defender(url=url).submit(lang, "feedback") for lang in ("es", "ru")]
        (tmp_path / "r.bin").write_bytes(decided(generation, codes[1], "in_review"))
        assert operator.import_(tmp_path / "r.bin").returncode == 0

        stop = threading.Event()

        def defenders():  # requests keep arriving, and are accepted, while the copy is made
            while not stop.is_set():
                Defender(url=url).submit("fr", "feedback")

        thread = threading.Thread(target=defenders)
        thread.start()
        try:
            result = operator.run("backup", "--out", backup)
        finally:
            stop.set()
            thread.join()
        assert result.returncode == 0, result.stderr
        refused = operator.run("restore", backup, "--replace")  # not under a running service
        assert refused.returncode == 2 and "the service is running: stop it first" in refused.stderr
    assert backup.stat().st_mode & 0o777 == 0o600

    shutil.rmtree(data)  # the machine is lost; a new one is set up as docs/operator.md says
    with service(tmp_path / "new", site):
        pass  # started once: the data folder and an empty database

    def held():
        return drop_box(site), (data / "secret_key").read_bytes()

    before = held()
    truncated = tmp_path / "cut.tar"
    truncated.write_bytes(backup.read_bytes()[:-70_000])
    for bad in (truncated, tmp_path / "r.bin"):
        result = operator.run("restore", bad)
        assert (
            result.returncode == 2
            and "nothing was changed" in result.stderr
            and "Traceback" not in result.stderr
        )
        assert held() == before
    restored = operator.run("restore", backup)
    assert restored.returncode == 0, restored.stderr

    with service(tmp_path / "after", site) as running:
        assert "<h2>In review</h2>" in shown(running["url"], codes[1])  # the secretariat's signature
        for code in (codes[0], codes[2]):  # the server's own "received", proved by the restored secret
            assert "<h2>Received</h2>" in shown(running["url"], code)
    again = operator.run("restore", backup)  # a drop box with requests is not replaced unasked
    assert again.returncode == 2 and "pass --replace" in again.stderr
    read = secretariat.decrypt(operator.export(tmp_path / "export.bin"), tmp_path / "read")
    exported = {request["item"] for request in Secretariat.requests(read)}
    assert len(exported) >= 3 and len(list(read.glob("requests/*/attachment-*"))) == 1


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_postgresql_is_backed_up_with_pg_dump_and_restored_with_pg_restore(tmp_path, site, postgres):
    """The commands docs/operator.md gives, on a drop box with a request and a decided status."""
    from intake import create_app

    bindir = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump"))[-1]).parent
    defender = Defender(create_app(site).test_client())
    code = defender.submit("ru", "individual")
    result = Operator(operator_env(site)).run("backup", "--out", tmp_path / "x.tar")
    assert result.returncode == 2 and "back it up with pg_dump" in result.stderr
    dump = tmp_path / "intake.dump"
    subprocess.run(
        [bindir / "pg_dump", "--format=custom", "--file", dump, site["INTAKE_DATABASE_URL"]], check=True
    )
    postgres.sql("CREATE DATABASE restored")
    restored_url = postgres.url("restored")
    subprocess.run([bindir / "pg_restore", "--dbname", restored_url, "--no-owner", dump], check=True)
    moved = Defender(create_app(site | {"INTAKE_DATABASE_URL": restored_url}).test_client())
    assert "<h2>Received</h2>" in moved.look_up("en", code).text
    postgres.sql("DROP DATABASE restored WITH (FORCE)")
