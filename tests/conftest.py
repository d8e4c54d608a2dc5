"""Fixtures shared by every test: keys, payloads, items and bundles built with the real code."""

import contextlib
import http.cookiejar
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from intake.formats import export_bundle, item, refcode
from intake.formats.keyring import Generation, Keyring

ROOT = Path(__file__).resolve().parent.parent
# The tests bring their own settings: never the machine's /etc/intake/intake.env.
os.environ["INTAKE_CONFIG"] = os.devnull

# Text a defender might type, one per language: Arabic, Cyrillic, accented Latin, emoji.
SAMPLES = {
    "en": "Threatened after the trial; please help with relocation 🙏",
    "es": "Amenazada después del juicio; la policía vigila mi casa. ¿Pueden ayudar? ñ á é",
    "fr": "Menacé après le procès ; la police surveille ma maison. Déjà « trois » fois.",
    "ar": "تلقيت تهديدات بعد المحاكمة، والشرطة تراقب منزلي. أرجو المساعدة ٣ مرات",
    "ru": "Угрозы после суда; полиция следит за моим домом. Прошу помощи — срочно.",
}


def payload(lang="en", text=None, form="individual", urgency="normal", **extra):
    """A body payload as the web forms build it."""
    fields = {"name": f"marker-{secrets.token_hex(6)}", "country": "Atlantis", "urgency": urgency}
    fields["threat"] = SAMPLES[lang] if text is None else text
    fields.update(extra)
    return {"form": form, "lang": lang, "fields": fields}


@pytest.fixture
def generation():
    """One generation of secretariat keys."""
    return Generation.new()


@pytest.fixture
def keyring(generation):
    """A keyring holding that generation."""
    return Keyring((generation,))


def make_item(body, generation, *, reference=None, day="2026-11-21", origin="server"):
    """Seal a payload and its Record as the server does; return (reference, item bytes)."""
    reference = reference or refcode.make()
    pub = generation.box.public_key
    body_env = item.seal_body(body, pub, {"server": 1, "browser": 2}[origin])
    record = item.Record(reference, day, body["form"], origin)
    return reference, item.seal_item(body_env, record, pub)


def write_bundle(path, datas):
    """Write item bytes into an export bundle with fresh random ids; return the ids."""
    ids = [os.urandom(16) for _ in datas]
    with open(path, "wb") as f:
        export_bundle.write(f, ((export_bundle.TYPE_ITEM, i, d) for i, d in zip(ids, datas, strict=True)))
    return ids


def tree(path):
    """Every file and folder below `path`, for 'nothing escaped' checks."""
    return sorted(str(p.relative_to(path)) for p in Path(path).rglob("*"))


LANGS = ("en", "es", "fr", "ar", "ru")


ENGINES = ("sqlite", "postgresql")
# The storage, crash, limit and import tests run on both engines: mark them (or their module)
# with `both_engines`; every other test runs on SQLite, the default.
both_engines = pytest.mark.both_engines


def pytest_generate_tests(metafunc):
    """Run the tests marked `both_engines` once per engine."""
    if "engine" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_engines"):
        metafunc.parametrize("engine", ENGINES, indirect=True)


@pytest.fixture
def engine(request):
    """The database engine this test runs on: SQLite unless the test is marked `both_engines`."""
    return getattr(request, "param", "sqlite")


