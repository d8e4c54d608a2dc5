"""`intake`: the operator's command on the server (docs/operator.md).

Every command reads the same settings as the service (settings.load), refuses a data folder the
service never set up, and does its work in the data folder as the folder's owner
(privileges.as_owner), so a root shell cannot leave files the service cannot read.
"""

import argparse
import datetime
import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from nacl.public import PublicKey

from intake.formats import envelope, export_bundle, keyfiles
from intake.formats.durable import fsync_dir
from intake.server import datafolder, settings
from intake.server.database import DatabaseError
from intake.server.privileges import as_owner, owner_name

EXIT_OK, EXIT_ATTENTION, EXIT_ERROR = 0, 1, 2


class Refused(Exception):
    """The command cannot do what was asked; one line says why, and nothing was changed."""


def _operators_file(out: Path, force: bool) -> Path:
    """Refuse to overwrite the operator's file unless asked."""
    if out.exists() and not force:
        raise Refused(f"{out} exists; choose another name or pass --force")
    return out


def _write_out(out: Path, fill: Callable[[BinaryIO], int]) -> int:
    """Write the operator's file as the operator (tmp, fsync, rename); `fill` writes its content."""
    tmp = out.with_name(f".{out.name}.tmp-{secrets.token_hex(4)}")
    try:
        with open(tmp, "xb") as f:
            result = fill(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, out)
        fsync_dir(out.parent)
    finally:
        tmp.unlink(missing_ok=True)
    return int(result)


def cmd_export(cfg: settings.Config, args) -> int:
    """Write every item still in the drop box into one bundle; delete nothing."""
    out = _operators_file(Path(args.out).resolve(), args.force)

    def fill(f: BinaryIO) -> int:
        with as_owner(cfg.data_dir), datafolder.require(cfg) as store:  # read as the service account
            return export_bundle.write(f, store.export_entries())

    count = _write_out(out, fill)
    print(f"exported {count} entries (requests and their attachments) from {_where(cfg)} to {out}")
    print("Nothing was deleted: items leave the server only when the secretariat's return bundle says so.")
    return EXIT_OK


def _where(cfg: settings.Config) -> str:
    return "the PostgreSQL database" if cfg.database_url else str(cfg.data_dir)


def cmd_import(cfg: settings.Config, args) -> int:
    """Apply the secretariat's return bundle: statuses, then deletion of acknowledged items."""
    from intake.formats import return_bundle
    from intake.server import importer, statuses

    with open(args.bundle, "rb") as f:  # the operator's file, read as the operator
        # Never more than a return bundle can be: not a 2 GB file, not /dev/zero.
        too_large = os.fstat(f.fileno()).st_size > return_bundle.MAX_BUNDLE_SIZE
        data = b"" if too_large else f.read(return_bundle.MAX_BUNDLE_SIZE + 1)
    if too_large or len(data) > return_bundle.MAX_BUNDLE_SIZE:
        raise Refused(f"{args.bundle} is far larger than any return bundle; nothing was changed")
    with as_owner(cfg.data_dir), datafolder.require(cfg) as store:
        try:
            verify_key = keyfiles.read_signing_key(cfg.keys_dir)
        except keyfiles.KeyFileError as e:
            raise Refused(f"{e}; nothing was changed") from None
        mac_key = statuses.mac_key(datafolder.secret(cfg).encode("utf-8"))
        try:
            applied, deleted = importer.import_bundle(data, verify_key, store, mac_key)
        except return_bundle.ReturnError as e:
            raise Refused(f"{e}; nothing was changed") from None
    print(
        f"applied return bundle {applied.sequence} to {_where(cfg)}: {len(applied.updates)} status updates, "
        f"{deleted} acknowledged items deleted ({len(applied.acks) - deleted} were already gone)"
    )
    return EXIT_OK


