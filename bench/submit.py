"""Full no-JavaScript submissions under gunicorn against a bare Flask POST handler, same settings."""

import argparse
import base64
import http.cookiejar
import os
import re
import shutil
import socket
import statistics
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


def _wrk(target: tuple[str, Path], seconds: int) -> dict:
    """One wrk run: requests a second, p50 and p99 latency in ms, requests completed."""
    url, script = target
    out = subprocess.run(
        ["wrk", "-t2", "-c8", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"{non2xx.group(1)} requests failed:\n{out}")
    return {
        "rate": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),
        "p99": _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),
        "count": int(re.search(r"(\d+) requests in", out).group(1)),
    }


def _ms(text: str) -> float:
    """A wrk latency ("850.00us", "4.33ms", "1.02s", "1.50m") in milliseconds."""
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


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


# What each figure measures, as the table names it.
LABELS = {
    "bare": "bare Flask POST handler, same server settings",
    "server": "no-JS submission, sealed in server memory, committed",
    "browser": "browser-sealed submission (envelope checked, committed)",
    "bare lookup": "bare Flask POST handler reading a code",
    "lookup": "status lookup (same work for every code, proof checked)",
    "idlookup": "status lookup from the browser (the lookup id only; same work, proof checked)",
}


def run(seconds: int, rounds: int = 3) -> list[tuple[str, str, str, str]]:
    """Return table rows: the bare handler, then submissions sealed in the server and in the
    browser, and lookups, on SQLite and on PostgreSQL, with CPU time per request.

    Every server runs for the whole benchmark on the same settings (`intake serve`'s gunicorn,
    worker recycling and logging included) and gets the same bytes. In each round every path runs
    right after its baseline (baseline, path, baseline, path...), so that both meet the machine's
    moments alike; every figure is the median of the rounds, and a ratio the median of each path's
    ratio to the baseline run just before it.
    """
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
        ports = {name: _port() for name in ("bare", *engines)}
        url = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        servers: dict[str, subprocess.Popen] = {}
        try:
            servers["bare"] = _serve("bare", env | {"INTAKE_DATA_DIR": f"{tmp}/bare"}, ports["bare"])
            for engine, engine_env in engines.items():
                servers[engine] = _serve("intake", engine_env, ports[engine])
            scripts: dict[str, tuple[str, tuple[str, Path]]] = {}  # name -> (server, (url, wrk script))
            for engine in engines:
                cookie, token = _session(url[engine])
                code = _code(url[engine])
                lookup_id = refcode.lookup_id(refcode.normalise(code)).hex()
                posts = {
                    f"server {engine}": ("individual", answers),
                    f"browser {engine}": ("individual", sealed),
                    f"lookup {engine}": ("status", {"reference_code": code}),
                    f"idlookup {engine}": ("status", {"lookup_id": lookup_id}),
                }
                for name, (path, fields) in posts.items():
                    scripts[name] = (engine, _script(tmp, name, url[engine], path, fields, token, cookie))
                if engine == "SQLite":
                    # The baseline gets the very bytes the service gets: the same body and cookie.
                    for name, twin in (("bare", "server SQLite"), ("bare lookup", "lookup SQLite")):
                        path, fields = posts[twin]
                        scripts[name] = ("bare", _script(tmp, name, url["bare"], path, fields, token, cookie))
            groups = [
                ["bare", *(f"{kind} {engine}" for engine in engines for kind in ("server", "browser"))],
                [
                    "bare lookup",
                    *(f"{kind} {engine}" for engine in engines for kind in ("lookup", "idlookup")),
                ],
            ]
            for _server, script in scripts.values():  # every worker warmed up, unmeasured
                _wrk(script, min(2, seconds))
            measured: dict[str, list[dict]] = {name: [] for name in scripts}
            for bare, *paths in groups:
                for _ in range(rounds):
                    for name in paths:  # the baseline right before each path: the same moment
                        baseline = _measure(scripts[bare], servers, cluster, seconds)
                        figures = _measure(scripts[name], servers, cluster, seconds)
                        figures["ratio"] = figures["rate"] / baseline["rate"]
                        measured[bare].append(baseline | {"ratio": 1.0})
                        measured[name].append(figures)
        finally:
            for proc in servers.values():
                proc.terminate()
                proc.wait()
        stored = {engine: _stored(engine_env) for engine, engine_env in engines.items()}
    rows = []
    for name in (name for group in groups for name in group):
        figures = measured[name]
        kind, _, engine = name.partition(" ") if not name.startswith("bare") else (name, "", "")
        where = f", {engine}" if engine else ""
        med = {key: statistics.median(f[key] for f in figures) for key in figures[0]}
        cpu_text = f"{med['cpu']:.2f}" + (f" + {med['db']:.2f} PostgreSQL" if engine == "PostgreSQL" else "")
        rows.append(
            (
                f"{LABELS[kind]}{where} (p50 {med['p50']:.1f} ms, p99 {med['p99']:.1f} ms)",
                f"{med['rate']:,.0f} req/s",
                f"{med['ratio']:.2f}",
                cpu_text,
            )
        )
    stored_text = ", ".join(f"{n:,} ({e})" for e, n in stored.items())
    rows.append(
        (
            f"requests stored during the runs: {stored_text}; every figure the median of {rounds} rounds "
            f"of {seconds} s, each path right after the baseline",
            "",
            "",
            "",
        )
    )
    return rows


def _measure(target: tuple[str, tuple[str, Path]], servers: dict, cluster, seconds: int) -> dict:
    """One wrk run against one server, with the CPU its processes (and PostgreSQL's) spent on it."""
    server, script = target
    pid, on_postgres = servers[server].pid, server == "PostgreSQL"
    before = cpu_seconds(pid), cpu_seconds(cluster.pid()) if on_postgres else 0.0
    figures = _wrk(script, seconds)
    figures["cpu"] = 1000 * (cpu_seconds(pid) - before[0]) / figures["count"]
    db = (cpu_seconds(cluster.pid()) - before[1]) if on_postgres else 0.0
    return figures | {"db": 1000 * db / figures["count"]}


def _script(tmp: str, name: str, url: str, path: str, fields: dict, token: str, cookie: str) -> tuple:
    """A wrk script posting these fields (and the form token) with the session cookie."""
    body_file = Path(tmp) / f"{name}.body"
    body_file.write_text(urllib.parse.urlencode({**fields, "csrf_token": token}, doseq=True))
    script = Path(tmp) / f"{name}.lua"
    script.write_text(LUA.format(body=body_file, cookie=cookie))
    return (f"{url}/en/{path}", script)


def _stored(env: dict) -> int:
    """How many requests the drop box holds (the benchmark's submissions, really committed)."""
    from intake.server import datafolder, settings

    with datafolder.require(settings.from_environ(env)) as store:
        return store.waiting()[0]


def main() -> None:
    """The web benchmark alone, as one table: python -m bench.submit [--seconds N] [--rounds N]."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--seconds", type=int, default=10, help="each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    args = parser.parse_args()
    print("| measure | result | ratio to baseline | CPU ms per request |\n|---|---|---|---|")
    for row in run(args.seconds, args.rounds):
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
