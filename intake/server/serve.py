"""`intake serve`: the production server, gunicorn with the shipped settings and no other file.

The operator, `make run` and the systemd unit all start the service this way, so what the
tests run is what is deployed. Logs keep no address, no query string and no time of day.
"""

import contextlib
import logging
import os
import re
import sys
import time
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from intake.formats import keyfiles
from intake.formats.durable import stamp
from intake.server import backup, datafolder, settings
from intake.server.privileges import become_owner

_QUOTED = re.compile(r"[:'\"]")


class PrivateLogger(Logger):
    """gunicorn's logger without client addresses, query strings or times of day."""

    datefmt = "[%Y-%m-%d]"  # the error log's timestamps, day-granular like the access log's

    def setup(self, cfg):
        """Also route the application's own "intake" log into the error log."""
        super().setup(cfg)
        app_log = logging.getLogger("intake")
        app_log.handlers = self.error_log.handlers
        app_log.setLevel(logging.INFO)
        app_log.propagate = False

    def now(self):
        """Day-granular timestamps: enough to operate, too coarse to match a visit to a request."""
        return time.strftime("[%Y-%m-%d]", time.gmtime())

    def warning(self, msg, *args, **kwargs):
        """gunicorn reports malformed requests "from ip=ADDRESS: <what was sent>"; keep only the kind."""
        text = str(msg)
        if text.startswith("Invalid request from ip="):
            error = text.split(": ", 1)[1] if ": " in text else ""
            text = "Invalid request from ip=-: " + _QUOTED.split(error, maxsplit=1)[0].strip()
        super().warning(text, *args, **kwargs)

    def exception(self, msg, *args, **kwargs):
        """gunicorn adds the request URI, query string included; keep only the event."""
        super().exception(str(msg).split(" %s")[0], **kwargs)


def _log_files(cfg: settings.Config) -> list[str]:
    return [path for path in (cfg.access_log, cfg.error_log) if path not in ("-", "off")]


def day_stamp_logs(paths: list[str]) -> tuple[Callable[..., None], Callable[..., None]]:
    """gunicorn hooks (after each request, and as the master exits): a log file's times keep the day
    only, like its lines. gunicorn checks each hook's number of arguments."""

    def stamp_logs() -> None:
        with contextlib.suppress(OSError):
            stamp(*paths)

    def post_request(worker: Any, req: Any, environ: Any, resp: Any) -> None:
        stamp_logs()

    def on_exit(server: Any) -> None:
        stamp_logs()

    return post_request, on_exit


def worker_ready(worker: Any) -> None:
    """A post_worker_init hook: each worker moves the shared rate counters on, requests or not,
    and renders its pages before it takes its first request."""
    services = getattr(worker.wsgi, "extensions", {}).get("intake")
    if services is not None:
        services.start_ticking()
        try:
            services.warm_up(worker.wsgi)
        except Exception as e:  # offline, say: a worker that fails here would stop the whole service
            worker.log.warning(
                "pages not rendered ahead (%s): each is rendered when first needed", type(e).__name__
            )


def gunicorn_settings(cfg: settings.Config) -> dict:
    """gunicorn's settings for the service (docs/decisions.md, "Serving through Tor")."""
    return {
        "bind": [cfg.bind],
        "workers": cfg.workers,
        "worker_class": "intake.server.worker.PacedWorker",
        "threads": cfg.threads,
        "worker_connections": 1000,  # connections reading their head cost no thread, only memory
        "keepalive": 5,  # Tor Browser reuses a stream for the page's style and scripts
        "timeout": 60,  # a worker whose event loop stops answering is replaced
        "graceful_timeout": 30,
        "max_requests": 10_000,  # recycle workers now and then; jitter keeps them from restarting together
        "max_requests_jitter": 1_000,
        "backlog": 64,  # a short queue: under a flood, refuse early rather than hold connections for minutes
        "limit_request_line": 4094,
        "limit_request_fields": 60,
        "limit_request_field_size": 8190,
        "accesslog": None if cfg.access_log == "off" else cfg.access_log,
        "errorlog": cfg.error_log,
        # The method, the path without its query, the status and the size: no address, no user
        # agent, no referrer. Everything arrives from the local tor daemon anyway.
        "access_log_format": '%(t)s "%(m)s %(U)s" %(s)s %(B)s',
        "logger_class": "intake.server.serve.PrivateLogger",
        "post_request": day_stamp_logs(_log_files(cfg))[0],
        "on_exit": day_stamp_logs(_log_files(cfg))[1],
        "post_worker_init": worker_ready,
        "proc_name": "intake",
        # gunicorn 25+ opens a control socket in $HOME by default; the service needs none, and
        # several instances (tests, staging) would fight over the same path.
        "control_socket_disable": True,
    }


class Service(BaseApplication):
    """gunicorn, configured here rather than from a file, serving create_app()."""

    def __init__(self, cfg: settings.Config):
        self.intake_config = cfg
        super().__init__()

    def load_config(self):
        """Apply gunicorn_settings(); nothing is read from the command line or a gunicorn file."""
        for name, value in gunicorn_settings(self.intake_config).items():
            self.cfg.set(name, value)

    def load(self):
        """Build the app in each worker (create_app reads the same settings again)."""
        from intake import create_app

        return create_app()


def serve(cfg: settings.Config) -> int:
    """Run the service until stopped; as root, first become the data folder's owner for good."""
    os.umask(0o077)  # whatever the service writes is its own alone
    if cfg.data_dir.exists():
        become_owner(cfg.data_dir)
    datafolder.initialise(cfg).db.close()
    if not cfg.database_url:
        backup.hold(cfg.data_dir)  # for as long as the service runs: no restore under it
    try:
        key = keyfiles.read_submission_key(cfg.keys_dir)
    except keyfiles.KeyFileError as e:
        print(f"intake: {e}: the site shows its offline page until a usable key is in place", file=sys.stderr)
    else:
        if keyfiles.is_demo(cfg.keys_dir, key):
            print(keyfiles.DEMO_BANNER + "\n", file=sys.stderr)
    Service(cfg).run()
    return 0
