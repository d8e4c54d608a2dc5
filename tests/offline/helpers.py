"""The people of the desk's tests, each with the real commands: a defender on the real site, the
operator's `intake export` and `intake import`, the secretariat's `intake-offline` and its desk."""

import html
import io
import os
import re
import subprocess
import sys
import urllib.error
import urllib.parse
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from intake.formats.keyring import Keyring, save

from ..conftest import ROOT, browser, csrf_token

BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
AXE = ROOT / ".cache" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
PASSPHRASE = "the desk's long passphrase"


def tool(name: str, *args, env=None, status: int | None = 0) -> subprocess.CompletedProcess:
    """Run `intake` or `intake-offline` as a person would, with no terminal; check its exit status."""
    result = subprocess.run(
        [BIN / name, *map(str, args)], capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL
    )
    if status is not None:
        assert result.returncode == status, result.stderr
    return result


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium, driven by Playwright; the test fails loudly if it is missing."""
    if not os.path.exists(CHROMIUM):
        pytest.fail("Chromium is required: apt-get install chromium (make test does it as root)")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
        )
        yield browser
        browser.close()


class Secretariat:
    """The air-gapped machine: a keyring on disk with its passphrase file, a folder of requests."""

    def __init__(self, base: Path, generation):
        self.base = base
        base.mkdir(parents=True, exist_ok=True)
        self.keyring = base / "secretariat.keyring"
        save(self.keyring, Keyring((generation,)), PASSPHRASE)
        self.passfile = base / "pass.txt"
        self.passfile.write_text(PASSPHRASE, encoding="utf-8")
        self.out = base / "requests"

    def decrypt(self, bundle: Path, *flags) -> subprocess.CompletedProcess:
        """intake-offline decrypt into the folder."""
        return tool(
            "intake-offline",
            "decrypt",
            bundle,
            "--keyring",
            self.keyring,
            "--passphrase-file",
            self.passfile,
            "--out",
            self.out,
            *flags,
        )

    def reply(self, target: Path, *flags) -> subprocess.CompletedProcess:
        """intake-offline reply from the folder."""
        return tool(
            "intake-offline",
            "reply",
            self.out,
            "--keyring",
            self.keyring,
            "--passphrase-file",
            self.passfile,
            "--out",
            target,
            *flags,
        )


class Desk:
    """`intake-offline desk` in a subprocess, as the secretariat starts it; `url` is what it printed."""

    def __init__(self, secretariat: Secretariat, *, passphrase: bool = False, lang: str = "en"):
        args = [
            BIN / "intake-offline",
            "desk",
            secretariat.out,
            "--keyring",
            secretariat.keyring,
            "--lang",
            lang,
        ]
        if passphrase:
            args += ["--passphrase-file", secretariat.passfile]
        self.args = list(map(str, args))

    def __enter__(self) -> "Desk":
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.printed = []
        for line in self.proc.stdout:  # the address comes once the socket listens
            self.printed.append(line)
            if "http://" in line:
                break
        urls = re.findall(r"http://\S+", "".join(self.printed))
        assert len(urls) == 1, (self.printed, self.proc.stderr.read() if self.proc.poll() is not None else "")
        self.url = urls[0]
        parts = urllib.parse.urlsplit(self.url)
        self.port, self.token = parts.port, parts.path.strip("/")
        return self

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.proc.stdout.close()
        self.proc.stderr.close()


class Defender:
    """Someone at risk, on the real site without JavaScript: submits, looks up, answers."""

    def __init__(self, url: str):
        self.url = url

    def _post(self, client, path: str, data: dict) -> tuple[int, str]:
        body = urllib.parse.urlencode(data, doseq=True).encode()
        try:
            with client.open(f"{self.url}{path}", data=body, timeout=60) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def submit(self, lang: str, form: str, answers: dict) -> str:
        """Send a form; return the reference code the receipt shows."""
        client = browser()
        page = client.open(f"{self.url}/{lang}/{form}", timeout=30).read().decode()
        status, page = self._post(client, f"/{lang}/{form}", {**answers, "csrf_token": csrf_token(page)})
        assert status == 200, page[:500]
        return re.search(r'<bdi dir="ltr">([0-9A-Z-]{23})</bdi>', page).group(1)

    def status_page(self, lang: str, code: str) -> tuple[str, object]:
        """The status page for a code, and the client that holds its session."""
        client = browser()
        page = client.open(f"{self.url}/{lang}/status", timeout=30).read().decode()
        status, page = self._post(
            client, f"/{lang}/status", {"reference_code": code, "csrf_token": csrf_token(page)}
        )
        assert status == 200, page[:500]
        return page, client

    def message_shown(self, lang: str, code: str) -> str:
        """The secretariat's message as the status page shows it, as text."""
        page, _ = self.status_page(lang, code)
        found = re.search(r'<p class="message" dir="auto">(.*?)</p>', page, re.S)
        return html.unescape(found.group(1)).strip() if found else ""

    def follow_up(self, lang: str, code: str, message: str) -> None:
        """Answer the secretariat's request for more information, from the status page."""
        page, client = self.status_page(lang, code)
        assert 'data-kind="followup"' in page, "the status page offers no follow-up form"
        data = {
            "csrf_token": csrf_token(page),
            "reference_code": code,
            "message": message,
            "contact_details": "",
        }
        status, page = self._post(client, f"/{lang}/followup", data)
        assert status == 200, page[:500]


