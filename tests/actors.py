"""The people the tests act as, in the style of flaskr's AuthActions: a defender, a secretariat and
an operator, each doing what they do with the real pages and the real commands."""

import contextlib
import csv
import html
import http.client
import io
import json
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from intake.formats.keyring import QUICK, Keyring, save

from .conftest import browser, csrf_token, filled

BIN = Path(sys.executable).parent
RECEIPT_CODE = re.compile(r'<p class="code"><bdi dir="ltr">([0-9A-Z-]{23})</bdi>')


def code_of(page: str) -> str:
    """The reference code a receipt shows."""
    match = RECEIPT_CODE.search(page)
    assert match, f"no reference code on the page: {page[:300]}"
    return match.group(1)


@dataclass
class Answer:
    """What came back over HTTP, with the names Flask's test responses use."""

    status_code: int
    data: bytes
    headers: dict = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The page as text."""
        return self.data.decode("utf-8")


def multipart(answers: dict, files=(), token: str | None = None) -> tuple[str, bytes]:
    """A multipart body as a browser builds it, encoded in memory (Werkzeug's test client would
    spool a large body to a temporary file it never closes). Files are (name, bytes[, type])."""
    fields = MultiDict({k: v for k, v in answers.items() if not isinstance(v, list)})
    for key, value in answers.items():
        if isinstance(value, list):
            fields.setlist(key, value)
    if token is not None:
        fields["csrf_token"] = token
    for name, content, *media_type in files:
        stored = FileStorage(io.BytesIO(content), filename=name, content_type=(media_type or [None])[0])
        fields.add("attachments", stored)
    boundary, body = encode_multipart(fields)
    return f"multipart/form-data; boundary={boundary}", body


class NotServed(Exception):
    """The form's page did not come (the site is offline, or a machine behind it went down)."""


class Defender:
    """A defender's browser without JavaScript: Flask's test client (`client`), or HTTP to a real
    `intake serve` (`url`). It keeps its cookies, as a browser does."""

    def __init__(self, client=None, url: str | None = None):
        assert (client is None) != (url is None)
        self.client, self.url = client, url
        self.opener = browser() if url else None

    def get(self, path: str):
        """Fetch a page."""
        if self.client is not None:
            return self.client.get(path)
        return self._http(path)

    def post(self, path: str, body, content_type: str):
        """Send a body."""
        if self.client is not None:
            return self.client.post(path, data=body, content_type=content_type)
        return self._http(path, body, content_type)

    def _http(self, path: str, body: bytes | None = None, content_type: str | None = None) -> Answer:
        request = urllib.request.Request(self.url + path, data=body)  # noqa: S310 (our own http URL)
        if content_type:
            request.add_header("Content-Type", content_type)
        try:
            with self.opener.open(request, timeout=60) as response:
                return Answer(response.status, response.read(), dict(response.headers))
        except urllib.error.HTTPError as e:
            return Answer(e.code, e.read(), dict(e.headers))

    def token(self, lang: str, form: str) -> str:
        """The form's token, from its page (a follow-up is sent from the status page)."""
        page = self.get(f"/{lang}/{form if form != 'followup' else 'status'}")
        if page.status_code != 200:
            raise NotServed(page.status_code)
        return csrf_token(page.text)

    def send(self, lang: str, form: str, answers: dict, files=None):
        """Open the form and send the answers: urlencoded, or multipart as soon as `files` is given."""
        token = self.token(lang, form)
        if files is None:
            body = urllib.parse.urlencode({**answers, "csrf_token": token}, doseq=True).encode()
            return self.post(f"/{lang}/{form}", body, "application/x-www-form-urlencoded")
        content_type, body = multipart(answers, files, token)
        return self.post(f"/{lang}/{form}", body, content_type)

    def submit(self, lang: str, form: str, marker: str = "m", files=None, **changes) -> str:
        """Send valid answers; return the reference code the receipt shows."""
        response = self.send(lang, form, {**filled(form, marker), **changes}, files)
        assert response.status_code == 200, response.text[:500]
        return code_of(response.text)

    def look_up(self, lang: str, code: str):
        """Ask the status page about a reference code."""
        return self.send(lang, "status", {"reference_code": code})

    def message(self, lang: str, code: str) -> str:
        """The secretariat's message as the status page shows it, as text ("" when there is none)."""
        page = self.look_up(lang, code)
        assert page.status_code == 200, page.text[:500]
        found = re.search(r'<p class="message" dir="auto">(.*?)</p>', page.text, re.S)
        return html.unescape(found.group(1)).strip() if found else ""

    def follow_up(self, lang: str, code: str, message: str) -> None:
        """Answer the secretariat's request for more information with the form the status page offers."""
        page = self.look_up(lang, code).text
        assert 'data-kind="followup"' in page, "the status page offers no follow-up form"
        answers = {"csrf_token": csrf_token(page), "reference_code": code, "message": message}
        body = urllib.parse.urlencode(answers | {"contact_details": ""}).encode()
        response = self.post(f"/{lang}/followup", body, "application/x-www-form-urlencoded")
        assert response.status_code == 200, response.text[:500]


