"""Where one request's CPU goes, in process: the real app, no server, cProfile's summary.

Usage: .venv/bin/python bench/cpu_profile.py {submission,lookup,idlookup} [--requests N] [--top N]

The app is create_app() on a throwaway data folder (SQLite) and keys; each request goes straight
to its WSGI callable with the body and session cookie a browser without JavaScript sends. It
prints CPU milliseconds per request without the profiler, then the profile's functions by
cumulative time (the profiler itself adds to every Python call: read the shares, not the times).
"""

import argparse
import cProfile
import io
import os
import pstats
import re
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from intake.formats import keyfiles, refcode
from intake.formats.keyring import Generation
from tests.conftest import csrf_token, filled


def app_and_request(path: str, tmp: str):
    """The app, and a function making one request of the path (its answer checked first)."""
    from intake import create_app

    generation = Generation.new()
    keyfiles.write_public_keys(Path(tmp) / "keys", generation.box.public_key, generation.sign.verify_key)
    app = create_app(
        {
            "INTAKE_CONFIG": os.devnull,
            "INTAKE_DATA_DIR": f"{tmp}/data",
            "INTAKE_KEYS_DIR": f"{tmp}/keys",
            "INTAKE_SECRET_KEY": "profile-" + "x" * 40,
            "INTAKE_SUBMISSIONS_PER_MINUTE": "100000",
            "INTAKE_LOOKUPS_PER_MINUTE": "1000000",
            "INTAKE_MIN_FREE_MB": "0",
            "INTAKE_QUOTA_MB": "100000",
        }
    )
    client = app.test_client()
    token = csrf_token(client.get("/en/feedback").text)
    cookie = client.get_cookie("intake").value
    if path == "submission":
        url, fields = "/en/individual", filled("individual", "profile")
    else:
        receipt = client.post(
            "/en/feedback", data={**filled("feedback", "profile"), "csrf_token": token}
        ).text
        code = re.search(r'<bdi dir="ltr">([0-9A-Z-]{23})</bdi>', receipt).group(1)
        lookup_id = refcode.lookup_id(refcode.normalise(code)).hex()
        url, fields = "/en/status", {"reference_code": code} if path == "lookup" else {"lookup_id": lookup_id}
    body = urllib.parse.urlencode({**fields, "csrf_token": token}, doseq=True).encode()
    statuses = []

    def one() -> bytes:
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": url,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8080",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "CONTENT_TYPE": "application/x-www-form-urlencoded",
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_COOKIE": f"intake={cookie}",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": "http",
            "wsgi.version": (1, 0),
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        answer = app.wsgi_app(environ, lambda status, headers, exc_info=None: statuses.append(status))
        try:
            return b"".join(answer)
        finally:
            getattr(answer, "close", lambda: None)()

    for _ in range(50):  # pages rendered once, caches filled: what a worker does for ever after
        one()
    assert statuses[-1].startswith("200"), statuses[-1]
    return one


def main() -> None:
    """Time the path, then profile it and print the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", choices=["submission", "lookup", "idlookup"])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="intake-profile-") as tmp:
        one = app_and_request(args.path, tmp)
        start = time.process_time()
        for _ in range(args.requests):
            one()
        cpu = 1000 * (time.process_time() - start) / args.requests
        profile = cProfile.Profile()
        profile.runcall(lambda: [one() for _ in range(args.requests)])
    print(f"{args.path}: {cpu:.3f} ms CPU per request in process ({args.requests} requests)\n")
    pstats.Stats(profile).strip_dirs().sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
