"""gunicorn settings for intake: no addresses, no query strings, no time of day in any log.

Run: INTAKE_DATA_DIR=... gunicorn -c deploy/gunicorn.conf.py wsgi:app  (docs/operator.md)
"""

import os
import re
import time

from gunicorn.glogging import Logger

bind = os.environ.get("INTAKE_BIND", "127.0.0.1:8080")
# Sync workers bound the work done at once to their number; the app divides its global rate
# limits by the same INTAKE_WORKERS. Two per core: a submission spends most of its time in fsync.
workers = int(os.environ.get("INTAKE_WORKERS", "2"))
worker_class = "sync"
timeout = 120  # Tor is slow, and a 50 MB upload over it takes a while
graceful_timeout = 30
max_requests = 10_000  # recycle workers now and then; jitter keeps them from restarting together
max_requests_jitter = 1_000
backlog = 64  # a short queue: under a flood, refuse early rather than hold connections for minutes
limit_request_line = 4094
limit_request_fields = 60
limit_request_field_size = 8190
accesslog = os.environ.get("INTAKE_ACCESS_LOG", "-")
errorlog = os.environ.get("INTAKE_ERROR_LOG", "-")
# The method, the path without its query, the status and the size: no address, no user agent,
# no referrer. Everything arrives from the local tor daemon anyway.
access_log_format = '%(t)s "%(m)s %(U)s" %(s)s %(B)s'
proc_name = "intake"
# gunicorn 25+ opens a control socket in $HOME by default; the service does not need one, and
# several instances (tests, staging) would fight over the same path.
control_socket_disable = True


class PrivateLogger(Logger):
    """gunicorn's logger without client addresses, query strings or times of day."""

    datefmt = "[%Y-%m-%d]"  # the error log's timestamps, day-granular like the access log's

    def now(self):
        """Day-granular timestamps: enough to operate, too coarse to match a visit to a request."""
        return time.strftime("[%Y-%m-%d]", time.gmtime())

    def warning(self, msg, *args, **kwargs):
        """gunicorn reports malformed requests "from ip=ADDRESS: ..."; drop the address."""
        super().warning(re.sub(r"ip=.*?: ", "ip=-: ", str(msg)), *args, **kwargs)

    def exception(self, msg, *args, **kwargs):
        """gunicorn adds the request URI, query string included; keep only the event."""
        super().exception(str(msg).split(" %s")[0], **kwargs)


logger_class = PrivateLogger
