"""Offline decryption against bare SealedBox.decrypt of the same items, in alternating rounds.

Usage: .venv/bin/python bench/decrypt.py [COUNT [ROUNDS]]    (bench/run.py runs it with 10,000)

Each round times the bare baseline, `decrypt_bundle` with one process, the baseline again, and
`decrypt_bundle` with two processes (the second opens two items in three and writes the pages),
each decrypting the whole bundle into a new folder (a first decrypt: every request written, every
page made). The bundle is fsynced before anything is timed. CPU time is this process's, and
apart its children's (the second processes). Every figure is the median of the rounds; a ratio
is the median, over the rounds, of the baseline's time (the mean of the runs just before and just
after) over decrypt's. The keyring's unlock (Argon2id at its real cost) is timed apart: once per
run of the tool, whatever the bundle holds.
"""

import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from nacl.public import SealedBox

from intake.formats import export_bundle, item, refcode
from intake.formats.keyring import Generation, Keyring, load, save
from intake.offline.decrypt import decrypt_bundle

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.conftest import LANGS, filled  # noqa: E402 (the tests' valid answers)

FORMS = ("individual", "organisation", "feedback")
ROUNDS = 5
PASSPHRASE = "the benchmark's passphrase"  # noqa: S105 (a throwaway keyring, deleted after the run)


def _cpu() -> tuple[float, float]:
    """CPU seconds of this process, and of its children that ended (the second process)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def _timed(work) -> tuple[float, float, float]:
    """Wall-clock seconds of `work()`, and the CPU seconds it took here and in a second process."""
    wall, (own, children) = time.perf_counter(), _cpu()
    work()
    after = _cpu()
    return time.perf_counter() - wall, after[0] - own, after[1] - children


def _items(generation: Generation, count: int) -> list[bytes]:
    """Requests as the site's forms send them (the tests' valid answers), in turn of form and language."""
    pub = generation.box.public_key
    datas = []
    for i in range(count):
        form, lang = FORMS[i % len(FORMS)], LANGS[i % len(LANGS)]
        body = {"form": form, "lang": lang, "fields": filled(form, f"bench{i}")}
        record = item.Record(refcode.make(), "2026-11-21", form, "server")
        datas.append(item.seal_item(item.seal_body(body, pub), record, pub))
    return datas


def run(count: int, rounds: int = ROUNDS) -> list[tuple[str, ...]]:
    """Return table rows (measure, value, ratio to baseline, CPU ms per request)."""
    generation = Generation.new()
    keyring = Keyring((generation,))
    datas = _items(generation, count)
    box = SealedBox(generation.box)

    def bare() -> None:  # the bare work: open both envelopes of every item, in memory, nothing else
        for data in datas:
            box.decrypt(data[1 + 8 : item.RECORD_SIZE])
            box.decrypt(data[item.RECORD_SIZE + 1 + 8 :])

    timings: dict[str, list[tuple[float, float, float]]] = {"bare": [], "one": [], "two": []}
    # The baseline runs before and after each decrypt (baseline, one, baseline, two, ..., baseline):
    # each decrypt is compared with the mean of the two around it, so a load that changes while
    # the benchmark runs weighs on both sides alike.
    around: dict[str, list[int]] = {"one": [], "two": []}  # the baseline run just before each
    unlocks = []
    with tempfile.TemporaryDirectory(prefix="intake-bench-") as tmp:
        path = Path(tmp) / "export.bin"
        with open(path, "wb") as f:
            export_bundle.write(f, ((export_bundle.TYPE_ITEM, os.urandom(16), d) for d in datas))
            f.flush()
            os.fsync(f.fileno())
        save(Path(tmp) / "secretariat.keyring", keyring, PASSPHRASE)  # at the keyring's real cost
        for round_ in range(rounds):
            for name, helpers in (("one", 0), ("two", 1)):  # baseline, intake, baseline, intake, ...
                timings["bare"].append(_timed(bare))
                around[name].append(len(timings["bare"]) - 1)
                out = Path(tmp) / f"out-{name}-{round_}"

                def decrypt(out: Path = out, helpers: int = helpers) -> None:
                    report = decrypt_bundle(path, keyring, out, helpers=helpers)
                    assert report.ok and report.written == count, report.failures[:3]

                timings[name].append(_timed(decrypt))
                shutil.rmtree(out)
            unlocks.append(_timed(lambda: load(Path(tmp) / "secretariat.keyring", PASSPHRASE))[0])
        timings["bare"].append(_timed(bare))

    def rate(name: str) -> float:
        return statistics.median(count / wall for wall, _, _ in timings[name])

    def cpu_ms(name: str) -> str:
        own = statistics.median(cpu for _, cpu, _ in timings[name]) * 1000 / count
        second = statistics.median(cpu for _, _, cpu in timings[name]) * 1000 / count
        return f"{own:.3f}" + (f" + {second:.3f} second process" if second else "")

    def ratio(name: str) -> str:
        baselines = [(timings["bare"][i][0] + timings["bare"][i + 1][0]) / 2 for i in around[name]]
        pairs = zip(baselines, timings[name], strict=True)
        return f"{statistics.median(bare / wall for bare, (wall, _, _) in pairs):.2f}"

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    each = f"median of {rounds} alternating rounds"
    return [
        (
            f"bare SealedBox.decrypt, {count} items (record + body), {each}",
            f"{rate('bare'):,.0f} items/s",
            "1.00",
            cpu_ms("bare"),
        ),
        (
            f"intake-offline decrypt, {count} requests, one process",
            f"{rate('one'):,.0f} requests/s",
            ratio("one"),
            cpu_ms("one"),
        ),
        (
            f"intake-offline decrypt, {count} requests, two processes sharing the opening and the writing ({cores} cores)",
            f"{rate('two'):,.0f} requests/s",
            ratio("two"),
            cpu_ms("two"),
        ),
        (
            "keyring unlock (Argon2id, 256 MiB, 3 passes), once per run of the tool, not in the rates above",
            f"{statistics.median(unlocks):.2f} s",
            "",
            "",
        ),
    ]


if __name__ == "__main__":
    arguments = [int(a) for a in sys.argv[1:3]]
    print("| measure | result | ratio to baseline | CPU ms per request |\n|---|---|---|---|")
    for row in run(*arguments) if arguments else run(10_000):
        print("| " + " | ".join(row) + " |")