def cmd_check(cfg: settings.Config, args) -> int:
    """Say whether the service can accept requests, with what the service account itself can read."""
    ok, demo = True, False
    print(f"settings: {cfg.source or 'INTAKE_* variables and defaults (no settings file)'}")
    with as_owner(cfg.data_dir), datafolder.require(cfg) as store:  # as the service account reads
        print(f"data folder: {cfg.data_dir} (service account: {owner_name(cfg.data_dir)})")
        print(
            f"database: {'PostgreSQL (INTAKE_DATABASE_URL)' if cfg.database_url else 'SQLite, in the data folder'}"
        )
        for label, read in (
            ("submission", keyfiles.read_submission_key),
            ("signing", keyfiles.read_signing_key),
        ):
            try:
                key = read(cfg.keys_dir)
            except keyfiles.KeyFileError as e:
                print(f"{label} key: NOT USABLE BY THE SERVICE ACCOUNT: {e}")
                ok = False
            else:
                print(f"{label} key fingerprint: {envelope.fingerprint(bytes(key))}")
                # Only the submission key (a PublicKey; the signing key is a VerifyKey) can be the demo's.
                demo = demo or (isinstance(key, PublicKey) and keyfiles.is_demo(cfg.keys_dir, key))
        count, oldest = store.waiting()
        last = store.last_sequence()
    print(f"waiting for export: {count} requests" + (f", the oldest from {oldest}" if oldest else ""))
    print(f"last return bundle applied: sequence {last}" if last else "last return bundle applied: none yet")
    if last:
        print(f"  (if the secretariat's replies are refused as old, they reply with --after {last})")
    if demo:
        print(keyfiles.DEMO_BANNER)
    print("ready" if ok else "NOT READY: the site shows its offline page until the keys are in place")
    if not ok:
        return EXIT_ERROR
    if args.max_wait_days is not None and oldest is not None:
        waited = (datetime.datetime.now(datetime.UTC).date() - datetime.date.fromisoformat(oldest)).days
        if waited > args.max_wait_days:
            print(f"ATTENTION: a request has waited {waited} days for export")
            return EXIT_ATTENTION
    return EXIT_OK


def cmd_migrate(cfg: settings.Config, args) -> int:
    """Move a drop box of files (releases before the database) into the database."""
    from intake.server import migrate, statuses

    try:
        migrate.something_to_move(cfg.data_dir)
    except migrate.NothingToMove as e:
        raise Refused(str(e)) from None
    with as_owner(cfg.data_dir), datafolder.initialise(cfg, moving=True) as store:
        try:
            verify_key = keyfiles.read_signing_key(cfg.keys_dir)
        except keyfiles.KeyFileError as e:
            raise Refused(f"{e}; nothing was moved") from None
        mac_key = statuses.mac_key(datafolder.secret(cfg).encode("utf-8"))
        try:
            report = migrate.migrate(cfg.data_dir, store, mac_key, verify_key)
        except migrate.Damaged as e:
            raise Refused(str(e)) from None
    again = f" ({len(report.skipped)} were already in it, from an interrupted run)" if report.skipped else ""
    print(f"moved {report.items} requests, {report.files} attachments and {report.statuses} statuses "
          f"into {_where(cfg)}{again}; their files are gone")  # fmt: skip
    return EXIT_OK


def cmd_backup(cfg: settings.Config, args) -> int:
    """Write a consistent copy of the drop box, with the server's secret, while the service runs (SQLite)."""
    from intake.server import backup
    from intake.server.database import SQLite

    out = _operators_file(Path(args.out).resolve(), args.force)

    def fill(f: BinaryIO) -> int:
        with as_owner(cfg.data_dir), datafolder.require(cfg) as store:  # read as the service account
            if not isinstance(store.db, SQLite):
                raise Refused(
                    "the database is PostgreSQL: back it up with pg_dump (docs/operator.md, backups)"
                )
            backup.write(cfg, store.db, f)
        return 1

    _write_out(out, fill)
    print(f"wrote a backup of {_where(cfg)} to {out}: keep it encrypted; `intake restore` puts it back")
    return EXIT_OK


def cmd_restore(cfg: settings.Config, args) -> int:
    """Put a backup in place of the drop box, with the service stopped (SQLite)."""
    from intake.server import backup

    with open(args.backup, "rb") as f, as_owner(cfg.data_dir):  # the operator's file, read as the operator
        datafolder.require(cfg).db.close()  # the service set this folder up
        try:
            requests, statuses = backup.restore(cfg, f, args.replace)
        except backup.BackupError as e:
            raise Refused(str(e)) from None
    print(f"restored {requests} requests and {statuses} statuses into {_where(cfg)}; start the service")
    return EXIT_OK


