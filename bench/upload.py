"""A 50 MB upload through gunicorn: throughput and peak worker memory, against a bare handler."""

import http.client
import os
import re
import tempfile
import time
from pathlib import Path

from intake.formats import keyfiles
from intake.formats.keyring import Generation

from .submit import _port, _serve, _session, filled

SIZE = 50_000_000
ROUNDS = 3


def _body(path: Path, boundary: str, fields: dict, upload: Path) -> int:
    """Write a multipart body to disk (the client must not hold 50 MB either); return its size."""
    with open(path, "wb") as out:
        for name, value in fields.items():
            for v in value if isinstance(value, list) else [value]:
                out.write(
                    f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{v}\r\n'.encode()
                )
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="attachments"; filename="evidence.bin"'
            f"\r\nContent-Type: application/octet-stream\r\n\r\n".encode()
        )
        with open(upload, "rb") as source:
            while piece := source.read(2**20):
                out.write(piece)
        out.write(f"\r\n--{boundary}--\r\n".encode())
    return path.stat().st_size


def _workers(master: int) -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and _parent(int(p)) == master]


def _parent(pid: int) -> int:
    try:
        return int(re.search(r"PPid:\s+(\d+)", Path(f"/proc/{pid}/status").read_text()).group(1))
    except OSError:
        return -1


def _kib(pid: int, field: str) -> int:
    return int(re.search(rf"{field}:\s+(\d+)", Path(f"/proc/{pid}/status").read_text()).group(1))


def _post(port: int, body: Path, length: int, boundary: str, cookie: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}", "Content-Length": str(length)}
    if cookie:
        headers["Cookie"] = cookie
    with open(body, "rb") as stream:
        connection.request("POST", "/en/organisation", body=stream, headers=headers)
        response = connection.getresponse()
        response.read()
    connection.close()
    return response.status


def _stored_bytes(env: dict) -> int:
    from intake.server import datafolder, settings

    with datafolder.require(settings.from_environ(env)) as store:
        return store.stored_bytes()


def run(rounds: int = ROUNDS) -> list[tuple[str, str, str]]:
    """Return table rows: MB/s and peak worker growth for the bare handler and for intake."""
    with tempfile.TemporaryDirectory(prefix="intake-bench-") as tmp:
        generation = Generation.new()
        keyfiles.write_public_keys(Path(tmp) / "keys", generation.box.public_key, generation.sign.verify_key)
        upload = Path(tmp) / "evidence.bin"
        with open(upload, "wb") as f:
            for _ in range(SIZE // 2**20):
                f.write(os.urandom(2**20))
            f.write(os.urandom(SIZE % 2**20))
        env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
        env |= {
            "INTAKE_CONFIG": os.devnull,
            "INTAKE_DATA_DIR": f"{tmp}/data",
            "INTAKE_KEYS_DIR": f"{tmp}/keys",
            "INTAKE_WORKERS": "1",
            "TMPDIR": tmp,
        }
        rows = {}
        for name, app in (("bare", "bare"), ("intake", "intake")):
            port = _port()
            proc = _serve(app, env, port)
            try:
                cookie, token = _session(f"http://127.0.0.1:{port}") if name == "intake" else ("", "")
                boundary = "benchboundary7MA4YWxkTrZu0gW"
                body = Path(tmp) / f"{name}.body"
                length = _body(body, boundary, {**filled("organisation", "b"), "csrf_token": token}, upload)
                [worker] = _workers(proc.pid)
                before = _kib(worker, "VmRSS")
                start = time.perf_counter()
                for _ in range(rounds):
                    assert _post(port, body, length, boundary, cookie) == 200
                elapsed = time.perf_counter() - start
                rows[name] = (rounds * SIZE / 1e6 / elapsed, (_kib(worker, "VmHWM") - before) / 1024)
            finally:
                proc.terminate()
                proc.wait()
        stored = _stored_bytes(env)
    (bare_rate, bare_mem), (rate, mem) = rows["bare"], rows["intake"]
    return [
        (
            f"50 MB upload, bare handler reading and discarding it (worker peak +{bare_mem:.1f} MiB)",
            f"{bare_rate:.0f} MB/s",
            "1.00",
        ),
        (
            f"50 MB upload, sealed as it streams, fsynced (worker peak +{mem:.1f} MiB; {stored / 1e6:.0f} MB stored)",
            f"{rate:.0f} MB/s",
            f"{rate / bare_rate:.2f}",
        ),
    ]
