"""`intake`: the operator's command on the server (docs/operator.md)."""

import argparse
import os
import secrets
import sys
from pathlib import Path

from . import bundle, config, crypto, keyfiles
from .dropbox import DropBox
from .fsutil import fsync_dir

EXIT_OK, EXIT_ERROR = 0, 2


def _entries(dropbox: DropBox):
    """Each item, then its attachment streams (same id), in order."""
    for item_id, data, attachments in dropbox.items():
        yield bundle.TYPE_ITEM, item_id, data
        for path in attachments:
            yield bundle.TYPE_ATTACHMENT, item_id, path


def cmd_export(cfg: config.Config, args) -> int:
    """Write every item still in the drop box into one bundle; delete nothing."""
    out = Path(args.out).resolve()
    if out.exists() and not args.force:
        print(f"intake: {out} exists; choose another name or pass --force", file=sys.stderr)
        return EXIT_ERROR
    dropbox = DropBox(cfg.dropbox_dir)
    tmp = out.with_name(f".{out.name}.tmp-{secrets.token_hex(4)}")
    try:
        with open(tmp, "xb") as f:
            count = bundle.write(f, _entries(dropbox))
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, out)
        fsync_dir(out.parent)
    finally:
        tmp.unlink(missing_ok=True)
    print(f"exported {count} entries (requests and their attachments) to {out}")
    print("Nothing was deleted: items leave the server only when the secretariat's return bundle says so.")
    return EXIT_OK


def cmd_import(cfg: config.Config, args) -> int:
    """Apply the secretariat's return bundle: statuses, then deletion of acknowledged items."""
    from . import importer
    from .returns import ReturnError
    from .status import StatusStore

    try:
        verify_key = keyfiles.read_signing_key(cfg.keys_dir)
    except keyfiles.KeyFileError as e:
        print(f"intake: refused: {e}; nothing was changed", file=sys.stderr)
        return EXIT_ERROR
    data = Path(args.bundle).read_bytes()
    dropbox, statuses = DropBox(cfg.dropbox_dir), StatusStore(cfg.status_dir)
    try:
        if importer.finish_pending(verify_key, cfg.data_dir, dropbox, statuses):
            print("completed an import that had been interrupted")
        bundle, deleted = importer.import_bundle(data, verify_key, cfg.data_dir, dropbox, statuses)
    except ReturnError as e:
        print(f"intake: refused: {e}; nothing was changed", file=sys.stderr)
        return EXIT_ERROR
    print(f"applied return bundle {bundle.sequence}: {len(bundle.updates)} status updates, "
          f"{deleted} acknowledged items deleted ({len(bundle.acks) - deleted} were already gone)")  # fmt: skip
    return EXIT_OK


def cmd_check(cfg: config.Config, args) -> int:
    """Say whether the service can accept requests, and print the key fingerprints to compare."""
    ok = True
    for label, read in (("submission", keyfiles.read_submission_key), ("signing", keyfiles.read_signing_key)):
        try:
            key = read(cfg.keys_dir)
        except keyfiles.KeyFileError as e:
            print(f"{label} key: MISSING OR BAD: {e}")
            ok = False
        else:
            print(f"{label} key fingerprint: {crypto.fingerprint(bytes(key))}")
    print(f"drop box: {cfg.dropbox_dir} ({len(DropBox(cfg.dropbox_dir).item_ids())} items waiting)")
    print("ready" if ok else "NOT READY: the site shows its offline page until the keys are in place")
    return EXIT_OK if ok else EXIT_ERROR


BANNER = """
########################################################################################
#  DEMO KEYS. NOT FOR REAL REQUESTS.                                                    #
#  Their secret keyring and its passphrase are on this server, so anyone who gets this  #
#  machine can read every request. Make real keys on an air-gapped machine:             #
#  docs/secretariat.md, then docs/operator.md ("Install the secretariat's keys").      #
########################################################################################"""


def cmd_demo_keys(cfg: config.Config, args) -> int:
    """Make demo keys if the keys folder has none, so a newcomer's first run works."""
    if (cfg.keys_dir / keyfiles.SUBMISSION_FILE).exists():
        return EXIT_OK
    from .offline.keyring import Generation, Keyring, save

    demo = Path(args.demo_dir).resolve()
    demo.mkdir(parents=True, exist_ok=True, mode=0o700)
    passphrase = secrets.token_urlsafe(18)
    generation = Generation.new()
    save(demo / "secretariat.keyring", Keyring((generation,)), passphrase)
    (demo / "passphrase.txt").write_text(passphrase + "\n", encoding="ascii")
    os.chmod(demo / "passphrase.txt", 0o600)
    keyfiles.write_public_keys(cfg.keys_dir, generation.box.public_key, generation.sign.verify_key)
    print(BANNER, file=sys.stderr)
    print(f"demo keyring:    {demo / 'secretariat.keyring'}", file=sys.stderr)
    print(f"its passphrase:  {demo / 'passphrase.txt'}", file=sys.stderr)
    print(f"public keys in:  {cfg.keys_dir}\n", file=sys.stderr)
    return EXIT_OK


def cmd_translations(cfg: config.Config, args) -> int:
    """Extract, update and compile the catalogs, or check that they are complete and current."""
    from . import catalogs

    if args.action == "compile":
        catalogs.compile_all()
        return EXIT_OK
    problems = catalogs.update() if args.action == "update" else catalogs.check()
    for problem in problems:
        print(f"translations: {problem}", file=sys.stderr)
    return EXIT_ERROR if problems else EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The operator's command line; settings come from INTAKE_* variables, as for the service."""
    parser = argparse.ArgumentParser(
        prog="intake",
        description="Operate the intake server. Settings come from INTAKE_* environment variables.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("export", help="write the drop box into a bundle for the air-gapped machine")
    p.add_argument("--out", required=True, metavar="FILE", help="the bundle file to write")
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("import", help="apply a return bundle from the secretariat (statuses, deletions)")
    p.add_argument("bundle", metavar="RETURN", help="the file written by `intake-offline reply`")
    p.set_defaults(func=cmd_import)
    p = sub.add_parser("check", help="check the keys and print their fingerprints")
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("demo-keys", help="make demo keys if there are none (never in production)")
    p.add_argument("--demo-dir", default=str(config.ROOT / "instance" / "demo-secretariat"), metavar="DIR")
    p.set_defaults(func=cmd_demo_keys)
    p = sub.add_parser("translations", help="update, compile, or check the catalogs as CI does")
    p.add_argument("action", choices=["update", "compile", "check"])
    p.set_defaults(func=cmd_translations)
    return parser


def main(argv=None) -> int:
    """Run the command; errors are one line, never a traceback."""
    args = build_parser().parse_args(argv)
    try:
        cfg = config.from_environ(os.environ)
        return args.func(cfg, args)
    except config.ConfigError as e:
        print(f"intake: configuration: {e}", file=sys.stderr)
    except OSError as e:
        print(f"intake: {e.filename or ''}: {e.strerror}", file=sys.stderr)
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
