"""Decrypt's few files: a run's file of requests and its pages, a folder only for a request's files.
What it writes is synced and nothing else; a run killed half-way, a folder of the earlier layout and
a second process that stops lose nothing."""

import contextlib
import csv
import hashlib
import json
import os
import re
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

from intake.formats.keyring import load
from intake.offline.decrypt import decrypt_bundle

from ..actors import BIN, Secretariat, run
from ..conftest import LANGS, make_item, payload, snapshot
from .crafting import KEYRING, check_honest, check_index, honest_entries, made, write_entries

RELEASE = Path(__file__).resolve().parent / "releases" / "folder-per-request"


def a_bundle(path: Path, *sent) -> list[bytes]:
    """Write these items (and their files) as the server exports them; return their ids."""
    ids = [os.urandom(16) for _ in sent]
    write_entries(path, [entry for id_, m in zip(ids, sent, strict=True) for entry in honest_entries(id_, m)])
    return ids


SYNCING = re.compile(r"^\d+ +(sync|syncfs|fsync|fdatasync)\((?:\d+<([^>]*)>)?")
RENAMED = re.compile(r'^\d+ +(?:rename|renameat2?|link|linkat)\(.*?"([^"]+)".*?"([^"]+)"')


def traced(trace: Path) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """The sync calls strace saw, (call, path synced), and where each renamed or linked name went."""
    synced, moved = [], {}
    for line in trace.read_text().splitlines():
        if found := SYNCING.match(line):
            synced.append((found[1], found[2] or ""))
        elif (found := RENAMED.match(line)) and " = 0" in line:
            moved[found[1]] = found[2]
    return synced, moved


def test_decrypt_makes_durable_what_it_wrote_and_syncs_nothing_else(tmp_path, strace):
    """No global sync (it would flush every other program's writes too, a 660 MB bundle among them):
    each file the run leaves is fsynced, under its name or the temporary name it was renamed from,
    and so is each folder that holds one; nothing outside the folder is."""
    secretariat = Secretariat(tmp_path, KEYRING)
    sent = [made([b"%PDF-1.4 " * 100]), made(lang="ar"), made([b"a", b"\xff\xd8" * 9], ["a.txt", "b.jpg"])]
    a_bundle(tmp_path / "b.bin", *sent)
    out = tmp_path / "out"
    args = ["decrypt", tmp_path / "b.bin", "--out", out, "--keyring", secretariat.keyring]
    args += ["--passphrase-file", secretariat.passfile]
    calls = "trace=sync,syncfs,fsync,fdatasync,rename,renameat,renameat2,link,linkat"
    watched = [strace, "-f", "-qq", "-y", "-e", calls, "-o", tmp_path / "trace"]
    result = subprocess.run(
        [*watched, BIN / "intake-offline", *map(str, args)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    synced, moved = traced(tmp_path / "trace")
    assert [call for call, _ in synced if call in ("sync", "syncfs")] == []
    outside = [path for _, path in synced if not path.startswith(f"{out}/") and path != str(out)]
    assert outside == []
    durable = {moved.get(path, path) for _, path in synced}
    left = [p for p in out.rglob("*") if p.is_file() and p.name != ".lock"]
    assert len(left) > 8 and [str(p) for p in left if str(p) not in durable] == []
    assert [str(p.parent) for p in left if str(p.parent) not in durable] == []


def test_a_run_killed_half_way_leaves_nothing_the_next_run_trips_on(tmp_path):
    """Killed (power cut, Ctrl+\\) after one request's files were put in place and while another's
    were being written: the next run over the same bundle decrypts every request once."""
    secretariat = Secretariat(tmp_path, KEYRING)
    sent = [made([b"first file"]), made(), made([b"one", b"two"]), made(lang="ru")]
    ids = a_bundle(tmp_path / "b.bin", *sent)
    out = tmp_path / "out"
    killed = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from intake.formats.keyring import load\n"
        "from intake.offline.decrypt import decrypt_bundle\n"
        "entries = 0\n"
        "def progress(done, size):\n"
        "    global entries\n"
        "    entries += 1\n"
        "    if entries == 5:  # the third request's first file is written\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "keyring = load(Path(sys.argv[1]), Path(sys.argv[2]).read_text())\n"
        "decrypt_bundle(Path(sys.argv[3]), keyring, Path(sys.argv[4]), progress, helpers=0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", killed, secretariat.keyring, secretariat.passfile, tmp_path / "b.bin", out]
    )
    assert result.returncode == -signal.SIGKILL
    left = sorted(os.listdir(out / "requests"))
    assert ids[0].hex() in left and len([n for n in left if n.startswith(".")]) == 2, (
        left
    )  # where it was killed
    assert Secretariat.requests(out) == []

    secretariat.decrypt(tmp_path / "b.bin", out)
    for id_, m in zip(ids, sent, strict=True):
        check_honest(out, id_, m)
    check_index(out)
    assert len(Secretariat.requests(out)) == 4


