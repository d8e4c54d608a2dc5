"""Operating the service as an operator does: one settings file, live key changes, demo keys, quotas."""

import os
import re
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from intake.formats import envelope, keyfiles, refcode
from intake.formats.keyring import Generation, Keyring
from intake.offline.decrypt import decrypt_bundle
from intake.server import settings

from ..actors import Defender, run
from ..conftest import INTAKE, ROOT, both_engines, filled, item_ids, store_of


def bare_env(**values):
    """The environment of a root shell: no INTAKE_* variable but what is given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    return env | {"INTAKE_CONFIG": os.devnull} | values


@pytest.mark.parametrize("command", [["export", "--out", "x.bin"], ["import", "r.bin"], ["check"]])
def test_commands_refuse_a_data_folder_the_service_never_set_up(tmp_path, command):
    (tmp_path / "r.bin").write_bytes(b"not a bundle")
    for data_dir in (tmp_path / "nowhere", tmp_path / "empty"):
        (tmp_path / "empty").mkdir(exist_ok=True)
        before = sorted(tmp_path.rglob("*"))
        env = bare_env(INTAKE_DATA_DIR=str(data_dir), INTAKE_KEYS_DIR=str(tmp_path / "keys"))
        result = subprocess.run([INTAKE, *command], env=env, capture_output=True, text=True, cwd=tmp_path)
        assert result.returncode == 2
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and str(data_dir) in lines[0] and "Traceback" not in result.stderr
        assert "does not exist" in lines[0] or "never set up" in lines[0]
        assert sorted(tmp_path.rglob("*")) == before  # nothing was made, not even the bundle


def test_the_settings_file_is_the_one_source_for_service_and_commands(tmp_path, site):
    settings_file = tmp_path / "intake.env"
    settings_file.write_text(
        "# the operator's settings, read by `intake serve` and every command\n"
        f"INTAKE_DATA_DIR={site['INTAKE_DATA_DIR']}\n"
        f'INTAKE_KEYS_DIR="{site["INTAKE_KEYS_DIR"]}"\n'
        "INTAKE_QUOTA_MB=900\n"
    )
    cfg = settings.load({"INTAKE_CONFIG": str(settings_file)})
    assert (cfg.data_dir, cfg.quota_bytes, cfg.source) == (
        Path(site["INTAKE_DATA_DIR"]),
        900_000_000,
        settings_file,
    )
    # The environment still wins, for a one-off.
    assert (
        settings.load({"INTAKE_CONFIG": str(settings_file), "INTAKE_QUOTA_MB": "7"}).quota_bytes == 7_000_000
    )
    from intake import create_app

    create_app({"INTAKE_CONFIG": str(settings_file)})  # the service's first start sets up the data folder
    result = run("intake", "check", env=bare_env(INTAKE_CONFIG=str(settings_file)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"settings: {settings_file}" in result.stdout and site["INTAKE_DATA_DIR"] in result.stdout
    settings_file.write_text("INTAKE_DATA_DIRECTORY=/srv\n")  # a typo is refused, not ignored
    result = run("intake", "check", env=bare_env(INTAKE_CONFIG=str(settings_file)))
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == f"intake: configuration: {settings_file}, line 1: unknown setting INTAKE_DATA_DIRECTORY"
    )


def test_public_key_files_are_written_readable_by_everyone(tmp_path, generation):
    old = os.umask(0o077)
    try:
        paths = keyfiles.write_public_keys(tmp_path, generation.box.public_key, generation.sign.verify_key)
    finally:
        os.umask(old)
    assert [oct(p.stat().st_mode & 0o777) for p in paths] == ["0o644", "0o644"]


def key_id_on(url: str) -> str:
    with urllib.request.urlopen(f"{url}/en/feedback", timeout=10) as response:  # noqa: S310
        return re.search(r'data-key-id="([0-9a-f]{16})"', response.read().decode()).group(1)


def test_a_key_changed_while_the_service_runs_is_used_at_once(server, site, tmp_path, keyring):
    url, keys = server["url"], Path(site["INTAKE_KEYS_DIR"])
    old_id = key_id_on(url)
    assert old_id == keyring.current.key_id.hex()
    rotated = Generation.new()
    new_keys = tmp_path / "rotation"
    keyfiles.write_public_keys(new_keys, rotated.box.public_key, rotated.sign.verify_key)
    for name in (keyfiles.SUBMISSION_FILE, keyfiles.SIGNING_FILE):
        subprocess.run(["cp", new_keys / name, keys / name], check=True)  # in place, as `cp` does
    deadline = time.monotonic() + 20
    while key_id_on(url) != rotated.key_id.hex():  # every worker, within seconds
        assert time.monotonic() < deadline, "the forms still carry the old key"
        time.sleep(0.2)
    assert all(key_id_on(url) == rotated.key_id.hex() for _ in range(10))
    assert Defender(url=url).send("ru", "feedback", filled("feedback", "ROTATED")).status_code == 200
    bundle = tmp_path / "export.bin"
    assert run("intake", "export", "--out", bundle, env=server["env"]).returncode == 0
    assert not decrypt_bundle(bundle, keyring, tmp_path / "old").written  # not readable with the old key
    report = decrypt_bundle(bundle, Keyring((rotated,)), tmp_path / "new")
    assert report.ok and report.written == 1
    errors = server["logs"][1].read_text(encoding="utf-8")
    assert f"key id {rotated.key_id.hex()}" in errors


def test_an_unreadable_key_turns_the_site_offline_and_says_why_in_the_log(server, site):
    key = Path(site["INTAKE_KEYS_DIR"]) / keyfiles.SUBMISSION_FILE
    key.write_text("intake-submission-key-v1 not-hex\n")
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(f"{server['url']}/en/", timeout=10).close()  # noqa: S310
        except urllib.error.HTTPError as e:
            assert e.code == 503
            break
        assert time.monotonic() < deadline
        time.sleep(0.2)
    errors = server["logs"][1].read_text(encoding="utf-8")
    assert f"no usable submission key, so the site shows its offline page: {key}: not a" in errors


def test_demo_keys_are_announced_at_every_start_every_check_and_on_every_page(tmp_path):
    env = bare_env(INTAKE_KEYS_DIR=str(tmp_path / "keys"), INTAKE_DATA_DIR=str(tmp_path / "data"))
    assert run("intake", "demo-keys", "--demo-dir", tmp_path / "demo", env=env).returncode == 0
    from intake import create_app

    client = create_app({**env, "INTAKE_SECRET_KEY": "d" * 40}).test_client()
    defender = Defender(client)
    for lang, words in (("en", "This site is a demonstration."), ("ar", 'class="demo"')):
        assert words in client.get(f"/{lang}/").text
        # Pages rendered once and filled in too: the status page, an answer, a receipt.
        assert words in client.get(f"/{lang}/status").text
        assert words in defender.look_up(lang, refcode.display(refcode.make())).text
        assert words in defender.send(lang, "feedback", filled("feedback", "demo")).text
    for _ in range(2):
        check = run("intake", "check", env=env)
        assert check.returncode == 0 and "DEMO KEYS. NOT FOR REAL REQUESTS." in check.stdout
    # Real keys installed over them: no warning any more, anywhere.
    (tmp_path / "keys" / keyfiles.SUBMISSION_FILE).unlink()
    (tmp_path / "keys" / keyfiles.SIGNING_FILE).unlink()
    real = Generation.new()
    keyfiles.write_public_keys(tmp_path / "keys", real.box.public_key, real.sign.verify_key)
    check = run("intake", "check", env=env)
    assert check.returncode == 0 and "DEMO" not in check.stdout
    assert envelope.fingerprint(bytes(real.box.public_key)) in check.stdout
    assert "demonstration" not in client.get("/en/").text
    assert "demonstration" not in client.get("/en/status").text
    assert "demonstration" not in defender.look_up("en", refcode.display(refcode.make())).text
    assert "demonstration" not in defender.send("en", "feedback", filled("feedback", "real")).text


@pytest.mark.system  # starts intake serve
def test_demo_keys_are_announced_when_the_service_starts(tmp_path):
    env = bare_env(
        INTAKE_KEYS_DIR=str(tmp_path / "keys"),
        INTAKE_DATA_DIR=str(tmp_path / "data"),
        INTAKE_BIND="192.0.2.1:8080",  # the start is what is tested: this address is not ours to bind
    )
    run("intake", "demo-keys", "--demo-dir", tmp_path / "demo", env=env)
    started = subprocess.run([INTAKE, "serve"], env=env, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert "DEMO KEYS. NOT FOR REAL REQUESTS." in started.stderr


def test_a_flood_of_large_uploads_cannot_stop_a_text_request(site):
    from intake import create_app

    # 4 MB in all, of which the last 1 MB is kept for requests without files.
    app = create_app(
        {**site, "INTAKE_QUOTA_MB": "4", "INTAKE_TEXT_RESERVE_MB": "1", "INTAKE_MAX_ATTACHMENT_MB": "1"}
    )
    app.extensions["intake"].quota.recount_seconds = 0
    client = app.test_client()
    accepted = 0
    while True:
        answers = filled("individual", "FLOOD")
        response = Defender(client).send("en", "individual", answers, [("big.bin", os.urandom(900_000))])
        if response.status_code != 200:
            break
        accepted += 1
    assert response.status_code == 503 and answers["hr_work"] in response.text  # refused, answers kept
    assert accepted == 3  # about 3 MB of files: the budget for requests with files is full
    for n in range(5):  # text requests still go through, from the reserve
        status = Defender(client).send("en", "individual", filled("individual", f"TEXT{n}"), []).status_code
        assert status == 200


@both_engines
def test_check_says_how_many_requests_wait_and_since_which_day(site, client, operator):
    check = operator.run("check", "--max-wait-days", "0")
    assert check.returncode == 0 and "waiting for export: 0 requests\n" in check.stdout
    for lang in ("en", "ar"):
        assert (
            Defender(client).send(lang, "individual", filled("individual", "WAITING"), []).status_code == 200
        )
    three_days_ago = time.time() - 3 * 86400
    day = time.strftime("%Y-%m-%d", time.gmtime(three_days_ago))
    first = item_ids(site)[0]
    with store_of(site) as store, store.db.transaction() as cur:  # as if one had come three days ago
        cur.execute("UPDATE items SET day = ? WHERE id = ?", (day, first))
    check = operator.run("check", "--max-wait-days", "5")
    assert (
        check.returncode == 0 and f"waiting for export: 2 requests, the oldest from {day}\n" in check.stdout
    )
    check = operator.run("check", "--max-wait-days", "2")  # for cron: exit 1, and say so
    assert check.returncode == 1 and "ATTENTION: a request has waited 3 days for export" in check.stdout
