"""A hostile server crafting export bundles cannot stop the offline tool, nor hide honest requests."""

import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intake.formats import item
from intake.formats.keyring import QUICK, save
from intake.offline.decrypt import decrypt_bundle

from ..actors import Secretariat
from ..conftest import snapshot, tree
from .crafting import KEYRING, check_honest, check_index, honest_entries, made, write_entries

PASSPHRASE = "a hostile bundle passphrase"


# Made once: sealing is the slow part, and a sender's item may be reused across examples.
HONEST = [made(), made([b"x" * 10]), made([os.urandom(70_000), b""]), made(lang="ar"), made([b"y"])]
CRAFTED = [made([b"z" * 5]), made([b"a", b"b"]), made(), made([b"w" * 3])]
TARGETED = ("reuse_out", "rerun", "duplicate", "same_body")
KINDS = (*TARGETED, "missing", "bad_checksum_later", "bad_checksum", "orphan", "extra", "garbage")


def craft(kind: str, data, state) -> list:
    """The entries of one crafted kind; `state` holds what earlier runs and entries made."""
    pick = data.draw(st.sampled_from(CRAFTED), label="crafted item")
    fresh = os.urandom(16)
    if kind == "reuse_out" and state["decrypted"]:  # an id already in --out, a new item announcing files
        target = data.draw(st.sampled_from(sorted(state["decrypted"])), label="reused id")
        streams = data.draw(st.lists(st.sampled_from([*pick.streams, b"junk"]), max_size=3), label="streams")
        return [(1, target, pick.data, True)] + [(2, target, s, True) for s in streams]
    if kind == "rerun" and state["decrypted"]:  # the same item again: nothing changes
        target = data.draw(st.sampled_from(sorted(state["decrypted"])), label="rerun id")
        return honest_entries(target, state["decrypted"][target])
    if kind == "duplicate" and state["this_run"]:  # after an honest item, under its id
        target = data.draw(st.sampled_from(state["this_run"]), label="duplicated id")
        return [(1, target, pick.data, True)] + [(2, target, s, True) for s in pick.streams]
    if kind == "same_body" and state["this_run"]:
        target = data.draw(st.sampled_from(state["this_run"]), label="same body as")
        return [(1, fresh, state["made"][target].data, True)]
    if kind == "missing":  # files announced, fewer sent
        keep = data.draw(st.integers(0, max(0, len(pick.streams) - 1)), label="sent")
        return [(1, fresh, pick.data, True)] + [(2, fresh, s, True) for s in pick.streams[:keep]]
    if kind == "bad_checksum_later" and state["later"]:  # a damaged entry claiming a later honest id
        target = data.draw(st.sampled_from(state["later"]), label="later id")
        type_ = data.draw(st.sampled_from([1, 2]), label="type")
        return [(type_, target, pick.data if type_ == 1 else b"junk", False)]
    if kind == "bad_checksum":
        type_ = data.draw(st.sampled_from([1, 2]), label="type")
        return [(type_, fresh, pick.data, False)] + [(2, fresh, s, True) for s in pick.streams]
    if kind == "orphan":  # files with no request before them
        target = data.draw(st.sampled_from([fresh, *sorted(state["decrypted"])]), label="orphan id")
        return [(2, target, s, True) for s in [*pick.streams, b"junk"]]
    if kind == "extra":  # more files than the item announces
        return [(1, fresh, pick.data, True)] + [(2, fresh, s, True) for s in [*pick.streams, b"more"]]
    if kind == "garbage":
        size = data.draw(st.sampled_from([0, 100, item.ITEM_SIZE]), label="size")
        return [(1, fresh, os.urandom(size), True)]
    return []


@pytest.fixture(scope="module")
def keyring_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ring")
    save(folder / "secretariat.keyring", KEYRING, PASSPHRASE, cost=QUICK)
    (folder / "pass.txt").write_text(PASSPHRASE, encoding="utf-8")
    return folder / "secretariat.keyring", folder / "pass.txt"