def test_a_backup_of_the_earlier_layout_restores_reads_and_moves_into_the_next_run(tmp_path):
    """A backup the earlier release made (one folder per request, each with request.json and
    request.html), restored onto a new machine: replied from as it is, then moved by the next decrypt."""
    passfile = tmp_path / "pass.txt"
    passfile.write_text((RELEASE / "passphrase.txt").read_text())
    secretariat = Secretariat.existing(tmp_path / "keys" / "secretariat.keyring", passfile)
    out = tmp_path / "requests"
    restored = run(
        "intake-offline", "restore", RELEASE / "backup", "--keyring", secretariat.keyring, "--out", out
    )
    assert restored.returncode == 0, restored.stderr
    expected = json.loads((RELEASE / "expected.json").read_text(encoding="utf-8"))
    # As it is: a reply acknowledges its requests and sends the decision typed into it.
    reply = secretariat.run("reply", out, "--out", tmp_path / "r1.bin")
    assert reply.returncode == 0, reply.stderr
    assert "1 with a message" in reply.stdout and "3 items acknowledged" in reply.stdout

    # The next decrypt brings a follow-up to the decided request, and moves the earlier three into
    # its run's file: their request.json and request.html go, their files stay where they were.
    [decided] = [item for item, e in expected.items() if e["request"]["request"]["lang"] == "ar"]
    body = payload("es", form="followup")
    body["fields"] = {"message": "Gracias", "reference_code": expected[decided]["request"]["reference"]}
    _, data = make_item(body, load(secretariat.keyring, passfile.read_text()).current)
    follow = os.urandom(16)
    write_entries(tmp_path / "e2.bin", [(1, follow, data, True)])
    secretariat.decrypt(tmp_path / "e2.bin", out)

    requests = {r["item"]: r for r in Secretariat.requests(out)}
    assert sorted(requests) == sorted([*expected, follow.hex()])
    for item, e in expected.items():
        assert requests[item] == e["request"], item
        folder = out / "requests" / item
        assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.glob("*")} == e["files"]
        assert folder.is_dir() == bool(e["files"])
    runs = sorted(n for n in os.listdir(out / "requests") if n.startswith("run-"))
    assert runs == ["run-1-page-1.html", "run-1.jsonl"]
    check_index(out)
    where, case = Secretariat.page_of(out, follow.hex())
    assert where == Secretariat.page_of(out, decided)[0] and "Gracias" in case and f"item-{decided}" in case
    with open(out / "decisions.csv", encoding="utf-8-sig", newline="") as f:
        rows = {row["item"]: row for row in csv.DictReader(f)}
    assert rows[decided]["status"] == "accepted" and rows[decided]["message"] == "Nous vous aiderons."


