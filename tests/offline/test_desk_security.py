"""The desk answers only its own page: the token, a Host naming 127.0.0.1, nothing else; 403 changes nothing."""

import http.client
import socket
import urllib.parse

import pytest

from intake.formats.keyring import Generation, Keyring

from ..actors import Defender, Operator, Secretariat
from ..conftest import make_site, operator_env, snapshot


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A folder decrypted from requests the real site accepted: one with a file, one in Arabic."""
    from intake import create_app

    base = tmp_path_factory.mktemp("desk-security")
    generation = Generation.new()
    site = make_site(base, generation)
    defender = Defender(create_app(site).test_client())
    files = [("photo.jpg", b"\xff\xd8\xff not really a photo", "image/jpeg")]
    codes = [
        defender.submit("ar", "individual", "SECMARK1", files=files),
        defender.submit("en", "feedback", "SECMARK2"),
    ]
    secretariat = Secretariat(base, Keyring((generation,)))
    out = secretariat.decrypt(Operator(operator_env(site)).export(base / "export.bin"), base / "requests")
    return secretariat, out, codes


def request(desk, method, path, *, host=None, body=None, headers=None):
    """One raw HTTP request to the desk; return (status, headers, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", desk.port, timeout=30)
    connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for name, value in ([("Host", host)] if host is not None else []) + list((headers or {}).items()):
        connection.putheader(name, value)
    data = urllib.parse.urlencode(body or {}).encode()
    if method == "POST":
        connection.putheader("Content-Type", "application/x-www-form-urlencoded")
        connection.putheader("Content-Length", str(len(data)))
    connection.endheaders(data if method == "POST" else None)
    response = connection.getresponse()
    result = response.status, dict(response.getheaders()), response.read()
    connection.close()
    return result


def machine(secretariat, out) -> dict:
    """Every file of the air-gapped machine the desk could change: the keyring's folder, the requests'."""
    return {"keyring": snapshot(secretariat.keyring.parent), "out": snapshot(out)}


def item_of(out) -> str:
    return sorted(request["item"] for request in Secretariat.requests(out))[0]


def test_without_the_token_or_with_another_host_every_request_is_refused_and_changes_nothing(world):
    secretariat, out, _ = world
    with secretariat.desk(out, passphrase=True) as desk:
        item = item_of(out)
        good_host = f"127.0.0.1:{desk.port}"
        wrong = "A" * len(desk.token)
        decision = {"item": item, "status": "accepted", "message": "forged"}
        attempts = []
        for method, path, body in [
            ("GET", "/", None),
            ("GET", f"/{wrong}/", None),
            ("GET", f"/{desk.token[:-1]}/", None),
            ("GET", f"/{wrong}/case/{item}", None),
            ("POST", f"/{wrong}/case/{item}/decision", decision),
            ("POST", f"/case/{item}/decision", decision),
            ("POST", f"/{wrong}/case/{item}/note", {"note": "forged"}),
            ("POST", f"/{wrong}/answer", {"expected": "", "folder": str(out.parent / "forged")}),
        ]:
            attempts.append((method, path, body, good_host))
        for host in [
            None,
            f"localhost:{desk.port}",
            "127.0.0.1",
            "evil.example",
            f"127.0.0.1:{desk.port + 1}",
        ]:
            attempts.append(("GET", f"/{desk.token}/", None, host))
            attempts.append(("POST", f"/{desk.token}/case/{item}/decision", decision, host))
            attempts.append(("POST", f"/{desk.token}/case/{item}/note", {"note": "forged"}, host))
            attempts.append(("POST", f"/{desk.token}/answer", {"folder": str(out.parent / "forged")}, host))
        before = machine(secretariat, out)
        for method, path, body, host in attempts:
            status, headers, page = request(desk, method, path, host=host, body=body)
            assert status == 403, (method, path, host)
            assert page == b"Forbidden\n" and headers["Cache-Control"] == "no-store"
        # A page elsewhere that posts a form says so: refused too, with the right token and host.
        for extra in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
            status, _, _ = request(
                desk,
                "POST",
                f"/{desk.token}/case/{item}/decision",
                host=good_host,
                body=decision,
                headers=extra,
            )
            assert status == 403
        # Two Host headers, and a request-target naming another host.
        status, _, _ = request(
            desk, "GET", f"/{desk.token}/", host=good_host, headers={"Host": "evil.example"}
        )
        assert status == 403
        status, _, _ = request(desk, "GET", f"http://evil.example/{desk.token}/", host=good_host)
        assert status == 403
        assert machine(secretariat, out) == before  # byte for byte, every file
        assert not (out.parent / "forged").exists()

        # The same requests with the token and the host are answered: the refusals were the checks'.
        status, _, page = request(desk, "GET", f"/{desk.token}/", host=good_host)
        assert status == 200 and b"Inbox" in page
        status, headers, _ = request(
            desk, "POST", f"/{desk.token}/case/{item}/note", host=good_host, body={"note": "mine"}
        )
        assert status == 303 and headers["Location"] == f"/{desk.token}/case/{item}?saved=note"
        assert machine(secretariat, out) != before


def test_it_listens_on_127_0_0_1_alone_and_prints_one_address_with_a_fresh_token(world):
    secretariat, out, _ = world
    with secretariat.desk(out) as first, secretariat.desk(out) as second:
        assert len(first.token) >= 43 and first.token != second.token  # 256 random bits each
        assert first.url == f"http://127.0.0.1:{first.port}/{first.token}/"
        # Another loopback address reaches any socket bound to all addresses; not this one.
        with pytest.raises(OSError), socket.create_connection(("127.0.0.2", first.port), timeout=5):
            pass


def test_every_answer_carries_the_strict_headers_and_files_are_downloads(world):
    secretariat, out, _ = world
    with secretariat.desk(out) as desk:
        host = f"127.0.0.1:{desk.port}"
        [folder] = (out / "requests").glob("*/attachment-1.jpg")
        folder = folder.parent
        pages = ["/", "/answer", "/style.css", f"/case/{folder.name}", "/nope"]
        for path in pages:
            status, headers, _ = request(desk, "GET", f"/{desk.token}{path}", host=host)
            assert status in (200, 404), path
            policy = headers["Content-Security-Policy"]
            assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
            assert "script-src" not in policy and "unsafe-inline" not in policy
            assert headers["X-Content-Type-Options"] == "nosniff"
            assert headers["Referrer-Policy"] == "no-referrer" and headers["Cache-Control"] == "no-store"
        status, headers, data = request(
            desk, "GET", f"/{desk.token}/file/{folder.name}/attachment-1.jpg", host=host
        )
        assert status == 200 and data == (folder / "attachment-1.jpg").read_bytes()
        assert headers["Content-Type"] == "application/octet-stream"
        assert headers["Content-Disposition"] == 'attachment; filename="attachment-1.jpg"'
        assert "sandbox" in headers["Content-Security-Policy"]
        # Only the files a request lists, by the names decrypt writes: nothing else of the folder.
        for path in [
            f"/file/{folder.name}/request.json",
            f"/file/{folder.name}/..%2F..%2Fdecisions.csv",
            f"/file/{folder.name}/../../decisions.csv",
            f"/file/{folder.name}/attachment-9.jpg",
            "/file/..%2F..%2F/attachment-1.jpg",
        ]:
            status, _, data = request(desk, "GET", f"/{desk.token}{path}", host=host)
            assert status == 404 and b"reference" not in data, path


def test_other_methods_are_refused_and_a_body_too_large_is_not_read(world):
    secretariat, out, _ = world
    with secretariat.desk(out) as desk:
        host = f"127.0.0.1:{desk.port}"
        before = snapshot(out)
        for method in ("PUT", "DELETE", "PATCH", "OPTIONS"):
            assert request(desk, method, f"/{desk.token}/", host=host)[0] == 405
            assert request(desk, method, "/", host=host)[0] == 403
        item = item_of(out)
        status, _, _ = request(
            desk, "POST", f"/{desk.token}/case/{item}/note", host=host, body={"note": "x" * 300_000}
        )
        assert status == 413
        assert snapshot(out) == before
