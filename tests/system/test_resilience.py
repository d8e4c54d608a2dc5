"""Prove it holds: hostile POSTs, floods, quotas, a full disk, and killed servers lose nothing."""

import http.client
import io
import os
import random
import signal
import socket
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
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from intake import create_app
from intake.formats import refcode
from intake.formats.payload import encode_json
from intake.offline.decrypt import decrypt_bundle

from ..actors import Defender, Secretariat, code_of
from ..conftest import (
    INTAKE,
    ROOT,
    both_engines,
    browser,
    csrf_token,
    drop_box,
    filled,
    free_port,
    import_return,
    item_ids,
    make_site,
    postgres_cluster,
    served_env,
    service,
    wait_for,
)

ROUTES = ["individual", "organisation", "feedback", "status", "followup"]
NAMES = [
    "csrf_token",
    "envelope",
    "message",
    "urgency",
    "measures",
    "reference_code",
    "country",
    "kind",
    "defender_name",
    "contact_language",
    "amount_eur",
    "on_behalf",
    "org_type",
]


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory):
    from intake.formats import keyfiles
    from intake.formats.keyring import Generation

    base = tmp_path_factory.mktemp("hostile")
    generation = Generation.new()
    keyfiles.write_public_keys(base / "keys", generation.box.public_key, generation.sign.verify_key)
    site = {
        "INTAKE_DATA_DIR": str(base / "data"),
        "INTAKE_KEYS_DIR": str(base / "keys"),
        "INTAKE_SECRET_KEY": "h" * 40,
        "INTAKE_SUBMISSIONS_PER_MINUTE": "100000",
    }
    app = create_app(site)
    client = app.test_client()
    token = csrf_token(client.get("/en/feedback").text)
    return site, client, token


values = st.one_of(
    st.text(max_size=300),
    st.text(max_size=5).map(lambda t: t * 30000),
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
)


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
    hostile, client, token = hostile_site
    before = drop_box(hostile)
    form = [(k, v) for k, v in fields] + ([("csrf_token", token)] if with_token else [])
    if kind == "raw":  # invalid UTF-8, duplicated fields, anything
        response = client.post(
            f"/{lang}/{route}",
            data=raw + urllib.parse.urlencode(form).encode(),
            content_type="application/x-www-form-urlencoded",
        )
    elif kind == "multipart":  # encoded in memory: the test client would leak a spooled temp file
        boundary, body = encode_multipart(MultiDict(form))
        response = client.post(
            f"/{lang}/{route}", data=body, content_type=f"multipart/form-data; boundary={boundary}"
        )
    else:
        response = client.post(
            f"/{lang}/{route}",
            data=urllib.parse.urlencode(form),
            content_type="application/x-www-form-urlencoded",
        )
    assert response.status_code < 500 or response.status_code == 503, response.status_code
    assert "Traceback" not in response.text
    if response.status_code != 200 or route == "status":
        assert drop_box(hostile) == before


def answers_for(route: str) -> dict:
    """Valid answers for a POST route (a follow-up and a lookup carry a well-formed code)."""
    if route == "status":
        return {"reference_code": refcode.display(refcode.make())}
    if route == "followup":
        return {"reference_code": refcode.display(refcode.make()), "message": "more", "contact_details": ""}
    return filled(route, "FILEPART")


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    route=st.sampled_from(ROUTES),
    lang=st.sampled_from(["en", "ar", "ru"]),
    as_files=st.sets(
        st.sampled_from([*NAMES, "hr_work", "message", "org_work", "contact_details"]), min_size=1
    ),
    filename=st.text(max_size=40),
    content=st.binary(max_size=300),
)
def test_text_answers_sent_as_file_parts_are_refused_cleanly(
    hostile_site, route, lang, as_files, filename, content
):
    """A browser sends text answers as plain parts; a crafted one may send any as a file part."""
    hostile, client, token = hostile_site
    before = drop_box(hostile)
    fields = MultiDict()
    for name, value in {**answers_for(route), "csrf_token": token}.items():
        for v in value if isinstance(value, list) else [value]:
            if name in as_files:
                fields.add(name, FileStorage(io.BytesIO(content or v.encode()), filename=filename or "a.txt"))
            else:
                fields.add(name, v)
    for name in as_files - set(fields):  # and parts the form never had
        fields.add(name, FileStorage(io.BytesIO(content), filename=filename or "b.txt"))
    boundary, body = encode_multipart(fields)
    response = client.post(
        f"/{lang}/{route}", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code < 500 or response.status_code == 503, response.status_code
    if response.status_code != 200 or route == "status":
        assert drop_box(hostile) == before


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory):
    """`intake serve` for hostile bodies that only a real HTTP server parses (chunked ones)."""
    from intake.formats import keyfiles
    from intake.formats.keyring import Generation

    base = tmp_path_factory.mktemp("hostile-server")
    generation = Generation.new()
    keyfiles.write_public_keys(base / "keys", generation.box.public_key, generation.sign.verify_key)
    site = {"INTAKE_DATA_DIR": str(base / "data"), "INTAKE_KEYS_DIR": str(base / "keys")}
    with service(
        base, site, INTAKE_SUBMISSIONS_PER_MINUTE="100000", INTAKE_LOOKUPS_PER_MINUTE="100000"
    ) as running:
        yield running["url"], site


