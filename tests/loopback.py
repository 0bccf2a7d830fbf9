"""A threaded TCP server on 127.0.0.1: the listener, accept loop and bounded shutdown.

Test servers (the fault proxy, the forward proxy, the TLS front) subclass
:class:`LoopbackServer` and implement :meth:`LoopbackServer._serve`, which runs in a
thread per connection.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from types import TracebackType
from typing import Self


class LoopbackServer:
    """Accepts connections on a free loopback port until :meth:`stop`."""

    #: Prefix of the accept and connection threads' names.
    thread_name = "loopback"
    #: The address listened on (a loopback one).
    listen_host = "127.0.0.1"
    #: Pending connections the listener queues.
    backlog = 64

    def __init__(self) -> None:
        self.port = 0
        self.connections_accepted = 0
        self._listener: socket.socket | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: set[threading.Thread] = set()
        self._sockets: set[socket.socket] = set()
        self._acceptor: threading.Thread | None = None

    def start(self) -> Self:
        if self._listener is not None:
            raise RuntimeError(f"{type(self).__name__} already started")
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.listen_host, 0))
        listener.listen(self.backlog)
        listener.settimeout(0.1)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._acceptor = threading.Thread(
            target=self._accept_loop, name=f"{self.thread_name}-{self.port}", daemon=True
        )
        self._acceptor.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, abort open connections and join threads, within ``timeout``."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        if self._acceptor is not None:
            self._acceptor.join(max(0.0, deadline - time.monotonic()))
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.close()
        with self._lock:
            socks = list(self._sockets)
            threads = list(self._threads)
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def _untrack(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():  # polls the stop flag every 0.1 s
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections_accepted += 1
            thread = threading.Thread(
                target=self._serve,
                args=(client,),
                name=f"{self.thread_name}-conn-{self.port}-{self.connections_accepted}",
                daemon=True,
            )
            with self._lock:
                self._threads.add(thread)
            thread.start()

    def _serve(self, client: socket.socket) -> None:
        """Handle one accepted connection (in its own thread)."""
        raise NotImplementedError