@pytest.fixture
def database_url(request, engine):
    """INTAKE_DATABASE_URL for this test: none for SQLite, a fresh database of the session's
    PostgreSQL cluster otherwise (dropped afterwards)."""
    if engine == "sqlite":
        yield None
        return
    cluster = request.getfixturevalue("postgres")
    name = "t_" + secrets.token_hex(6)
    cluster.sql(f"CREATE DATABASE {name}")
    yield cluster.url(name)
    cluster.sql(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture
def site(tmp_path, generation, database_url):
    """A data folder and a keys folder holding this generation's public keys (and the database,
    when the test runs on PostgreSQL)."""
    return make_site(tmp_path, generation, database_url)


def make_site(base: Path, generation, database_url: str | None = None) -> dict:
    """The settings of a test site in `base` (the `site` fixture's, for fixtures of a wider scope)."""
    from intake.formats import keyfiles

    keys = base / "keys"
    keyfiles.write_public_keys(keys, generation.box.public_key, generation.sign.verify_key)
    found = {
        "INTAKE_DATA_DIR": str(base / "data"),
        "INTAKE_KEYS_DIR": str(keys),
        "INTAKE_SECRET_KEY": "test-" + "x" * 40,
        # Tests submit far faster than people do; the flood tests set their own limits.
        "INTAKE_SUBMISSIONS_PER_MINUTE": "100000",
        "INTAKE_LOOKUPS_PER_MINUTE": "100000",
        "INTAKE_MIN_FREE_MB": "0",
    }
    if database_url:
        found["INTAKE_DATABASE_URL"] = database_url
    return found


class Cluster:
    """A throwaway PostgreSQL cluster: Debian's binaries, a temporary folder, a unix socket only."""

    def __init__(self, base: Path, user: str, pg_ctl):
        self.base, self.user, self.pg_ctl = base, user, pg_ctl

    def start(self) -> None:
        """Start the cluster (again), waiting until it accepts connections."""
        options = f"-k {self.base} -c listen_addresses= -c max_connections=300"
        self.pg_ctl("-l", self.base / "log", "-o", options, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop it, as an operator's restart or an outage would: connections are cut."""
        self.pg_ctl("-m", mode, "-w", "stop")

    def pid(self) -> int:
        """The postmaster's process id (its backends are its children)."""
        return int((self.base / "cluster" / "postmaster.pid").read_text().split()[0])

    def url(self, database: str) -> str:
        """The URL of one of its databases, as INTAKE_DATABASE_URL takes it."""
        return f"postgresql://{self.user}@/{database}?host={self.base}"

    def sql(self, statement: str) -> None:
        """Run one statement outside a transaction (CREATE/DROP DATABASE)."""
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(statement)


@contextlib.contextmanager
def postgres_cluster():
    """A PostgreSQL cluster started by initdb and pg_ctl from Debian's `postgresql` package, as an
    unprivileged account (`postgres` when run as root), in a temporary folder; removed afterwards."""
    import glob
    import pwd

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if not found:
        raise ClusterError("PostgreSQL is required: apt-get install postgresql (make test does it as root)")
    bindir = Path(found[-1]).parent
    base = Path(tempfile.mkdtemp(prefix="intake-pg-", dir="/tmp"))
    as_account: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        account = pwd.getpwnam("postgres")  # made by Debian's package
        os.chown(base, account.pw_uid, account.pw_gid)
        as_account = ["runuser", "-u", "postgres", "--"]
    data = base / "cluster"
    user = "intake"

    def pg(*args):
        result = subprocess.run([*as_account, *map(str, args)], capture_output=True, text=True)
        if result.returncode != 0:
            log = (base / "log").read_text() if (base / "log").exists() else ""
            raise ClusterError(f"{args[0]} failed: {result.stderr.strip()} {log[-2000:]}")

    try:
        pg(bindir / "initdb", "-D", data, "-U", user, "-A", "trust", "-E", "UTF8", "--no-locale")
        cluster = Cluster(base, user, lambda *args: pg(bindir / "pg_ctl", "-D", data, *args))
        cluster.start()
        try:
            yield cluster
        finally:
            if (data / "postmaster.pid").exists():  # a test may have stopped it
                cluster.stop("immediate")
    finally:
        shutil.rmtree(base, ignore_errors=True)


class ClusterError(Exception):
    """The PostgreSQL cluster could not be made or started."""


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL cluster for the session; the test fails loudly if it cannot start."""
    try:
        with postgres_cluster() as cluster:
            yield cluster
    except ClusterError as e:
        pytest.fail(str(e))


@pytest.fixture
def app(site):
    """The web app on the test site's folders."""
    from intake import create_app

    return create_app(site)


@pytest.fixture
def client(app):
    """A test client: a browser without JavaScript."""
    return app.test_client()


@pytest.fixture
def defender(client):
    """A defender without JavaScript, on the test site (tests/actors.py)."""
    from .actors import Defender

    return Defender(client)


@pytest.fixture
def operator(site):
    """The operator's `intake` commands, with the test site's settings."""
    from .actors import Operator

    return Operator(operator_env(site))


def operator_env(site: dict) -> dict:
    """The environment of the operator's commands: the test site's settings, no settings file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    return env | {"INTAKE_CONFIG": os.devnull} | site


@pytest.fixture
def secretariat(tmp_path, keyring):
    """The air-gapped side: the keyring on disk and the real intake-offline."""
    from .actors import Secretariat

    return Secretariat(tmp_path, keyring)


def csrf_token(html: str) -> str:
    """The CSRF token of the first form in a page."""
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


MARKERS: set[str] = set()  # every distinctive marker typed into a form during the session


def filled(form: str, marker: str) -> dict:
    """Valid answers for a form, every free-text answer carrying `marker`."""
    if len(marker) >= 5:
        MARKERS.add(marker)
    common = {
        "urgency": "critical",
        "on_behalf": "yes",
        "sender_relation": f"colleague {marker}",
        "country": "UA",
        "risk_description": f"{SAMPLES['ar']} {marker}",
        "measures": ["legal_aid", "other"],
        "measures_other": f"{SAMPLES['ru']} {marker}",
        "measures_details": f"details {marker}",
        "amount_eur": "٣٠٠٠",
        "applied_elsewhere": "no",
        "contact_method": "email",
        "contact_details": f"{marker}@example.org",
        "contact_safety": f"never call {marker}",
        "contact_language": "ar",
        "confidentiality": "keep_confidential",
    }
    if form == "individual":
        return common | {
            "defender_aware": "yes",
            "defender_name": f"{SAMPLES['es']} {marker}",
            "current_country": "DE",
            "hr_work": f"{SAMPLES['fr']} {marker}",
            "family_at_risk": "yes",
            "family_details": f"two children {marker}",
            "other_open_request": "no",
        }
    if form == "organisation":
        return common | {
            "org_name": f"Org {marker}",
            "org_type": "ngo",
            "org_work": f"work {marker}",
            "members_at_risk": "12",
        }
    return {
        "kind": "complaint",
        "message": f"{SAMPLES['en']} {marker}",
        "contact_details": "",
        "contact_language": "fr",
        "reference_code": "",
    }


GUNICORN = Path(sys.executable).parent / "gunicorn"
INTAKE = Path(sys.executable).parent / "intake"


def browser():
    """A cookie-keeping HTTP client without JavaScript."""
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def served_env(site: dict) -> dict:
    """The environment `intake serve` gets: the test site's settings and no settings file. Its
    workers share a secret made in the data folder; machines sharing PostgreSQL need it set."""
    made = {"INTAKE_SECRET_KEY"} if "INTAKE_DATABASE_URL" not in site else set()
    return operator_env({k: v for k, v in site.items() if k not in made})


@contextlib.contextmanager
def service(base: Path, site: dict, **settings):
    """`intake serve` as the operator runs it, its logs and temporary files in `base`, to scan."""
    port = free_port()
    tmp = base / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env = served_env(site) | {
        "INTAKE_BIND": f"127.0.0.1:{port}",
        "INTAKE_ACCESS_LOG": str(base / "access.log"),
        "INTAKE_ERROR_LOG": str(base / "error.log"),
        "TMPDIR": str(tmp),
        **settings,
    }
    proc = subprocess.Popen([INTAKE, "serve"], cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(url + "/", proc)
        yield {
            "url": url,
            "proc": proc,
            "env": env,
            "tmp": tmp,
            "logs": [base / "access.log", base / "error.log"],
        }
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture
def server(tmp_path, site):
    """`intake serve` on the test site."""
    with service(tmp_path, site) as running:
        yield running


def everything_under(*folders):
    """(path, bytes) of every file under the folders, to look for what must not be there."""
    for folder in folders:
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file():
                yield str(path), path.read_bytes()


@pytest.fixture
def tiny_disk(tmp_path):
    """A 4 MB file system of its own, so the disk really fills (needs root, as CI has)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mount], capture_output=True)
    if result.returncode != 0:
        pytest.fail(f"mounting a 4 MB tmpfs needs root: {result.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", mount], check=True)


