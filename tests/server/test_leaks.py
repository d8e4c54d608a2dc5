"""Quiet leaks: what a seized disk, the access log or a watcher of the connection could learn."""

import datetime
import os
import socket
import stat
import time
from pathlib import Path

import pytest

from intake.formats import refcode, return_bundle

from ..actors import Defender, run
from ..conftest import LANGS, filled, import_return, item_ids, service


def midnight_utc() -> int:
    today = datetime.datetime.now(datetime.UTC).date()
    return int(datetime.datetime(today.year, today.month, today.day, tzinfo=datetime.UTC).timestamp())


def test_every_file_and_folder_the_server_writes_is_dated_by_the_day_and_owner_only(
    tmp_path, site, generation
):
    with service(tmp_path, site) as server:
        url = server["url"]
        for lang, form in (("ar", "individual"), ("ru", "feedback")):
            assert Defender(url=url).send(lang, form, filled(form, "STAMPED")).status_code == 200
        files = [("a.pdf", b"%PDF-1")]
        assert (
            Defender(url=url).send("es", "organisation", filled("organisation", "FILES"), files).status_code
            == 200
        )
        # An import: statuses written and items deleted, in one transaction.
        code = refcode.make()
        update = return_bundle.Update(refcode.lookup_id(code), "accepted", "2026-11-20", None)
        acks = tuple(item_ids(site)[:1])
        bundle = return_bundle.encode(
            return_bundle.ReturnBundle(2, "2026-11-21", (update,), acks), generation.sign
        )
        (tmp_path / "return.bin").write_bytes(bundle)
        assert run("intake", "import", tmp_path / "return.bin", env=server["env"]).returncode == 0
        assert run("intake", "backup", "--out", tmp_path / "copy.db", env=server["env"]).returncode == 0
    # At rest (the service stopped, as a seized machine's disk is): every file dated by the day.
    day = midnight_utc()
    data = Path(site["INTAKE_DATA_DIR"])
    paths = [data, *data.rglob("*")]
    assert len(paths) >= 3
    for path in paths:
        info = path.stat()
        assert info.st_mtime == day, path  # (access and change times: docs/security.md)
        assert stat.S_IMODE(info.st_mode) == (0o700 if path.is_dir() else 0o600), path
    for log in server["logs"]:
        assert log.stat().st_mtime == day, log


def status_lengths(client, lang, codes) -> dict[str, set[int]]:
    """Each answer's status code and the lengths on the wire it came in."""
    lengths: dict[str, set[int]] = {}
    for code in codes:
        response = Defender(client).look_up(lang, code)
        assert int(response.headers["Content-Length"]) == len(response.data)
        lengths.setdefault(response.status_code, set()).add(len(response.data))
    return lengths


@pytest.mark.parametrize("lang", LANGS)
def test_every_lookup_answer_has_one_length_on_the_wire(client, site, generation, lang):
    codes = {
        name: Defender(client).submit(lang, "feedback") for name in ("received", "long", "short", "more")
    }
    long_message = "ش" * (return_bundle.MAX_MESSAGE // 2)  # the longest message, in Arabic letters
    decided = {
        "long": ("accepted", long_message),
        "short": ("closed", "ok"),
        "more": ("more_info", '<"&>' * 300),
    }
    updates = []
    for name, (status, message) in decided.items():
        code = refcode.normalise(codes[name])
        sealed = return_bundle.seal_message(message, refcode.reply_key(code).public_key)
        updates.append(return_bundle.Update(refcode.lookup_id(code), status, "2026-09-30", sealed))
    bundle = return_bundle.encode(
        return_bundle.ReturnBundle(1, "2026-11-21", tuple(updates), ()), generation.sign
    )
    import_return(site, bundle, generation.sign.verify_key)
    unknown = refcode.display(refcode.make())
    received = codes["received"]
    # Codes that cannot be codes are told so, the text typed shown back: the longest that is read.
    mistyped = [received[:-1] + ("0" if received[-1] != "0" else "1"), received[:-1], '"' * 200, ""]
    assert long_message in Defender(client).look_up(lang, codes["long"]).text  # the message is really shown
    lengths = status_lengths(client, lang, [unknown, *mistyped, *codes.values()])
    assert set(lengths) == {200, 400}
    assert len(set().union(*lengths.values())) == 1


def test_malformed_requests_are_logged_by_kind_never_with_what_was_sent(server):
    host, port = server["url"].removeprefix("http://").split(":")
    secret = "QUERYMARK" + os.urandom(4).hex()
    for request in (
        f"GET /en/status?code={secret}\r\n\r\n",
        f"GET /en/?{secret} HTTP/1.1 extra\r\n\r\n",
        f"GET /en/ HTTP/1.1\r\n{secret} header\r\n\r\n",
    ):
        with socket.create_connection((host, int(port))) as raw:
            raw.sendall(request.encode("latin-1"))
            raw.recv(1000)
    time.sleep(0.5)
    errors = server["logs"][1].read_text(encoding="utf-8")
    assert errors.count("Invalid request from ip=-: ") >= 3
    assert secret not in errors and secret not in server["logs"][0].read_text(encoding="utf-8")


def test_a_huge_file_given_to_import_is_refused_in_one_line(server, tmp_path):
    huge = tmp_path / "huge.bin"
    with open(huge, "wb") as f:
        f.truncate(2 * 10**9)  # 2 GB, sparse
    for given in (huge, "/dev/zero"):
        result = run("intake", "import", given, env=server["env"])
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert len(result.stderr.splitlines()) == 1 and "far larger than any return bundle" in result.stderr
