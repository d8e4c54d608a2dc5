"""Prove it holds: hostile POSTs, floods, quotas, a full disk, and killed servers lose nothing."""

import http.client
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict
from werkzeug.test import encode_multipart

from intake import create_app, refcode
from intake.offline.decrypt import decrypt_bundle

from .conftest import INTAKE, ROOT, browser, csrf_token, filled, free_port, snapshot
from .test_attachments import tiny_disk  # noqa: F401 (a fixture)

ROUTES = ["individual", "organisation", "feedback", "status", "followup"]
NAMES = ["csrf_token", "envelope", "message", "urgency", "measures", "reference_code", "country", "kind",
         "defender_name", "contact_language", "amount_eur", "on_behalf", "org_type"]  # fmt: skip


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory):
    from intake import keyfiles
    from intake.offline.keyring import Generation

    base = tmp_path_factory.mktemp("hostile")
    generation = Generation.new()
    keyfiles.write_public_keys(base / "keys", generation.box.public_key, generation.sign.verify_key)
    site = {"INTAKE_DATA_DIR": str(base / "data"), "INTAKE_KEYS_DIR": str(base / "keys"),
            "INTAKE_SECRET_KEY": "h" * 40, "INTAKE_SUBMISSIONS_PER_MINUTE": "100000"}  # fmt: skip
    app = create_app(site)
    client = app.test_client()
    token = csrf_token(client.get("/en/feedback").text)
    return base / "data", client, token


values = st.one_of(st.text(max_size=300), st.text(max_size=5).map(lambda t: t * 30000), st.binary(max_size=200).map(
    lambda b: b.decode("latin-1")))  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    route=st.sampled_from(ROUTES),
    lang=st.sampled_from(["en", "ar", "ru", "xx"]),
    fields=st.lists(st.tuples(st.sampled_from(NAMES) | st.text(max_size=10), values), max_size=12),
    with_token=st.booleans(),
    raw=st.binary(max_size=400),
    kind=st.sampled_from(["form", "raw", "multipart"]),
)
def test_every_post_route_refuses_hostile_input_cleanly(
    hostile_site, route, lang, fields, with_token, raw, kind
):
    data_dir, client, token = hostile_site
    before = snapshot(data_dir / "dropbox") if (data_dir / "dropbox").exists() else {}
    statuses = snapshot(data_dir / "status") if (data_dir / "status").exists() else {}
    form = [(k, v) for k, v in fields] + ([("csrf_token", token)] if with_token else [])
    if kind == "raw":  # invalid UTF-8, duplicated fields, anything
        response = client.post(f"/{lang}/{route}", data=raw + urllib.parse.urlencode(form).encode(),
                               content_type="application/x-www-form-urlencoded")  # fmt: skip
    elif kind == "multipart":  # encoded in memory: the test client would leak a spooled temp file
        boundary, body = encode_multipart(MultiDict(form))
        response = client.post(
            f"/{lang}/{route}", data=body, content_type=f"multipart/form-data; boundary={boundary}"
        )
    else:
        response = client.post(f"/{lang}/{route}", data=urllib.parse.urlencode(form),
                               content_type="application/x-www-form-urlencoded")  # fmt: skip
    assert response.status_code < 500 or response.status_code == 503, response.status_code
    assert "Traceback" not in response.text
    after = snapshot(data_dir / "dropbox") if (data_dir / "dropbox").exists() else {}
    if response.status_code != 200 or route == "status":
        assert after == before
    assert (snapshot(data_dir / "status") if (data_dir / "status").exists() else {}) == statuses or (
        response.status_code == 200 and route != "status"
    )


def submit(client, lang="en", form="feedback", marker="QUOTA"):
    page = client.get(f"/{lang}/{form}")
    answers = filled(form, marker)
    return client.post(f"/{lang}/{form}", data={**answers, "csrf_token": csrf_token(page.text)}), answers


def test_a_storage_quota_refuses_with_answers_kept_then_resumes(site, generation):
    from intake import importer, returns
    from intake.dropbox import DropBox

    from .conftest import statuses_of

    app = create_app({**site, "INTAKE_QUOTA_MB": "1"})
    app.extensions["intake"].storage.recount_seconds = 0  # see space come back at once, not in 10 s
    client = app.test_client()
    accepted = 0
    while (response := submit(client, "ar")[0]).status_code == 200:
        accepted += 1
    assert accepted == 1_000_000 // 66_162  # 15 items of 66,162 bytes fit in 1 MB
    response, answers = submit(client, "ar", "individual", "QUOTAKEPT")
    assert response.status_code == 503 and answers["hr_work"] in response.text
    dropbox = DropBox(Path(site["INTAKE_DATA_DIR"]) / "dropbox")
    before = snapshot(dropbox.root)
    assert submit(client)[0].status_code == 503 and snapshot(dropbox.root) == before
    acks = tuple(dropbox.item_ids()[:5])  # the secretariat acknowledges five: space comes back
    bundle = returns.encode(returns.ReturnBundle(1, "2026-11-21", (), acks), generation.sign)
    importer.import_bundle(
        bundle, generation.sign.verify_key, site["INTAKE_DATA_DIR"], dropbox, statuses_of(site)
    )
    assert submit(client)[0].status_code == 200