@pytest.fixture
def strace():
    """strace, to see which system calls a command makes; the test fails loudly if it is missing."""
    found = shutil.which("strace")
    if found is None:
        pytest.fail("strace is required: apt-get install strace (make test does it as root)")
    return found


CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
AXE = ROOT / ".cache" / "npm" / "node_modules" / "axe-core" / "axe.min.js"  # make test installs it


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium, driven by Playwright; the test fails loudly if it is missing."""
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail("Chromium is required: apt-get install chromium (make test does it as root)")
    with sync_playwright() as p:
        flags = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
        flags += ["--disable-component-update", "--disable-sync"]
        browser = p.chromium.launch(executable_path=CHROMIUM, args=flags)
        yield browser
        browser.close()


def snapshot(folder) -> dict:
    """Every file under a folder with its bytes, to show that something changed nothing."""
    folder = Path(folder)
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def first_start(site) -> None:
    """Set up the data folder and the database, as the service's first start does."""
    from intake.server import datafolder, settings

    with datafolder.initialise(settings.from_environ(site)):
        pass


@contextlib.contextmanager
def store_of(site):
    """The drop box the test site's settings name, as the server reads it (closed afterwards)."""
    from intake.server import datafolder, settings

    with datafolder.require(settings.from_environ(site)) as store:
        yield store


def drop_box(site) -> dict:
    """Everything the drop box holds (not the rate counters), to show that something changed nothing."""
    with store_of(site) as store, store.db.reading() as cur:
        found = {}
        for table, key in (("items", "id"), ("streams", "id"), ("chunks", "stream, n"), ("statuses", "lookup"),
                           ("counters", "name")):  # fmt: skip
            cur.execute(f"SELECT * FROM {table} ORDER BY {key}")  # noqa: S608 (the tests' own table names)
            found[table] = [
                tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in cur.fetchall()
            ]
    return found