class Operator:
    """The server's operator: the real `intake export` and `intake import`."""

    def __init__(self, env: dict, base: Path):
        self.env, self.base, self.count = env, base, 0

    def export(self) -> Path:
        self.count += 1
        bundle = self.base / f"export-{self.count}.bin"
        tool("intake", "export", "--out", bundle, env=self.env)
        return bundle

    def import_(self, bundle: Path) -> subprocess.CompletedProcess:
        return tool("intake", "import", bundle, env=self.env)


def submit_with_client(client, lang: str, form: str, answers: dict, files=()) -> str:
    """Send a form through the real web app (Flask's test client), files as multipart parts, as a
    browser without JavaScript does; return the reference code the receipt shows."""
    from werkzeug.datastructures import FileStorage, MultiDict
    from werkzeug.test import encode_multipart

    page = client.get(f"/{lang}/{form}")
    fields = MultiDict({**answers, "csrf_token": csrf_token(page.text)})
    for key, value in answers.items():
        if isinstance(value, list):
            fields.setlist(key, value)
    for name, content, media_type in files:
        fields.add("attachments", FileStorage(io.BytesIO(content), filename=name, content_type=media_type))
    boundary, body = encode_multipart(fields)
    response = client.post(
        f"/{lang}/{form}", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 200, response.text[:500]
    return re.search(r'<bdi dir="ltr">([0-9A-Z-]{23})</bdi>', response.text).group(1)


def server_env(site: dict) -> dict:
    """The environment the operator's commands run in, for the test site."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}, **site}


def desk_request(desk: Desk, method: str, path: str, form: dict | None = None) -> tuple[int, dict, str]:
    """A request to the desk as its own page makes it (token, host, origin); path after the token."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", desk.port, timeout=60)
    headers = {"Host": f"127.0.0.1:{desk.port}"}
    data = None
    if method == "POST":
        data = urllib.parse.urlencode(form or {}).encode()
        headers |= {
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": f"http://127.0.0.1:{desk.port}",
        }
    connection.request(method, f"/{desk.token}{path}", body=data, headers=headers)
    response = connection.getresponse()
    result = response.status, dict(response.getheaders()), response.read().decode("utf-8", "replace")
    connection.close()
    return result


def decide_in_desk(desk: Desk, item: str, status: str, message: str) -> tuple[int, str]:
    """Open the case as its page shows it, and save a decision with its form."""
    code, _, page = desk_request(desk, "GET", f"/case/{item}")
    assert code == 200, page[:300]
    newest = re.search(r'name="item" value="([0-9a-f]{32})"', page).group(1)
    code, _, page = desk_request(
        desk, "POST", f"/case/{item}/decision", {"item": newest, "status": status, "message": message}
    )
    return code, page
