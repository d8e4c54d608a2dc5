"""The service's gunicorn worker: threads do the work, and no thread ever waits on a slow stream.

tor hands every stream straight to the server, and a sync worker waits for a whole request
line by line: two connections trickling header lines held the whole site. Here (a subclass of
gunicorn's threaded worker; docs/decisions.md says why):

- the request head, and a small body, are read by the worker's event loop, without a thread,
  under a deadline (HEAD_SECONDS, then MIN_RATE bytes a second); a thread is given a request
  only once those bytes are in memory. Nothing is ever buffered to disk;
- a large body (files, or chunked) streams in a thread of its own, smaller pool, so uploads
  can never take the threads that serve pages and text requests; it must keep arriving at
  MIN_RATE bytes a second on average (after HEAD_SECONDS of grace), or it is cut off;
- every read and write of a thread has a deadline (IO_SECONDS).
"""

import contextlib
import errno
import re
import selectors
import socket
import time
from concurrent import futures
from functools import partial

from gunicorn.workers.gthread import TConn, ThreadWorker

HEAD_SECONDS = 20.0  # to send the request head; the same grace for a body, before MIN_RATE counts
MIN_RATE = 1000  # bytes a second, on average: a slow phone on Tor sends far more
IO_SECONDS = 30.0  # the longest a single read or a whole response write may take
MAX_HEAD = 64 * 1024  # gunicorn's own limits on the request line and headers are smaller
SMALL_BODY = 256 * 1024  # bodies up to this are read before a thread is given (pages, text requests)

_LENGTH = re.compile(rb"\r\ncontent-length[ \t]*:[ \t]*([0-9]{1,12})[ \t]*(?=\r\n)", re.IGNORECASE)
_CHUNKED = re.compile(rb"\r\ntransfer-encoding[ \t]*:", re.IGNORECASE)
_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
_TOO_LARGE = b"HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


class PacedSocket:
    """A thread's view of a client socket: reads must keep up MIN_RATE, every wait is bounded."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.start = time.monotonic()
        self.received = 0

    def recv(self, size: int) -> bytes:
        """Read, or raise TimeoutError when the client falls behind MIN_RATE or stops sending."""
        left = self.start + HEAD_SECONDS + self.received / MIN_RATE - time.monotonic()
        if left <= 0:
            raise TimeoutError("the client sends too slowly")
        self.sock.settimeout(min(left, IO_SECONDS))
        try:
            data = self.sock.recv(size)
        finally:
            self.sock.settimeout(IO_SECONDS)  # for the response that follows
        self.received += len(data)
        return data

    def __getattr__(self, name):
        return getattr(self.sock, name)


class PacedConn(TConn):
    """A connection whose next request head (and small body) the event loop reads first."""

    def __init__(self, cfg, sock, client, server):
        super().__init__(cfg, sock, client, server)
        self.buffer = bytearray()
        self.deadline = 0.0
        self.wanted = 0  # bytes of head and body to read before a thread takes over; 0: head unknown
        self.large = False

    def start_reading(self) -> None:
        """Expect a new request: its head within HEAD_SECONDS."""
        self.buffer.clear()
        self.wanted, self.large = 0, False
        self.deadline = time.monotonic() + HEAD_SECONDS

    def take(self, data: bytes) -> bool:
        """Add bytes read by the event loop; True once a thread may take the request."""
        seen = max(0, len(self.buffer) - 3)
        self.buffer += data
        if not self.wanted:
            end = self.buffer.find(b"\r\n\r\n", seen)
            if end < 0:
                if len(self.buffer) > MAX_HEAD:
                    raise OverflowError("request head too large")
                return False
            head = bytes(self.buffer[: end + 2])
            length = _LENGTH.findall(head)
            body = int(length[0]) if len(length) == 1 else 0
            self.large = bool(_CHUNKED.search(head)) or body > SMALL_BODY
            self.wanted = end + 4 + (0 if self.large else body)
            # A small body has its own deadline, as a thread's read would: grace, then MIN_RATE.
            self.deadline = time.monotonic() + HEAD_SECONDS + body / MIN_RATE
        return len(self.buffer) >= self.wanted

    def init(self):
        """In the thread: hand the bytes read so far to gunicorn's parser, and pace what follows."""
        super().init()
        if self.buffer:
            self.parser.unreader.unread(bytes(self.buffer))
            self.buffer.clear()
        self.sock.settimeout(IO_SECONDS)
        self.parser.unreader.sock = PacedSocket(self.sock)


class PacedWorker(ThreadWorker):
    """gunicorn's threaded worker, reading request heads in its event loop (module docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reading: set[PacedConn] = set()
        self.upload_pool: futures.ThreadPoolExecutor  # made in init_process, in the worker's own process

    def init_process(self):
        """Two pools: uploads never take the threads that serve pages and text requests."""
        self.upload_pool = futures.ThreadPoolExecutor(max_workers=max(2, self.cfg.threads // 2))
        super().init_process()

    def accept(self, listener):
        """Take a new connection and read its request head without a thread."""
        try:
            client, address = listener.accept()
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        self._read(PacedConn(self.cfg, client, address, listener.getsockname()))

    def on_client_socket_readable(self, conn, client):
        """A kept-alive connection sends its next request: read its head the same way."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._read(conn)

    def _read(self, conn: PacedConn) -> None:
        conn.sock.setblocking(False)
        conn.start_reading()
        self.reading.add(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_readable, conn))

    def on_readable(self, conn: PacedConn, sock) -> None:
        """Read what has arrived; give the request to a thread once its head (and small body) is in."""
        try:
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        try:
            ready = bool(data) and conn.take(data)
        except OverflowError:
            self._drop(conn, _TOO_LARGE)
            return
        if not data:
            self._drop(conn)
        elif ready:
            self.poller.unregister(conn.sock)
            self.reading.discard(conn)
            conn.data_ready = True
            self.enqueue_req(conn)

    def _drop(self, conn: PacedConn, answer: bytes = b"") -> None:
        self.reading.discard(conn)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)
        if answer:
            with contextlib.suppress(OSError):
                conn.sock.send(answer)
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self):
        """Also cut off connections that did not send their request in time (every loop turn)."""
        super().murder_pending()
        now = time.monotonic()
        for conn in [c for c in self.reading if c.deadline <= now]:
            self._drop(conn, _TIMEOUT)

    def enqueue_req(self, conn):
        """Requests with a large body go to the upload pool; everything else to the main one."""
        pool = self.upload_pool if getattr(conn, "large", False) else self.tpool
        fs = pool.submit(self.handle, conn)
        fs.add_done_callback(lambda fut: self.method_queue.defer(self.finish_request, conn, fut))

    def handle_quit(self, sig, frame):
        """Immediate shutdown: stop the upload pool too."""
        self.upload_pool.shutdown(wait=False, cancel_futures=True)
        super().handle_quit(sig, frame)
