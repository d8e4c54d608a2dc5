"""Full no-JavaScript submissions under gunicorn against a bare Flask POST handler, same settings."""

import base64
import http.cookiejar
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from intake.formats import envelope, item, keyfiles, refcode
from intake.formats.keyring import Generation

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.conftest import csrf_token, filled, postgres_cluster  # noqa: E402 (the tests' answers, parser, cluster)

BIN = Path(sys.executable).parent
LOOKUP_ID: dict = {}  # a run's marker: post the code's lookup id, as lookup.js does
LUA = """wrk.method = "POST"
wrk.body = io.open("{body}"):read("*a")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Cookie"] = "{cookie}"
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(app: str, env: dict, port: int) -> subprocess.Popen:
    env = {
        **env,
        "INTAKE_BIND": f"127.0.0.1:{port}",
        "INTAKE_ACCESS_LOG": os.environ.get("BENCH_ACCESS_LOG", os.devnull),
    }
    # Both on the same server settings: `intake serve`, or its gunicorn serving the bare app.
    command = (
        [BIN / "intake", "serve"] if app == "intake" else [sys.executable, ROOT / "bench" / "serve_bare.py"]
    )
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{app} did not start")


def _code(url: str) -> str:
    """Submit one request as a browser would, for a reference code to look up."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{url}/en/feedback").read().decode()
    token = csrf_token(page)
    body = urllib.parse.urlencode({**filled("feedback", "bench"), "csrf_token": token}).encode()
    receipt = opener.open(f"{url}/en/feedback", data=body).read().decode()
    return re.search(r'<bdi dir="ltr">([0-9A-Z-]{23})</bdi>', receipt).group(1)


def _wrk(url: str, script: Path, seconds: int) -> tuple[float, str, str, int]:
    out = subprocess.run(
        ["wrk", "-t2", "-c8", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)
    count = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"{non2xx.group(1)} requests failed:\n{out}")
    return rate, p50, p99, count


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and its children: those it has reaped, and those still running
    (gunicorn's workers, PostgreSQL's backends)."""
    ticks = os.sysconf("SC_CLK_TCK")

    def fields(p: int) -> list[int]:
        try:
            stat = Path(f"/proc/{p}/stat").read_text()
        except OSError:
            return [0, 0, 0, 0]
        return [int(v) for v in stat.rsplit(")", 1)[1].split()[11:15]]  # utime stime cutime cstime

    total = sum(fields(pid))
    for child in os.listdir("/proc"):
        if child.isdigit() and f"PPid:\t{pid}\n" in _status(int(child)):
            total += sum(fields(int(child))[:2])
    return total / ticks


def _status(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return ""


def _session(url: str) -> tuple[str, str]:
    """A session cookie and its form token, as a browser gets them."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{url}/en/individual").read().decode()
    token = csrf_token(page)
    return "; ".join(f"{c.name}={c.value}" for c in jar), token