def chunked(body: bytes, flaw: str, cut: int) -> bytes:
    """`body` in chunks, with one kind of flaw a crafted client might send."""
    cut = max(1, min(cut, len(body) - 1))
    head, tail = body[:cut], body[cut:]
    good = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(head), head, len(tail), tail)
    flaws = {
        "none": good,
        "bad size": b"zz\r\n" + head + b"\r\n0\r\n\r\n",
        "negative size": b"-%x\r\n%s\r\n0\r\n\r\n" % (len(head), head),
        "huge size": b"ffffffffffffffffff\r\n" + head,
        "size too large for the data": b"%x\r\n%s\r\n0\r\n\r\n" % (len(head) + 1000, head),
        "no CRLF after the data": b"%x\r\n%sXX0\r\n\r\n" % (len(head), head),
        "bad extension": b"%x;\x00\x7f\r\n%s\r\n0\r\n\r\n" % (len(head), head),
        "bad trailer": b"%x\r\n%s\r\n0\r\nno colon here\r\n\r\n" % (len(head), head),
        "no last chunk": b"%x\r\n%s\r\n" % (len(head), head),
        "cut off": good[: len(good) // 2],
    }
    return flaws[flaw]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    route=st.sampled_from(ROUTES),
    lang=st.sampled_from(["en", "ar"]),
    flaw=st.sampled_from(
        [
            "none",
            "bad size",
            "negative size",
            "huge size",
            "size too large for the data",
            "no CRLF after the data",
            "bad extension",
            "bad trailer",
            "no last chunk",
            "cut off",
        ]
    ),
    multipart=st.booleans(),
    cut=st.integers(1, 400),
)
def test_chunked_and_malformed_chunked_bodies_are_refused_cleanly(
    hostile_server, route, lang, flaw, multipart, cut
):
    url, hostile = hostile_server
    client = browser()
    page = (
        client.open(f"{url}/{lang}/{route if route != 'followup' else 'status'}", timeout=30).read().decode()
    )
    fields = {**answers_for(route), "csrf_token": csrf_token(page)}
    if multipart:
        boundary, body = encode_multipart(MultiDict(fields))
        kind = f"multipart/form-data; boundary={boundary}"
    else:
        body, kind = urllib.parse.urlencode(fields, doseq=True).encode(), "application/x-www-form-urlencoded"
    jar = next(h.cookiejar for h in client.handlers if hasattr(h, "cookiejar"))
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    before = drop_box(hostile)
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as conn:
        conn.sendall(
            f"POST /{lang}/{route} HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nContent-Type: {kind}\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n".encode()
            + chunked(body, flaw, cut)
        )
        conn.shutdown(socket.SHUT_WR)  # the client is done: nobody waits for a deadline
        response = http.client.HTTPResponse(conn)
        response.begin()
        status, text = response.status, response.read().decode("utf-8", "replace")
    assert status < 500 or status == 503, (status, text[:300])
    assert "Traceback" not in text
    after = drop_box(hostile)
    if flaw != "none" or status != 200 or route == "status":
        assert after == before, status
    else:
        assert route == "status" or len(after["items"]) > len(
            before["items"]
        )  # a whole chunked request is stored