def test_a_nearly_full_disk_refuses_then_resumes_by_itself(tiny_disk, site):  # noqa: F811
    app = create_app({**site, "INTAKE_DATA_DIR": str(tiny_disk / "data"), "INTAKE_MIN_FREE_MB": "1"})
    client = app.test_client()
    assert submit(client, "fr")[0].status_code == 200
    stored = snapshot(tiny_disk / "data" / "dropbox")
    filler = tiny_disk / "filler"
    filler.write_bytes(bytes(int(3.2 * 2**20)))  # leaves less than 1 MB free
    response, answers = submit(client, "fr", "organisation", "DISKFULL")
    assert response.status_code == 503 and answers["org_work"] in response.text
    assert 'lang="fr"' in response.text and snapshot(tiny_disk / "data" / "dropbox") == stored
    filler.unlink()
    assert submit(client, "fr")[0].status_code == 200  # no restart needed


def start(env, port):
    proc = subprocess.Popen([INTAKE, "serve"], cwd=ROOT, env={**env, "INTAKE_BIND": f"127.0.0.1:{port}"},
                            stderr=subprocess.DEVNULL)  # fmt: skip
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    pytest.fail("intake serve did not start")


def workers_of(master: int) -> list[int]:
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if f"PPid:\t{master}\n" in Path(f"/proc/{pid}/status").read_text():
                pids.append(int(pid))
        except OSError:
            pass
    return pids


def flood_env(site, tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")} | {"INTAKE_CONFIG": os.devnull}
    return (
        env
        | {k: v for k, v in site.items() if k != "INTAKE_SECRET_KEY"}
        | {
            "INTAKE_ACCESS_LOG": str(tmp_path / "access.log"),
            "INTAKE_ERROR_LOG": str(tmp_path / "error.log"),
            **extra,
        }
    )


def post_feedback(url, lang="en"):
    client = browser()
    page = client.open(f"{url}/{lang}/feedback", timeout=10).read().decode()
    body = urllib.parse.urlencode(
        {**filled("feedback", "FLOODMARK"), "csrf_token": csrf_token(page)}
    ).encode()
    try:
        with client.open(f"{url}/{lang}/feedback", data=body, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_a_flood_is_refused_while_the_site_still_answers(site, tmp_path):
    port = free_port()
    proc = start(flood_env(site, tmp_path, INTAKE_SUBMISSIONS_PER_MINUTE="60"), port)
    url = f"http://127.0.0.1:{port}"
    results, reads, stop = [], [], time.monotonic() + 8
    try:

        def flood():
            while time.monotonic() < stop:
                results.append(post_feedback(url)[0])

        def reader():
            while time.monotonic() < stop:
                started = time.monotonic()
                with urllib.request.urlopen(f"{url}/ru/", timeout=10) as response:  # noqa: S310
                    reads.append((response.status, time.monotonic() - started))
                time.sleep(0.2)

        threads = [threading.Thread(target=flood) for _ in range(6)] + [threading.Thread(target=reader)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        proc.terminate()
        proc.wait()
    accepted, refused = results.count(200), results.count(429)
    assert accepted + refused == len(results) and refused > accepted  # nothing else: no 5xx
    assert accepted <= 10 + 8 * 60 / 60 + 2  # the bursts of both workers, plus eight seconds at 1/s
    assert len(reads) >= 20 and all(status == 200 for status, _ in reads)
    assert max(seconds for _, seconds in reads) < 3  # the site kept answering while the flood was refused


def test_killed_workers_and_master_lose_no_accepted_request(site, tmp_path, keyring):
    env = flood_env(site, tmp_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start(env, port)
    received, stop = [], time.monotonic() + 12

    def client():
        while time.monotonic() < stop:
            try:
                status, page = post_feedback(url, random.choice(["en", "ar", "ru"]))
            except (OSError, http.client.HTTPException):
                time.sleep(0.1)  # the server is being killed or restarted: no code was received
                continue
            if status == 200:
                received.append(re.search(r'<bdi dir="ltr">([0-9A-Z-]{23})</bdi>', page).group(1))

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    kills = 0
    try:
        while time.monotonic() < stop - 2:
            time.sleep(random.uniform(0.2, 0.8))
            victims = workers_of(proc.pid)
            if victims:
                os.kill(random.choice(victims), signal.SIGKILL)
                kills += 1
            if kills == 6:  # once, the master too, as a power cut would; then a restart
                os.kill(proc.pid, signal.SIGKILL)
                for pid in workers_of(proc.pid):
                    os.kill(pid, signal.SIGKILL)
                proc.wait()
                proc = start(env, port)
    finally:
        for t in threads:
            t.join()
        proc.terminate()
        proc.wait()
        for pid in workers_of(proc.pid):
            os.kill(pid, signal.SIGKILL)

    assert kills >= 6 and len(received) > 20
    bundle = tmp_path / "export.bin"
    subprocess.run([Path(sys.executable).parent / "intake", "export", "--out", bundle], env=env, check=True,
                   capture_output=True)  # fmt: skip
    report = decrypt_bundle(bundle, keyring, tmp_path / "read")
    assert report.ok, report.failures  # no half-written file was exported
    decrypted = {json.loads(p.read_text(encoding="utf-8"))["reference"]
                 for p in (tmp_path / "read" / "requests").glob("*/request.json")}  # fmt: skip
    assert set(received) <= decrypted  # every code a client received has its request
    assert all(refcode.normalise(code) for code in received)


def test_the_quota_count_survives_files_vanishing_while_it_counts(tmp_path):
    from intake import limits

    folder = tmp_path / "dropbox"
    folder.mkdir()
    (folder / "a.item").write_bytes(bytes(100))
    storage = limits.Storage(folder, quota_bytes=10**6, min_free_bytes=0, recount_seconds=0)
    real_scandir = os.scandir

    def listing_then_vanish(path):
        entries = list(real_scandir(path))
        (folder / "a.item").unlink()  # another worker's temporary file, gone before its stat
        return iter(entries)

    os.scandir = listing_then_vanish
    try:
        assert storage.room_for(10) is True
    finally:
        os.scandir = real_scandir