def run(seconds: int) -> list[tuple[str, str, str, str]]:
    """Return table rows: the bare handler, then submissions sealed in the server and in the
    browser, and lookups, on SQLite and on PostgreSQL, with CPU time per request."""
    if not shutil.which("wrk"):
        raise SystemExit("bench needs wrk: apt-get install wrk")
    with tempfile.TemporaryDirectory(prefix="intake-bench-") as tmp, postgres_cluster() as cluster:
        generation = Generation.new()
        keyfiles.write_public_keys(Path(tmp) / "keys", generation.box.public_key, generation.sign.verify_key)
        env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
        env |= {
            "INTAKE_CONFIG": os.devnull,
            "INTAKE_KEYS_DIR": f"{tmp}/keys",
            "INTAKE_SECRET_KEY": "bench-" + "x" * 40,
            # Throughput, not flood control, is measured here.
            "INTAKE_SUBMISSIONS_PER_MINUTE": "100000",
            "INTAKE_LOOKUPS_PER_MINUTE": "1000000",
            "INTAKE_MIN_FREE_MB": "0",
            "INTAKE_QUOTA_MB": "100000",
        }
        cluster.sql("CREATE DATABASE bench")
        engines = {
            "SQLite": env | {"INTAKE_DATA_DIR": f"{tmp}/sqlite"},
            "PostgreSQL": env | {"INTAKE_DATA_DIR": f"{tmp}/pg", "INTAKE_DATABASE_URL": cluster.url("bench")},
        }
        answers = filled("individual", "bench")
        # What seal.js posts: the token and the envelope (base64url), nothing else.
        body = item.seal_body(
            {"form": "individual", "lang": "en", "fields": answers},
            generation.box.public_key,
            envelope.ORIGIN_BROWSER,
        )
        sealed = {"envelope": base64.urlsafe_b64encode(body).decode().rstrip("=")}
        runs = [("bare", "bare", env | {"INTAKE_DATA_DIR": f"{tmp}/bare"}, answers, "individual")]
        for engine, engine_env in engines.items():
            runs += [(f"server {engine}", "intake", engine_env, answers, "individual"),
                     (f"browser {engine}", "intake", engine_env, sealed, "individual")]  # fmt: skip
        runs.append(
            (
                "bare lookup",
                "bare",
                env | {"INTAKE_DATA_DIR": f"{tmp}/bare"},
                {"reference_code": "X" * 23},
                "status",
            )
        )
        for engine, engine_env in engines.items():
            runs += [(f"lookup {engine}", "intake", engine_env, None, "status"),
                     (f"idlookup {engine}", "intake", engine_env, LOOKUP_ID, "status")]  # fmt: skip
        results = {}
        for name, app, run_env, fields, path in runs:
            port = _port()
            proc = _serve(app, run_env, port)
            try:
                url = f"http://127.0.0.1:{port}"
                cookie, token = _session(url) if not name.startswith("bare") else ("", "")
                if fields is None:
                    fields = {"reference_code": _code(url)}
                elif fields is LOOKUP_ID:  # what lookup.js posts: the lookup id alone
                    fields = {"lookup_id": refcode.lookup_id(refcode.normalise(_code(url))).hex()}
                body_file = Path(tmp) / f"{name}.body"
                body_file.write_text(urllib.parse.urlencode({**fields, "csrf_token": token}, doseq=True))
                script = Path(tmp) / f"{name}.lua"
                script.write_text(LUA.format(body=body_file, cookie=cookie))
                on_postgres = "PostgreSQL" in name
                before = cpu_seconds(proc.pid), cpu_seconds(cluster.pid()) if on_postgres else 0.0
                rate, p50, p99, count = _wrk(f"{url}/en/{path}", script, seconds)
                used = (
                    cpu_seconds(proc.pid) - before[0],
                    (cpu_seconds(cluster.pid()) - before[1]) if on_postgres else 0.0,
                )
                results[name] = (rate, p50, p99, 1000 * used[0] / count, 1000 * used[1] / count)
            finally:
                proc.terminate()
                proc.wait()
        stored = {engine: _stored(engine_env) for engine, engine_env in engines.items()}
    labels = {
        "bare": "bare Flask POST handler, same server settings",
        "server": "no-JS submission, sealed in server memory, committed",
        "browser": "browser-sealed submission (envelope checked, committed)",
        "bare lookup": "bare Flask POST handler reading a code",
        "lookup": "status lookup (same work for every code, proof checked)",
        "idlookup": "status lookup from the browser (the lookup id only; same work, proof checked)",
    }
    rows = []
    for name, (rate, p50, p99, cpu, db_cpu) in results.items():
        kind, _, engine = name.partition(" ") if not name.startswith("bare") else (name, "", "")
        bare = results["bare lookup" if "lookup" in name else "bare"][0]
        where = f", {engine}" if engine else ""
        cpu_text = f"{cpu:.2f}" + (f" + {db_cpu:.2f} PostgreSQL" if db_cpu else "")
        rows.append(
            (
                f"{labels[kind]}{where} (p50 {p50}, p99 {p99})",
                f"{rate:,.0f} req/s",
                f"{rate / bare:.2f}",
                cpu_text,
            )
        )
    rows.append(
        (
            "requests stored during the runs: " + ", ".join(f"{n:,} ({e})" for e, n in stored.items()),
            "",
            "",
            "",
        )
    )
    return rows


def _stored(env: dict) -> int:
    """How many requests the drop box holds (the benchmark's submissions, really committed)."""
    from intake.server import datafolder, settings

    with datafolder.require(settings.from_environ(env)) as store:
        return store.waiting()[0]