def attempt(client, lang="en", form="feedback", marker="QUOTA"):
    """Send valid answers as a defender would; return the answer and what was sent."""
    answers = filled(form, marker)
    return Defender(client).send(lang, form, answers), answers


@both_engines
def test_a_storage_quota_refuses_with_answers_kept_then_resumes(site, generation):
    from intake.formats import return_bundle

    client = create_app({**site, "INTAKE_QUOTA_MB": "1"}).test_client()
    accepted = 0
    while (response := attempt(client, "ar")[0]).status_code == 200:
        accepted += 1
    assert accepted == 1_000_000 // 66_162  # 15 items of 66,162 bytes fit in 1 MB
    response, answers = attempt(client, "ar", "individual", "QUOTAKEPT")
    assert response.status_code == 503 and answers["hr_work"] in response.text
    before = drop_box(site)
    assert attempt(client)[0].status_code == 503 and drop_box(site) == before
    acks = tuple(item_ids(site)[:5])  # the secretariat acknowledges five: space comes back
    bundle = return_bundle.encode(return_bundle.ReturnBundle(1, "2026-11-21", (), acks), generation.sign)
    import_return(site, bundle, generation.sign.verify_key)
    assert attempt(client)[0].status_code == 200


def test_a_nearly_full_disk_refuses_then_resumes_by_itself(tiny_disk, site):
    site = {**site, "INTAKE_DATA_DIR": str(tiny_disk / "data"), "INTAKE_MIN_FREE_MB": "1"}
    app = create_app(site)
    client = app.test_client()
    assert attempt(client, "fr")[0].status_code == 200
    stored = drop_box(site)
    filler = tiny_disk / "filler"
    filler.write_bytes(bytes(int(3.2 * 2**20)))  # leaves less than 1 MB free
    response, answers = attempt(client, "fr", "organisation", "DISKFULL")
    assert response.status_code == 503 and answers["org_work"] in response.text
    assert 'lang="fr"' in response.text and drop_box(site) == stored
    filler.unlink()
    assert attempt(client, "fr")[0].status_code == 200  # no restart needed
    app.extensions["intake"].store.db.close()  # so that the file system can be unmounted


def start(env, port):
    """`intake serve` on `port`, as killed and started again by the crash test."""
    proc = subprocess.Popen([INTAKE, "serve"], cwd=ROOT, env={**env, "INTAKE_BIND": f"127.0.0.1:{port}"},
                            stderr=subprocess.DEVNULL)  # fmt: skip
    wait_for(f"http://127.0.0.1:{port}/", proc)
    return proc


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
    return served_env(site) | {
        "INTAKE_ACCESS_LOG": str(tmp_path / "access.log"),
        "INTAKE_ERROR_LOG": str(tmp_path / "error.log"),
        **extra,
    }


def post_feedback(url, lang="en"):
    """A defender sending feedback over HTTP; (status, page)."""
    response = Defender(url=url).send(lang, "feedback", filled("feedback", "FLOODMARK"))
    return response.status_code, response.text