def run_tool(bundle_path, out, keyring_file):
    ring, passfile = keyring_file
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "intake.offline",
            "decrypt",
            bundle_path,
            "--keyring",
            ring,
            "--out",
            out,
            "--passphrase-file",
            passfile,
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_crafted_bundles_never_stop_the_tool_nor_hide_an_honest_request(tmp_path_factory, keyring_file, data):
    base = tmp_path_factory.mktemp("hostile")
    out = base / "out"
    before = snapshot(base)
    state = {"decrypted": {}, "made": {}}
    unused = list(range(len(HONEST)))
    runs = data.draw(st.integers(1, 3), label="runs")
    for run in range(runs):
        plan = data.draw(st.lists(st.sampled_from(("honest", *KINDS)), max_size=8), label=f"run {run}")
        honest_ids = [os.urandom(16) for step in plan if step == "honest"]
        state |= {"this_run": [], "later": list(honest_ids)}
        entries, this_run = [], {}
        for step in plan:
            if step == "honest" and unused:
                id_, m = state["later"].pop(0), HONEST[unused.pop(0)]
                entries += honest_entries(id_, m)
                this_run[id_] = m
                state["this_run"].append(id_)
                state["made"][id_] = m
            elif step != "honest":
                entries += craft(step, data, state)
        path = base / f"bundle-{run}.bin"
        write_entries(path, entries)
        if run == runs - 1:  # the last run as the secretariat runs it: the real command
            result = run_tool(path, out, keyring_file)
            assert result.returncode in (0, 1), result.stderr
            assert "Traceback" not in result.stderr
            assert all(line.startswith(("FAILED ", "decrypting: ")) for line in result.stderr.splitlines())
        else:
            decrypt_bundle(path, KEYRING, out)  # raises nothing, whatever the bundle holds
        for id_, m in (this_run | state["decrypted"]).items():
            check_honest(out, id_, m)
        check_index(out)
        state["decrypted"] |= this_run
        outside = {p for p in tree(base) if not p.startswith("out") and not p.startswith("bundle-")}
        assert outside == set(before)


def test_a_reused_id_announcing_a_file_stops_nothing(tmp_path, keyring_file):
    """The case from issue 11: run after run, the tool used to stop at the crafted entry."""
    out = tmp_path / "out"
    first, id_ = HONEST[0], os.urandom(16)
    write_entries(tmp_path / "one.bin", honest_entries(id_, first))
    assert decrypt_bundle(tmp_path / "one.bin", KEYRING, out).ok
    kept = Secretariat.requests(out)
    crafted = CRAFTED[0]
    later = [(os.urandom(16), HONEST[n]) for n in (1, 2)]
    entries = [(1, id_, crafted.data, True), (2, id_, crafted.streams[0], True)]
    for other, m in later:
        entries += honest_entries(other, m)
    write_entries(tmp_path / "two.bin", entries)
    for _ in range(2):
        result = run_tool(tmp_path / "two.bin", out, keyring_file)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert f"FAILED item 1 ({id_.hex()}): an earlier, different request has the same id" in result.stderr
        assert Secretariat.requests(out)[0] == kept[0]  # the earlier request, as it was
        assert not (out / "requests" / id_.hex()).exists()  # and no file of the crafted one
        for other, m in later:
            check_honest(out, other, m)
        check_index(out)


def test_a_damaged_entry_does_not_claim_the_id_of_the_honest_one(tmp_path):
    """formats.md: only entries whose checksum matched count when ids are compared."""
    honest, id_ = HONEST[1], os.urandom(16)
    write_entries(tmp_path / "b.bin", [(1, id_, CRAFTED[2].data, False), *honest_entries(id_, honest)])
    report = decrypt_bundle(tmp_path / "b.bin", KEYRING, tmp_path / "out")
    assert report.failures == [
        f"item 1 ({id_.hex()}): checksum does not match: the bundle was damaged in transit"
    ]
    check_honest(tmp_path / "out", id_, honest)