def test_a_second_process_decrypts_exactly_what_one_does(tmp_path):
    """What a second process opens ahead is used in bundle order, whatever the bundle holds: the same
    folder, the same failures, byte for byte, as one process alone."""
    sent = [made([b"x" * 70_000] if n % 10 == 0 else (), lang=LANGS[n % 5]) for n in range(150)]
    ids = [os.urandom(16) for _ in sent]
    honest = [honest_entries(id_, m) for id_, m in zip(ids, sent, strict=True)]
    hostile = [
        [(1, ids[1], made().data, True)],  # an id repeated
        [(2, os.urandom(16), b"junk", True)],  # a file of no request
        [(1, os.urandom(16), sent[2].data, True)],  # a sealed body sent twice
        [(1, os.urandom(16), made().data, False)],  # a damaged entry
        [(1, os.urandom(16), b"\x01" * len(sent[0].data), True) for _ in range(3)],  # not items at all
    ]
    for place, entries in zip((140, 100, 70, 40, 5), hostile, strict=True):  # among the batches
        honest.insert(place, entries)
    write_entries(tmp_path / "b.bin", [e for entries in honest for e in entries])
    reports, children = {}, {}
    for helpers in (0, 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        reports[helpers] = decrypt_bundle(
            tmp_path / "b.bin", KEYRING, tmp_path / str(helpers), helpers=helpers
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        children[helpers] = (after.ru_utime, after.ru_stime) > (before.ru_utime, before.ru_stime)
    assert children == {0: False, 1: True}  # a second process worked (its time counted), only when asked
    assert reports[0].failures == reports[1].failures and len(reports[0].failures) == 7
    assert (reports[0].written, reports[1].written) == (150, 150)
    assert snapshot(tmp_path / "0") == snapshot(tmp_path / "1")


def children(pid: int) -> list[int]:
    """The processes `pid` started (Linux: /proc)."""
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def decrypting(secretariat: Secretariat, bundle: Path, out: Path, *more, kill: bool) -> tuple[str, int]:
    """The real `decrypt`, every process it starts seen (and killed as soon as it starts, if `kill`);
    return what it printed, and how many it started."""
    args = ["decrypt", bundle, "--out", out, "--keyring", secretariat.keyring, *more]
    args += ["--passphrase-file", secretariat.passfile]
    tool = subprocess.Popen(
        [BIN / "intake-offline", *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    seen = set()
    while tool.poll() is None:
        for pid in set(children(tool.pid)) - seen:
            seen.add(pid)
            if kill:
                with contextlib.suppress(ProcessLookupError):  # it may have ended meanwhile
                    os.kill(pid, signal.SIGKILL)
        time.sleep(0.002)
    stdout, stderr = tool.communicate(timeout=300)
    assert tool.returncode == 0 and "Traceback" not in stderr, stderr
    return stdout, len(seen)


def test_when_a_second_process_dies_the_run_finishes_alone(tmp_path):
    """Each second process killed (out of memory, say) as soon as it starts, the one that opens items
    and the one that writes pages: the run does their work itself. With --processes 1 it starts none,
    and writes the same."""
    secretariat = Secretariat(tmp_path, KEYRING)
    sent = [made([b"file"]) if n % 50 == 0 else made() for n in range(1500)]
    ids = a_bundle(tmp_path / "b.bin", *sent)
    out = tmp_path / "out"
    stdout, started = decrypting(secretariat, tmp_path / "b.bin", out, "--processes", "2", kill=True)
    assert started == 2, "not two second processes to kill"
    assert "1500 new requests, 0 already decrypted, 0 failed" in stdout
    assert sorted(r["item"] for r in Secretariat.requests(out)) == sorted(i.hex() for i in ids)
    for id_, m in list(zip(ids, sent, strict=True))[::50]:
        check_honest(out, id_, m)
    check_index(out)
    _, started = decrypting(
        secretariat, tmp_path / "b.bin", tmp_path / "alone", "--processes", "1", kill=False
    )
    assert started == 0
    assert snapshot(tmp_path / "alone") == snapshot(out)