def run(command: str, *args, env=None, **kwargs) -> subprocess.CompletedProcess:
    """Run `intake` or `intake-offline` as typed in a shell with no terminal attached."""
    return subprocess.run(
        [BIN / command, *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        **kwargs,
    )


class Operator:
    """The operator's commands on the server, with the service's settings in `env`."""

    def __init__(self, env: dict):
        self.env = env

    def run(self, *args) -> subprocess.CompletedProcess:
        """Run `intake` with these arguments."""
        return run("intake", *args, env=self.env)

    def export(self, target: Path) -> Path:
        """Export the drop box into `target`."""
        result = self.run("export", "--out", target)
        assert result.returncode == 0, result.stderr
        return target

    def import_(self, bundle: Path) -> subprocess.CompletedProcess:
        """Import a return bundle; the caller checks the outcome."""
        return self.run("import", bundle)


class Secretariat:
    """The air-gapped side: a keyring on disk under a passphrase, and the real `intake-offline`."""

    PASSPHRASE = "the secretariat's passphrase"

    def __init__(self, base: Path, keyring: Keyring):
        self.keyring = base / "air-gap" / "secretariat.keyring"
        self.keyring.parent.mkdir(parents=True, exist_ok=True)
        save(self.keyring, keyring, self.PASSPHRASE, cost=QUICK)
        self.passfile = self.keyring.parent / "pass.txt"
        self.passfile.write_text(self.PASSPHRASE)

    @classmethod
    def existing(cls, keyring: Path, passfile: Path) -> "Secretariat":
        """A secretariat whose keyring `intake-offline keygen` already made."""
        secretariat = cls.__new__(cls)
        secretariat.keyring, secretariat.passfile = keyring, passfile
        return secretariat

    def run(self, *args) -> subprocess.CompletedProcess:
        """Run `intake-offline` with the keyring and passphrase file."""
        return run("intake-offline", *args, "--keyring", self.keyring, "--passphrase-file", self.passfile)

    def decrypt(self, bundle: Path, out: Path, *more) -> Path:
        """Decrypt a bundle into `out`; every item must open."""
        result = self.run("decrypt", bundle, "--out", out, *more)
        assert result.returncode == 0, result.stderr
        return out

    @staticmethod
    def requests(out: Path) -> list[dict]:
        """The requests decrypted into `out`, as a program reads them: every line of every run's file,
        run by run (docs/formats.md, section 10f)."""
        found = []
        for path in sorted(Path(out).glob("requests/run-*.jsonl"), key=lambda p: int(p.stem[len("run-") :])):
            found += [json.loads(line) for line in path.read_bytes().splitlines()]
        return found

    @staticmethod
    def page_of(out: Path, item: str) -> tuple[Path, str]:
        """The static page that shows a request, reached as a reader does, by the index's link to it;
        and the part of it that shows the request's case."""
        index = (Path(out) / "index.html").read_text(encoding="utf-8")
        found = re.search(rf'href="(requests/run-[0-9]+-page-[0-9]+\.html)#item-{item}"', index)
        assert found, f"index.html links no page for {item}"
        page = (Path(out) / found.group(1)).read_text(encoding="utf-8")
        assert '<article class="request' in page and f'id="item-{item}"' in page
        start = page.rindex('<section class="case"', 0, page.index(f'id="item-{item}"'))
        end = page.find('<section class="case"', start + 1)
        return Path(out) / found.group(1), page[start : end if end > 0 else None]

    @contextlib.contextmanager
    def desk(self, out: Path, *, passphrase: bool = False, lang: str = "en") -> Iterator["Desk"]:
        """`intake-offline desk` on `out`, started as the secretariat starts it (with the passphrase
        file, or without: then the answer page asks for the passphrase); stopped afterwards."""
        args = ["desk", out, "--keyring", self.keyring, "--lang", lang]
        args += ["--passphrase-file", self.passfile] if passphrase else []
        proc = subprocess.Popen(
            [BIN / "intake-offline", *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            printed = []
            for line in proc.stdout:  # the address comes once the socket listens
                printed.append(line)
                if "http://" in line:
                    break
            urls = re.findall(r"http://\S+", "".join(printed))
            assert len(urls) == 1, (printed, proc.stderr.read() if proc.poll() is not None else "")
            yield Desk(urls[0])
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            proc.stdout.close()
            proc.stderr.close()

    def backup(self, out: Path, target: Path, *more) -> subprocess.CompletedProcess:
        """`intake-offline backup` of the keyring and `out` into `target`; the caller checks the outcome."""
        return run("intake-offline", "backup", out, "--keyring", self.keyring, "--out", target, *more)

    def decide(self, out: Path, choices: dict) -> None:
        """Fill in decisions.csv as in a spreadsheet: reference -> (status, message)."""
        path = out / "decisions.csv"
        with open(path, encoding="utf-8-sig", newline="") as f:
            rows = list(csv.DictReader(f))
        for row in rows:
            if row["reference"] in choices:
                row["status"], row["message"] = choices[row["reference"]]
        with open(path, "w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)

    def reply(self, out: Path, target: Path, *more) -> Path:
        """Write the signed return bundle for what was decided in `out`."""
        result = self.run("reply", out, "--out", target, *more)
        assert result.returncode == 0, result.stderr
        return target


class Desk:
    """A running desk: the one address it printed, and requests made as its own pages make them."""

    def __init__(self, url: str):
        self.url = url
        parts = urllib.parse.urlsplit(url)
        self.port, self.token = parts.port, parts.path.strip("/")

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, dict, str]:
        """GET or POST `path` (after the token) with the desk's own host and origin."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Host": f"127.0.0.1:{self.port}"}
        data = None
        if method == "POST":
            data = urllib.parse.urlencode(form or {}).encode()
            headers |= {
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": f"http://127.0.0.1:{self.port}",
            }
        connection.request(method, f"/{self.token}{path}", body=data, headers=headers)
        response = connection.getresponse()
        result = response.status, dict(response.getheaders()), response.read().decode("utf-8", "replace")
        connection.close()
        return result