def cmd_demo_keys(cfg: settings.Config, args) -> int:
    """Make demo keys if the keys folder has none, so a newcomer's first run works."""
    if (cfg.keys_dir / keyfiles.SUBMISSION_FILE).exists():
        return EXIT_OK
    from intake.formats.keyring import Generation, Keyring, save

    demo = Path(args.demo_dir).resolve()
    demo.mkdir(parents=True, exist_ok=True, mode=0o700)
    passphrase = secrets.token_urlsafe(18)
    generation = Generation.new()
    save(demo / "secretariat.keyring", Keyring((generation,)), passphrase)
    (demo / "passphrase.txt").write_text(passphrase + "\n", encoding="ascii")
    os.chmod(demo / "passphrase.txt", 0o600)
    keyfiles.write_public_keys(cfg.keys_dir, generation.box.public_key, generation.sign.verify_key)
    keyfiles.mark_demo(cfg.keys_dir, generation.box.public_key)
    print(keyfiles.DEMO_BANNER, file=sys.stderr)
    print(f"demo keyring:    {demo / 'secretariat.keyring'}", file=sys.stderr)
    print(f"its passphrase:  {demo / 'passphrase.txt'}", file=sys.stderr)
    print(f"public keys in:  {cfg.keys_dir}\n", file=sys.stderr)
    return EXIT_OK


def cmd_serve(cfg: settings.Config, args) -> int:
    """Run the service: gunicorn with the shipped settings, as the data folder's owner."""
    from intake.server.serve import serve

    return serve(cfg)


def cmd_translations(cfg: settings.Config, args) -> int:
    """Extract, update and compile the catalogs, or check that they are complete and current."""
    from intake.server import catalogs

    if args.action == "compile":
        catalogs.compile_all()
        return EXIT_OK
    problems = catalogs.update() if args.action == "update" else catalogs.check()
    for problem in problems:
        print(f"translations: {problem}", file=sys.stderr)
    return EXIT_ERROR if problems else EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The operator's command line; settings come from the settings file and INTAKE_* variables."""
    parser = argparse.ArgumentParser(
        prog="intake",
        description="Operate the intake server. Settings come from the file INTAKE_CONFIG names "
        f"(else {settings.DEFAULT_CONFIG}, when it exists), then INTAKE_* environment variables.",
        epilog="Exit status: 0 done, 1 done but needs attention (check), 2 refused or failed.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("serve", help="run the service (INTAKE_BIND, default 127.0.0.1:8080)")
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("export", help="write the drop box into a bundle for the air-gapped machine")
    p.add_argument("--out", required=True, metavar="FILE", help="the bundle file to write")
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("import", help="apply a return bundle from the secretariat (statuses, deletions)")
    p.add_argument("bundle", metavar="RETURN", help="the file written by `intake-offline reply`")
    p.set_defaults(func=cmd_import)
    p = sub.add_parser("migrate", help="move a drop box of files (releases before the database) into it")
    p.set_defaults(func=cmd_migrate)
    p = sub.add_parser("backup", help="write a consistent copy of the drop box (SQLite) while it runs")
    p.add_argument("--out", required=True, metavar="FILE", help="the copy to write")
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")
    p.set_defaults(func=cmd_backup)
    p = sub.add_parser("restore", help="put a backup back in place of the drop box (service stopped)")
    p.add_argument("backup", metavar="FILE", help="the file written by `intake backup`")
    p.add_argument("--replace", action="store_true", help="replace a drop box that holds requests")
    p.set_defaults(func=cmd_restore)
    p = sub.add_parser(
        "check", help="check the keys as the service account reads them; count waiting requests"
    )
    p.add_argument(
        "--max-wait-days",
        type=int,
        metavar="DAYS",
        help="exit 1 when a request has waited longer than DAYS for export (for cron)",
    )
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("demo-keys", help="make demo keys if there are none (never in production)")
    p.add_argument("--demo-dir", default=str(settings.ROOT / "instance" / "demo-secretariat"), metavar="DIR")
    p.set_defaults(func=cmd_demo_keys)
    p = sub.add_parser("translations", help="update, compile, or check the catalogs as CI does")
    p.add_argument("action", choices=["update", "compile", "check"])
    p.set_defaults(func=cmd_translations)
    return parser


def main(argv=None) -> int:
    """Run the command; errors are one line, never a traceback."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(settings.load(os.environ), args)
    except settings.ConfigError as e:
        print(f"intake: configuration: {e}", file=sys.stderr)
    except (Refused, datafolder.DataFolderError, DatabaseError) as e:
        print(f"intake: {e}", file=sys.stderr)
    except OSError as e:
        print(f"intake: {e.filename or ''}: {e.strerror}", file=sys.stderr)
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