@both_engines
def test_a_flood_is_refused_while_the_site_still_answers(site, tmp_path):
    port = free_port()
    proc = start(flood_env(site, tmp_path, INTAKE_SUBMISSIONS_PER_MINUTE="60"), port)
    url = f"http://127.0.0.1:{port}"
    results, reads, done = [], [], threading.Event()
    started = time.monotonic()
    try:

        def flood():
            while not done.is_set():
                results.append(post_feedback(url)[0])

        def reader():
            for _ in range(20):  # twenty pages, read while six clients flood the site
                # The deadline is generous: the property is that the page comes, not how fast.
                with urllib.request.urlopen(f"{url}/ru/", timeout=30) as response:  # noqa: S310
                    reads.append(response.status)
                time.sleep(0.2)
            done.set()

        threads = [threading.Thread(target=flood) for _ in range(6)] + [threading.Thread(target=reader)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        proc.terminate()
        proc.wait()
    elapsed = time.monotonic() - started
    accepted, refused = results.count(200), results.count(429)
    assert accepted + refused == len(results) and refused > accepted  # nothing else: no 5xx
    # Site-wide, in every window of ten seconds, at most a sixth of the minute's 60.
    assert accepted <= 10 * (int(elapsed) // 10 + 2)
    assert reads == [200] * 20  # the site kept answering while the flood was refused


@both_engines
def test_killed_workers_and_master_lose_no_accepted_request(site, tmp_path, keyring):
    env = flood_env(site, tmp_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start(env, port)
    received, stop, arrived = [], threading.Event(), threading.Condition()

    def client():
        while not stop.is_set():
            try:
                status, page = post_feedback(url, random.choice(["en", "ar", "ru"]))
            except (OSError, http.client.HTTPException):
                time.sleep(0.1)  # the server is being killed or restarted: no code was received
                continue
            if status == 200:
                with arrived:
                    received.append(code_of(page))
                    arrived.notify_all()

    def after_another_code():
        """Wait until a client has been given one more code (generously: a busy machine is slow)."""
        with arrived:
            count = len(received)
            assert arrived.wait_for(lambda: len(received) > count, timeout=60), "no request accepted"

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for _ in range(6):  # six workers killed, each while requests are under way
            after_another_code()
            time.sleep(random.uniform(0, 0.3))
            os.kill(random.choice(workers_of(proc.pid)), signal.SIGKILL)
        after_another_code()
        os.kill(proc.pid, signal.SIGKILL)  # then the master too, as a power cut would
        for pid in workers_of(proc.pid):
            os.kill(pid, signal.SIGKILL)
        proc.wait()
        proc = start(env, port)
        after_another_code()  # and the restarted service accepts requests again
    finally:
        stop.set()
        for t in threads:
            t.join()
        proc.terminate()
        proc.wait()
        for pid in workers_of(proc.pid):
            os.kill(pid, signal.SIGKILL)

    bundle = tmp_path / "export.bin"
    subprocess.run(
        [Path(sys.executable).parent / "intake", "export", "--out", bundle],
        env=env,
        check=True,
        capture_output=True,
    )
    report = decrypt_bundle(bundle, keyring, tmp_path / "read")
    assert report.ok, report.failures  # no half-written file was exported
    decrypted = {request["reference"] for request in Secretariat.requests(tmp_path / "read")}
    assert set(received) <= decrypted  # every code a client received has its request
    assert all(refcode.normalise(code) for code in received)


def test_a_worker_started_while_the_site_is_offline_keeps_the_service_up(site, tmp_path):
    """A worker replaced (recycled, or killed) while the submission key is missing starts anyway:
    the site shows its offline page, and answers again when the key is back, without a restart."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/en/"
    proc = start(flood_env(site, tmp_path, INTAKE_WORKERS="1"), port)

    def status() -> int:
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as e:
            return e.code

    key = next(Path(site["INTAKE_KEYS_DIR"]).glob("submission*"))
    saved = key.read_bytes()
    try:
        key.unlink()
        assert status() == 503  # the offline page
        [worker] = workers_of(proc.pid)
        os.kill(worker, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while workers_of(proc.pid) in ([], [worker]) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        wait_for(url, proc)
        assert proc.poll() is None, "the service stopped"
        assert status() == 503
        key.write_bytes(saved)
        assert status() == 200
    finally:
        proc.terminate()
        proc.wait()


def test_a_database_outage_is_answered_offline_and_survived_without_a_restart(tmp_path, generation):
    """PostgreSQL stops under the running service (an upgrade, a crash): lookups and submissions are
    answered "offline" with what the defender typed kept, a worker started meanwhile does not stop
    the service, and everything works again once the database is back, without a restart."""
    with postgres_cluster() as cluster:
        cluster.sql("CREATE DATABASE outage")
        site = make_site(tmp_path, generation, cluster.url("outage"))
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = start(flood_env(site, tmp_path, INTAKE_WORKERS="1"), port)
        defender = Defender(url=url)
        typed = refcode.display(refcode.make())
        answers = filled("feedback", "OUTAGE")
        try:
            assert defender.look_up("ru", typed).status_code == 200
            cluster.stop()
            answer = defender.look_up("ru", typed)
            assert answer.status_code == 503 and f'value="{typed}"' in answer.text
            sent = defender.send("ar", "feedback", answers)
            assert sent.status_code == 503 and answers["message"] in sent.text
            [worker] = workers_of(proc.pid)
            os.kill(worker, signal.SIGKILL)  # replaced while the database is away
            deadline = time.monotonic() + 120
            while workers_of(proc.pid) in ([], [worker]) and time.monotonic() < deadline:
                assert proc.poll() is None, "the service stopped"
                time.sleep(0.2)
            assert defender.look_up("ru", typed).status_code == 503
            assert proc.poll() is None, "the service stopped"
            cluster.start()
            deadline = time.monotonic() + 120
            while (back := defender.look_up("ru", typed)).status_code == 503 and time.monotonic() < deadline:
                time.sleep(0.5)
            assert back.status_code == 200
            assert defender.send("ar", "feedback", answers).status_code == 200
        finally:
            proc.terminate()
            proc.wait()


def longest_answers(app, route: str) -> dict:
    """Every free-text answer at its length limit, in 4-byte characters; the rest valid."""
    from intake.web.forms import FeedbackForm, FollowupForm
    from intake.web.support_forms import IndividualForm, OrganisationForm

    forms = {
        "individual": IndividualForm,
        "organisation": OrganisationForm,
        "feedback": FeedbackForm,
        "followup": FollowupForm,
    }
    answers = answers_for(route)
    with app.test_request_context(f"/en/{route}"):
        for rule in forms[route](formdata=None).rules():
            if "max" in rule and not {"choices", "number", "refcode"} & set(rule):
                answers[rule["name"]] = "😀" * rule["max"]
    return answers


@pytest.mark.parametrize("route", ["individual", "organisation", "followup", "feedback"])
@pytest.mark.parametrize("max_files", [0, 1, 5, 20])
def test_the_longest_request_the_settings_allow_is_stored(site, route, max_files):
    """Every answer at its limit, the most files allowed, with crafted names and declared types
    (control characters cost six bytes each in JSON): the request still fits its sealed Frame."""

    app = create_app({**site, "INTAKE_MAX_ATTACHMENTS": str(max_files)})
    answers = longest_answers(app, route)
    crafted = "x\x01/" + "\x02" * 120
    files = [
        ("😀\x01" * 60 + f"{n}.pdf", b"%d" % n, crafted)
        for n in range(max_files if route != "feedback" else 0)
    ]
    response = Defender(app.test_client()).send("ar", route, answers, files)
    assert response.status_code == 200, response.text[:300]
    assert len(drop_box(site)["streams"]) == len(files)


def test_the_longest_request_fits_one_frame_at_every_setting(app):
    """The arithmetic behind the test above, so that a longer field or more files cannot slip in:
    every text answer at its limit in 4-byte characters, every choice chosen, the most files the
    settings allow with the longest names and declared types the server keeps."""
    from intake.formats import envelope
    from intake.web import uploads
    from intake.web.forms import FeedbackForm, FollowupForm
    from intake.web.support_forms import IndividualForm, OrganisationForm

    most_files = 20  # config.py: INTAKE_MAX_ATTACHMENTS is at most 20
    entry = {
        "name": "😀" * uploads.MAX_NAME,
        "type": "a" * 64 + "/" + "b" * 64,
        "size": 200_000_000,
        "key": "ab" * 32,
    }
    with app.test_request_context("/en/individual"):
        for form_class in (IndividualForm, OrganisationForm, FeedbackForm, FollowupForm):
            fields = {}
            for rule in form_class(formdata=None).rules():
                if rule.get("choices") and rule["type"] == "MultiCheckboxField":
                    fields[rule["name"]] = rule["choices"]
                elif rule.get("choices"):
                    fields[rule["name"]] = max(rule["choices"], key=len)
                else:
                    fields[rule["name"]] = "😀" * rule.get("max", 40)
            files = [entry] * (most_files if getattr(form_class, "ATTACHMENTS", False) else 0)
            payload = {"form": form_class.KIND, "lang": "en", "fields": fields, "attachments": files}
            assert len(encode_json(payload)) <= envelope.MAX_PAYLOAD[envelope.KIND_BODY], form_class.KIND
