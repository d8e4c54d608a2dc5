"""Tor hands every stream straight to the server: slow streams must not keep a defender waiting."""

import socket
import threading
import time
import urllib.request

from ..actors import Defender

ATTACK_SECONDS = 40


def trickle(url: str, head: bytes, pieces, stop: threading.Event) -> None:
    """Open a connection, send `head`, then one piece every two seconds; reconnect when cut off."""
    host, port = url.removeprefix("http://").split(":")
    while not stop.is_set():
        try:
            with socket.create_connection((host, int(port)), timeout=5) as conn:
                conn.sendall(head)
                for piece in pieces():
                    if stop.wait(2):
                        return
                    conn.sendall(piece)
        except OSError:
            stop.wait(0.2)  # cut off by the server: come straight back, as an attacker would


def header_lines():
    while True:
        yield b"X-Slow: a\r\n"


def body_bytes():
    while True:
        yield b"a"


def test_slow_streams_do_not_keep_a_reader_waiting(server):
    url = server["url"]
    stop = threading.Event()
    slow_head = b"GET /en/ HTTP/1.1\r\nHost: x\r\n"
    slow_body = (
        b"POST /en/feedback HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 100000\r\n\r\n"
    )
    attackers = [
        threading.Thread(target=trickle, args=(url, slow_head, header_lines, stop)) for _ in range(40)
    ]
    attackers += [
        threading.Thread(target=trickle, args=(url, slow_body, body_bytes, stop)) for _ in range(10)
    ]
    for thread in attackers:
        thread.start()
    pages: list[int | None] = []
    try:
        time.sleep(3)  # every slow stream is open before the reader starts
        end = time.monotonic() + ATTACK_SECONDS
        while time.monotonic() < end:
            started = time.monotonic()
            try:
                # A generous deadline: held by slow streams, a page took minutes, not seconds.
                with urllib.request.urlopen(f"{url}/fr/", timeout=15) as response:  # noqa: S310
                    response.read()
                    pages.append(response.status)
            except OSError:
                pages.append(None)
            time.sleep(max(0.0, 0.5 - (time.monotonic() - started)))
    finally:
        stop.set()
        for thread in attackers:
            thread.join()
    assert pages and pages == [200] * len(pages), f"{pages.count(200)} of {len(pages)} pages came"
    # And afterwards the service answers normally: a whole request goes through.
    assert Defender(url=url).submit("en", "feedback", "AFTERSLOW")
