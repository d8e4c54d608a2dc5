"""`intake-offline`: the secretariat's tool on the air-gapped machine (docs/secretariat.md)."""

import argparse
import getpass
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from intake.formats import envelope, keyfiles
from intake.formats.durable import make_dir
from intake.formats.export_bundle import BundleError
from intake.formats.keyring import Generation, Keyring, KeyringError, load, save
from intake.formats.languages import LANGUAGES
from intake.formats.return_bundle import STATUSES
from intake.offline import backup, decisions, desk, reply
from intake.offline.backup import BackupError
from intake.offline.decisions import DecisionError
from intake.offline.decrypt import decrypt_bundle
from intake.offline.ledger import LedgerError
from intake.offline.plan import DELIVERED

EXIT_OK, EXIT_ITEMS_FAILED, EXIT_ERROR = 0, 1, 2


class UsageError(Exception):
    """A problem with the command as given; printed as one line, exit status 2."""


def read_passphrase(args: argparse.Namespace, *, confirm: bool) -> str:
    """Read the passphrase from --passphrase-file, else ask on the terminal (twice if confirming)."""
    if args.passphrase_file:
        try:
            text = Path(args.passphrase_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise UsageError(f"cannot read passphrase file: {e}") from None
        return text.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise UsageError("no terminal to ask for the passphrase on; use --passphrase-file")
    first = getpass.getpass("Keyring passphrase: ")
    if confirm and getpass.getpass("Same passphrase again: ") != first:
        raise UsageError("the two passphrases differ; nothing was written")
    return first


def print_generation(generation: Generation, label: str) -> None:
    """Print a generation's fingerprints, to be compared out of band with the server's."""
    print(f"{label} (created {generation.created})")
    print(f"  submission key fingerprint: {envelope.fingerprint(bytes(generation.box.public_key))}")
    print(f"  signing key fingerprint:    {envelope.fingerprint(bytes(generation.sign.verify_key))}")


def _publish(generation: Generation, out: Path) -> None:
    make_dir(out / "keys")
    make_dir(out)
    for path in keyfiles.write_public_keys(
        out / "keys", generation.box.public_key, generation.sign.verify_key
    ):
        print(f"wrote {path}")


def cmd_keygen(args: argparse.Namespace) -> int:
    """Make the first generation of keys."""
    out = Path(args.out)
    keyring_path = out / "secretariat.keyring"
    for path in (keyring_path, out / "keys" / keyfiles.SUBMISSION_FILE, out / "keys" / keyfiles.SIGNING_FILE):
        if path.exists():
            raise UsageError(f"{path} already exists; refusing to overwrite it")
    passphrase = read_passphrase(args, confirm=True)
    generation = Generation.new()
    make_dir(out)
    save(keyring_path, Keyring((generation,)), passphrase)
    print(f"wrote {keyring_path} (secret: keep it on this machine and on its backups only)")
    _publish(generation, out)
    print_generation(generation, "new keys")
    return EXIT_OK


def cmd_keys_add(args: argparse.Namespace) -> int:
    """Add a new generation (key rotation); older generations stay so old items still open."""
    out = Path(args.out)
    if (out / "keys").exists() and any((out / "keys").iterdir()):
        raise UsageError(f"{out / 'keys'} is not empty; choose a new --out for the new public keys")
    passphrase = read_passphrase(args, confirm=False)
    keyring = load(args.keyring, passphrase).add(Generation.new())
    save(args.keyring, keyring, passphrase, replace=True)
    _publish(keyring.current, out)
    print_generation(keyring.current, "new current keys")
    return EXIT_OK


def cmd_keys_list(args: argparse.Namespace) -> int:
    """List every generation, oldest first."""
    keyring = load(args.keyring, read_passphrase(args, confirm=False))
    for number, generation in enumerate(keyring.generations, 1):
        current = " (current)" if generation is keyring.current else ""
        print_generation(generation, f"generation {number}{current}, key id {generation.key_id.hex()}")
    return EXIT_OK


class Progress:
    """Show progress on stderr: in place on a terminal, every tenth otherwise."""

    def __init__(self) -> None:
        self.shown = -1
        self.tty = sys.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        percent = 100 * done // max(total, 1)
        step = percent if self.tty else percent // 10 * 10
        if step != self.shown:
            self.shown = step
            if self.tty:
                print(f"\rdecrypting: {step}%", end="", file=sys.stderr, flush=True)
            else:
                print(f"decrypting: {step}%", file=sys.stderr)

    def done(self) -> None:
        """End the in-place line on a terminal."""
        if self.tty and self.shown >= 0:
            print(file=sys.stderr)


def cmd_decrypt(args: argparse.Namespace) -> int:
    """Decrypt a bundle into --out; exit 1 if any item failed."""
    keyring = load(args.keyring, read_passphrase(args, confirm=False))
    if not Path(args.bundle).is_file():
        raise UsageError(f"no bundle at {args.bundle}")
    progress = Progress()
    helpers = None if args.processes is None else args.processes - 1
    report = decrypt_bundle(
        Path(args.bundle), keyring, Path(args.out), progress=progress, lang=args.lang, helpers=helpers
    )
    progress.done()
    for line in report.failures:
        print(f"FAILED {line}", file=sys.stderr)
    print(
        f"{report.written} new requests, {report.unchanged} already decrypted, "
        f"{len(report.failures)} failed; open {Path(args.out) / 'index.html'}"
    )
    return EXIT_OK if report.ok else EXIT_ITEMS_FAILED


def cmd_reply(args: argparse.Namespace) -> int:
    """Write the signed return bundle: statuses and messages from decisions.csv, acknowledgements."""
    if not 0 <= args.after < 2**63:
        raise UsageError("--after takes the sequence number the server last applied (0 or more)")
    if Path(args.out).exists():
        raise UsageError(f"{args.out} already exists; choose a new name for each return bundle")
    keyring = load(args.keyring, read_passphrase(args, confirm=False))
    # --after answers a refusal: the refused bundles' statuses never arrived, so send them all.
    resend = args.resend or args.after > 0
    made = reply.write(
        Path(args.requests), keyring, Path(args.keyring), Path(args.out), resend=resend, after=args.after
    )
    bundle, sent = made.bundle, made.sent.outgoing
    messages = sum(o.message != "" for o in sent)
    again = sum(not o.new for o in sent)
    delivered = sum(o.status == DELIVERED for o in sent)
    print(f"read {decisions.FILE} ({made.read_as})")
    print(
        f"wrote {args.out}: return bundle {bundle.sequence}, {len(sent)} status updates ({delivered} "
        f"'{DELIVERED}', {messages} with a message, {again} sent again), {len(bundle.acks)} items acknowledged"
    )
    if made.sent.already_sent and not resend:
        print(
            f"{made.sent.already_sent} decisions were sent by earlier replies and not again "
            "(reply --resend sends every status again, if a return bundle was lost)"
        )
    print("Carry it to the operator, who runs: intake import " + Path(args.out).name)
    return EXIT_OK


def cmd_desk(args: argparse.Namespace) -> int:
    """Serve the desk on 127.0.0.1 until Ctrl+C; print the one address that opens it."""
    out, keyring_path = Path(args.requests).resolve(), Path(args.keyring).resolve()
    if not (out / decisions.FILE).is_file():
        raise UsageError(f"no {decisions.FILE} in {out}: run decrypt into that folder first")
    if not keyring_path.is_file():
        raise UsageError(f"no keyring at {keyring_path}")
    if not 0 <= args.port < 65536:
        raise UsageError("--port takes a port number (0 for any free one)")
    # With a passphrase file the keyring is opened now; without one, the page asks when it signs.
    keyring = load(keyring_path, read_passphrase(args, confirm=False)) if args.passphrase_file else None
    state = desk.Desk(out, keyring_path, keyring, args.lang)
    server = desk.serve(state, args.port)
    print("The desk is open for a browser on this machine only (Ctrl+C stops it):", flush=True)
    print(state.url, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("\nthe desk has stopped", file=sys.stderr)
    finally:
        server.server_close()
    return EXIT_OK


def cmd_backup(args: argparse.Namespace) -> int:
    """Copy the keyring, its sequence file, decisions, ledger and notes (and the requests) to --out."""
    made = backup.make(
        Path(args.requests), Path(args.keyring), Path(args.out), with_requests=args.with_requests
    )
    print(
        f"wrote {args.out}: {len(made.files)} files ({made.requests} requests); keep it on an encrypted stick"
    )
    return EXIT_OK


def cmd_restore(args: argparse.Namespace) -> int:
    """Check a backup whole, then put the keyring and the folder back."""
    restored = backup.restore(Path(args.backup), Path(args.keyring), Path(args.out))
    print(f"restored {len(restored.files)} files: the keyring at {args.keyring}, the rest into {args.out}")
    if not restored.requests:
        print(
            "the backup holds no requests: put them back too (a backup made with --with-requests) before replying"
        )
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The command line, every subcommand documented for --help."""
    parser = argparse.ArgumentParser(
        prog="intake-offline",
        description="The secretariat's offline tool: keys, decryption of export bundles, the desk, replies, backups.",
        epilog="Exit status: 0 all went well, 1 some items failed, 2 the command could not run.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_passphrase(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--passphrase-file", metavar="FILE", help="read the passphrase from FILE (first line)")
        return p

    p = with_passphrase(sub.add_parser("keygen", help="make the secretariat's first keys"))
    p.add_argument("--out", required=True, metavar="DIR", help="write DIR/secretariat.keyring and DIR/keys/")
    p.set_defaults(func=cmd_keygen)

    p = with_passphrase(sub.add_parser("decrypt", help="decrypt an export bundle into readable requests"))
    p.add_argument("bundle", metavar="BUNDLE", help="the file written by `intake export`")
    p.add_argument("--keyring", required=True, metavar="FILE", help="the secretariat keyring")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for requests/, index.html, index.csv")
    p.add_argument(
        "--lang",
        choices=list(LANGUAGES),
        default="en",
        help="the language the pages show the questions in",
    )
    p.add_argument(
        "--processes",
        type=int,
        choices=(1, 2),
        help="1, or 2 to share the work with a second process (default: 2 when the machine has a core "
        "to spare and the bundle at least 64 items)",
    )
    p.set_defaults(func=cmd_decrypt)

    p = with_passphrase(
        sub.add_parser(
            "reply",
            help="sign a return bundle from DIR/decisions.csv (statuses, messages) and acknowledge DIR's items",
            description="Statuses: " + ", ".join(STATUSES[:-1]) + f", and {DELIVERED}, which reply sends "
            "by itself for a request acknowledged with nothing decided (or whose more_info was answered). "
            "A row without a status changes nothing; for each reference code the row of its newest "
            "request that has a status wins, and it is sent once, dated the day it was first sent "
            "(DIR/ledger.json records what was sent). decisions.csv may use commas or semicolons, in "
            "UTF-8 or Windows-1252. Every request decrypted into DIR is acknowledged, so the server "
            "deletes its copy.",
        )
    )
    p.add_argument("requests", metavar="DIR", help="the folder decrypt wrote (with decisions.csv)")
    p.add_argument("--keyring", required=True, metavar="FILE", help="the secretariat keyring")
    p.add_argument("--out", required=True, metavar="RETURN", help="the return bundle to write")
    p.add_argument(
        "--resend",
        action="store_true",
        help="send every status again, each with the day it was decided (when a return bundle was lost)",
    )
    p.add_argument(
        "--after",
        type=int,
        default=0,
        metavar="N",
        help="make the bundle's sequence number larger than N, the last one the server applied, and "
        "send every status again (when the server refuses replies as old: a keyring restored without "
        "its .sequence file, on a clock that is behind)",
    )
    p.set_defaults(func=cmd_reply)

    p = with_passphrase(
        sub.add_parser(
            "desk",
            help="read, decide and answer in a browser on this machine (a local web page on 127.0.0.1)",
            description="Prints one address (http://127.0.0.1:PORT/TOKEN/) to open in a browser on this "
            "machine; nothing else can use the desk. Decisions go into DIR/decisions.csv, where reply reads "
            "them; private notes into DIR/notes.json. Without --passphrase-file, the page asks for the "
            "passphrase when it signs a return bundle.",
        )
    )
    p.add_argument("requests", metavar="DIR", help="the folder decrypt wrote (with decisions.csv)")
    p.add_argument("--keyring", required=True, metavar="FILE", help="the secretariat keyring")
    p.add_argument(
        "--port", type=int, default=0, metavar="N", help="listen on this port (default: any free one)"
    )
    p.add_argument(
        "--lang", choices=list(LANGUAGES), default="en", help="show the questions in this language"
    )
    p.set_defaults(func=cmd_desk)

    p = sub.add_parser(
        "backup",
        help="copy the keyring, its sequence file, decisions, ledger and notes into a new folder",
        description="Writes OUT/keyring/, OUT/folder/ and OUT/manifest.json (every file's SHA-256). "
        "The keyring stays encrypted; decisions, notes and requests are plaintext: keep the backup on an "
        "encrypted stick.",
    )
    p.add_argument("requests", metavar="DIR", help="the folder decrypt wrote (with decisions.csv)")
    p.add_argument("--keyring", required=True, metavar="FILE", help="the secretariat keyring")
    p.add_argument("--out", required=True, metavar="OUT", help="a new (or empty) folder for the backup")
    p.add_argument(
        "--with-requests", action="store_true", help="also copy the decrypted requests and their files"
    )
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser(
        "restore",
        help="check a backup, then put it back onto a new keyring path and folder",
        description="Checks every file against the manifest first; writes nothing that already exists.",
    )
    p.add_argument("backup", metavar="BACKUP", help="a folder written by intake-offline backup")
    p.add_argument(
        "--keyring", required=True, metavar="FILE", help="where to put the keyring (and FILE.sequence)"
    )
    p.add_argument(
        "--out", required=True, metavar="DIR", help="the folder to put decisions, ledger, notes, requests in"
    )
    p.set_defaults(func=cmd_restore)

    keys = sub.add_parser("keys", help="rotate and list key generations").add_subparsers(
        dest="keys_command", required=True, metavar="ACTION"
    )
    p = with_passphrase(keys.add_parser("add", help="add a new key generation (rotation)"))
    p.add_argument("--keyring", required=True, metavar="FILE", help="the secretariat keyring")
    p.add_argument("--out", required=True, metavar="DIR", help="write the new public keys to DIR/keys/")
    p.set_defaults(func=cmd_keys_add)
    p = with_passphrase(keys.add_parser("list", help="list key generations and fingerprints"))
    p.add_argument("--keyring", required=True, metavar="FILE", help="the secretariat keyring")
    p.set_defaults(func=cmd_keys_list)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the tool; print errors as one line, never a traceback."""
    args = build_parser().parse_args(argv)
    command: Callable[[argparse.Namespace], int] = args.func  # one of the cmd_ functions
    try:
        return command(args)
    except (
        UsageError,
        KeyringError,
        BundleError,
        DecisionError,
        LedgerError,
        BackupError,
        FileExistsError,
    ) as e:
        print(f"intake-offline: {e}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as e:
        print(f"intake-offline: {e.filename or ''}: {e.strerror}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("\nintake-offline: interrupted", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
