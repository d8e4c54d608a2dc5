"""More than one machine: two `intake serve` nodes on one PostgreSQL, behind the shipped HAProxy
configuration, as docs/operator.md sets them up."""

import contextlib
import http.client
import os
import random
import re
import signal
import subprocess
import threading
import time

import pytest

from ..actors import Defender, NotServed, Operator, Secretariat, code_of
from ..conftest import ROOT, filled, free_port, service, wait_for

pytestmark = pytest.mark.parametrize("engine", ["postgresql"], indirect=True)


@contextlib.contextmanager
def nodes(tmp_path, site, **settings):
    """Two nodes, each with its own data folder (its marker, nothing else) and the shared database."""
    with contextlib.ExitStack() as stack:
        running = []
        for name in ("a", "b"):
            base = tmp_path / f"node-{name}"
            node_site = site | {"INTAKE_DATA_DIR": str(base / "data")}
            running.append(stack.enter_context(service(base, node_site, **settings)))
        yield running


@contextlib.contextmanager
def haproxy(tmp_path, *urls):
    """Debian's HAProxy with deploy/haproxy.cfg, its frontend and its servers moved to test ports."""
    port = free_port()
    config = (ROOT / "deploy" / "haproxy.cfg").read_text()
    config = config.replace("bind 127.0.0.1:8080", f"bind 127.0.0.1:{port}")
    servers = "".join(
        f"    server node{n} {url.removeprefix('http://')} check\n" for n, url in enumerate(urls)
    )
    config, replaced = re.subn(r"(    server node\d .*\n)+", servers, config)
    assert replaced == 1, "deploy/haproxy.cfg lists its nodes as `server nodeN ADDRESS check` lines"
    for name in ("offline", "no-answer"):  # the pages the operator copies to /etc/haproxy/errors
        config = config.replace(
            f"/etc/haproxy/errors/intake-{name}.http", str(ROOT / "deploy" / f"haproxy-{name}.http")
        )
    path = tmp_path / "haproxy.cfg"
    path.write_text(config)
    with open(tmp_path / "haproxy.out", "wb") as out:
        proc = subprocess.Popen(["haproxy", "-db", "-f", path], stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(url + "/", proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def references(read) -> list[str]:
    """The reference code of every request the secretariat decrypted (a list: duplicates show)."""
    return [request["reference"] for request in Secretariat.requests(read)]


def send(url, lang="en"):
    """A defender sending feedback over HTTP; (status, page)."""
    response = Defender(url=url).send(lang, "feedback", filled("feedback", "NODEMARK"))
    return response.status_code, response.text


def test_two_nodes_share_one_drop_box_export_it_once_and_show_what_either_imported(
    tmp_path, site, secretariat
):
    with nodes(tmp_path, site) as (a, b), haproxy(tmp_path, a["url"], b["url"]) as front:
        codes = [
            Defender(url=node["url"]).submit(lang, "individual") for node in (a, b) for lang in ("ar", "ru")
        ]
        codes += [Defender(url=front).submit("es", "feedback") for _ in range(4)]  # as tor sends them

        read = secretariat.decrypt(Operator(a["env"]).export(tmp_path / "export.bin"), tmp_path / "read")
        assert sorted(references(read)) == sorted(codes)  # all of them, each once
        secretariat.decide(
            read, {codes[0]: ("accepted", "Nous vous contacterons."), codes[2]: ("declined", "")}
        )
        result = Operator(b["env"]).import_(secretariat.reply(read, tmp_path / "return.bin"))
        assert result.returncode == 0, result.stderr

        shows = [
            (
                a,
                codes[0],
                ["<h2>Accepted</h2>", "Nous vous contacterons."],
            ),  # the message, opened by the code
            (b, codes[2], ["<h2>Declined</h2>"]),
            (a, codes[5], ["<h2>Delivered to the secretariat</h2>"]),  # acknowledged, not decided yet
        ]
        for node, code, texts in shows:
            page = Defender(url=node["url"]).look_up("en", code).text
            assert all(text in page for text in texts), texts
        later = Defender(url=b["url"]).submit("en", "feedback")
        read = secretariat.decrypt(Operator(b["env"]).export(tmp_path / "again.bin"), tmp_path / "read-2")
        assert references(read) == [later]  # what was acknowledged through b is gone for a as well


def test_the_global_submission_limit_holds_across_both_nodes(tmp_path, site):
    with nodes(tmp_path, site, INTAKE_SUBMISSIONS_PER_MINUTE="60") as (a, b):
        while True:  # thirty requests inside one ten-second window of the limit, alternately to a and b
            window = int(time.time()) // 10
            while int(time.time()) // 10 == window:  # wait for a fresh window
                time.sleep(0.05)
            window += 1
            statuses = [send(node["url"])[0] for _ in range(15) for node in (a, b)]
            if int(time.time()) // 10 == window:
                break
    assert statuses.count(200) == 10  # a sixth of sixty a minute, for both nodes together
    assert statuses.count(429) == 20 and statuses[:10] == [200] * 10


def test_a_node_killed_under_load_loses_no_request_whose_code_was_shown(tmp_path, site, secretariat):
    from .test_resilience import workers_of

    with nodes(tmp_path, site) as (a, b), haproxy(tmp_path, a["url"], b["url"]) as front:
        received, stop, arrived = [], threading.Event(), threading.Condition()

        def client():
            while not stop.is_set():
                try:
                    status, page = send(front, random.choice(["en", "ar", "ru"]))
                except (OSError, http.client.HTTPException, NotServed):
                    continue  # the connection was cut with the node: no code was shown, the defender retries
                if status == 200:
                    with arrived:
                        received.append(code_of(page))
                        arrived.notify_all()

        def after_more_codes(n):
            with arrived:
                count = len(received)
                assert arrived.wait_for(lambda: len(received) >= count + n, timeout=120), (
                    "no request accepted"
                )

        threads = [threading.Thread(target=client) for _ in range(6)]
        for t in threads:
            t.start()
        try:
            after_more_codes(10)
            time.sleep(random.uniform(0, 0.3))
            for pid in [a["proc"].pid, *workers_of(a["proc"].pid)]:  # a power cut on node a
                os.kill(pid, signal.SIGKILL)
            after_more_codes(20)  # node b carries on alone
        finally:
            stop.set()
            for t in threads:
                t.join()
        read = secretariat.decrypt(Operator(b["env"]).export(tmp_path / "export.bin"), tmp_path / "read")
    exported = references(read)
    assert len(exported) == len(set(exported))  # nothing stored twice
    assert set(received) <= set(exported)  # every code a defender was shown has its request