def item_ids(site) -> list[bytes]:
    """The ids of the requests waiting for export."""
    return [row[0] for row in drop_box(site)["items"]]


def status_of(site, code: str):
    """The stored status of a reference code (its proof unchecked), or None."""
    from intake.formats import refcode

    with store_of(site) as store:
        return store.status(refcode.lookup_id(refcode.normalise(code)))


def import_return(site, data: bytes, verify_key):
    """`intake import` as the server's code does it: the bundle verified, then applied whole."""
    from intake.server import datafolder, importer, settings, statuses

    cfg = settings.from_environ(site)
    mac_key = statuses.mac_key(datafolder.secret(cfg).encode("utf-8"))
    with store_of(site) as store:
        return importer.import_bundle(data, verify_key, store, mac_key)


# What a test needs decides its tier: `make unit` runs the rest in under a minute.
SYSTEM_FIXTURES = {
    "server",
    "deployment",
    "service_account",
    "chromium",
    "hostile_server",
    "tiny_disk",
    "postgres",
    "strace",
}


def pytest_collection_modifyitems(config, items):
    """Mark as `system` every test under tests/system/ and every test that starts real services
    (a PostgreSQL cluster among them)."""
    for test in items:
        marked = SYSTEM_FIXTURES & set(getattr(test, "fixturenames", ()))
        callspec = getattr(test, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("engine") == "postgresql"
        if marked or on_postgres or "system" in Path(str(test.fspath)).parts:
            test.add_marker(pytest.mark.system)


def pytest_sessionfinish(session, exitstatus):
    """After the whole suite: no typed marker in any server data folder, temporary folder or log."""
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None or not MARKERS:
        return
    base = factory.getbasetemp()
    checked, found = 0, []
    needles = [m.encode() for m in MARKERS]
    for path in base.rglob("*"):
        parts = set(path.relative_to(base).parts)
        if (
            path.is_file()
            and not path.is_symlink()
            and (parts & {"data", "tmp", "spool"} or path.suffix == ".log")
        ):
            data = path.read_bytes()
            checked += 1
            found += [f"{path}: {n.decode()}" for n in needles if n in data]
    print(
        f"\nplaintext scan: {checked} files in data folders, temporary folders and logs, "
        f"{len(MARKERS)} markers, {len(found)} found"
    )
    if found:
        print("PLAINTEXT FOUND:\n" + "\n".join(found[:20]))
        session.exitstatus = 1


SERVICE_ACCOUNT = "intake-test"


@pytest.fixture(scope="session")
def deployment():
    """The project as an operator installs it: the built wheel with [web], in a fresh environment of
    the system's Python, in a folder outside the checkout that a service account can read."""
    python = Path("/usr/bin/python3") if Path("/usr/bin/python3").exists() else Path(sys.executable)
    base = Path(tempfile.mkdtemp(prefix="intake-deploy-", dir="/tmp"))
    base.chmod(0o755)
    try:
        wheels = base / "wheels"
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(ROOT), "-w", wheels],
            check=True,
            capture_output=True,
        )
        [wheel] = wheels.glob("intake-*.whl")
        result = subprocess.run([python, "-m", "venv", base / "venv"], capture_output=True, text=True)
        if result.returncode != 0:
            pytest.fail(
                f"{python} cannot make a virtual environment (apt-get install python3-venv): {result.stderr}"
            )
        subprocess.run(
            [base / "venv" / "bin" / "pip", "install", "-q", f"{wheel}[web]"],
            check=True,
            capture_output=True,
            cwd=base,
        )
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def service_account():
    """A real unprivileged account for the service, as docs/operator.md makes one (needs root)."""
    import pwd

    try:
        return pwd.getpwnam(SERVICE_ACCOUNT)
    except KeyError:
        pass
    if os.geteuid() != 0:
        pytest.fail(
            f"the service-account tests need root, or an account made with: sudo useradd --system "
            f"--user-group --no-create-home --shell /usr/sbin/nologin {SERVICE_ACCOUNT}"
        )
    subprocess.run(
        [
            "useradd",
            "--system",
            "--user-group",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            SERVICE_ACCOUNT,
        ],
        check=True,
    )
    return pwd.getpwnam(SERVICE_ACCOUNT)


def wait_for(url: str, proc=None, seconds: float = 30) -> None:
    """Wait until `url` answers (any HTTP status); fail if the process ends or time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the service stopped with status {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1).close()  # noqa: S310 (our own http URL)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"nothing answered at {url}")
