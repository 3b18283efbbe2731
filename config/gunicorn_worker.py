"""The gunicorn worker of config/gunicorn.py: gunicorn's threaded worker (gthread) that answers `/health/` on threads
of its own and takes only the requests it has a thread for.

Why threaded workers: a sync worker serves one request at a time, so 16 desks waiting 2 s each on a held counter
queue behind 5 workers (503s after up to 10 s), a load balancer's health poll waits behind them (6-7 s measured), and
a request stuck longer than gunicorn's `timeout` gets the whole worker killed. A gthread worker serves
`GUNICORN_THREADS` requests at once, its heartbeat comes from its main loop (a slow request never gets it killed), and
each thread holds one pooled database connection.

Two changes to gthread:
- It accepts a request only while it has a free request thread (gthread accepts up to `worker_connections`, 1000,
  and queues the rest behind its own busy threads while another worker idles). A request no worker has a thread
  for waits in the kernel's queue, where the first worker to free a thread takes it.
- A health lane: `GET /health/...` requests (the main loop peeks at the first bytes without reading them) and every
  connection to `GUNICORN_HEALTH_BIND` go to `HEALTH_THREADS` threads of their own. The health address is accepted
  whatever the request threads do, so a load balancer polling it is answered even when every request thread of every
  worker is busy; the health view then bounds its own time (monitoring/health.py).
"""

import os
import selectors
import socket
import time
from concurrent import futures
from functools import partial

from gunicorn.workers.gthread import ThreadWorker

HEALTH_REQUEST = b"GET /health/"
HEALTH_THREADS = 2


def health_address() -> tuple[str, int] | None:
    """GUNICORN_HEALTH_BIND ("host:port") as (host, port), or None when unset."""
    bind = os.environ.get("GUNICORN_HEALTH_BIND", "")
    if not bind:
        return None
    host, _, port = bind.rpartition(":")
    return host or "0.0.0.0", int(port)


class HealthLaneWorker(ThreadWorker):
    """gthread that accepts only while a request thread is free, with a lane of its own for health checks."""

    def init_process(self):
        self.health_pool = futures.ThreadPoolExecutor(max_workers=HEALTH_THREADS, thread_name_prefix="health")
        self.busy = 0  # requests handed to the request threads and not finished
        self.listening: set = set()
        address = health_address()
        self.health_listeners = {
            listener for listener in self.sockets
            if address and listener.getsockname()[1] == address[1]
        }
        super().init_process()

    def set_accept_enabled(self, enabled):
        self._accepting = enabled
        self._listen()

    def _listen(self):
        """Register on the poller the listeners that may accept now: the health one while the worker accepts at
        all, the others while a request thread is free."""
        for listener in self.sockets:
            # Connections accepted whose request has not arrived yet will want a thread too.
            free = self.busy + len(self.pending_conns) < self.cfg.threads
            wanted = self._accepting and (listener in self.health_listeners or free)
            if wanted and listener not in self.listening:
                listener.setblocking(False)
                self.poller.register(listener, selectors.EVENT_READ, self.accept)
                self.listening.add(listener)
            elif not wanted and listener in self.listening:
                self.poller.unregister(listener)
                self.listening.discard(listener)

    def enqueue_req(self, conn):
        """Hand `conn` to the health threads when it came to the health address or its request starts with
        `GET /health/`, else to the request threads. A new connection whose request has not arrived yet waits on
        the poller (using no thread) until it has."""
        health = self._is_health(conn)
        if health:
            done = self.health_pool.submit(self.handle, conn)
            done.add_done_callback(lambda fut: self.method_queue.defer(self.finish_request, conn, fut))
        elif health is None:
            self._wait_for_request(conn)
        else:
            self.busy += 1
            self._listen()
            done = self.tpool.submit(self.handle, conn)
            done.add_done_callback(lambda fut: self.method_queue.defer(self._finish_busy, conn, fut))

    def _is_health(self, conn) -> bool | None:
        """Whether `conn` is for the health lane; None when its request has not arrived yet."""
        if any(conn.server == listener.getsockname() for listener in self.health_listeners):
            return True
        if getattr(conn.parser, "unreader", None) is not None and conn.parser.unreader.buf.getvalue():
            return False  # bytes already read ahead: the socket no longer shows them
        try:
            return conn.sock.recv(len(HEALTH_REQUEST), socket.MSG_PEEK | socket.MSG_DONTWAIT) == HEALTH_REQUEST
        except BlockingIOError:
            return False if conn.data_ready or not self.alive else None
        except OSError:
            return False

    def _wait_for_request(self, conn):
        conn.sock.setblocking(False)
        conn.timeout = time.monotonic() + self.cfg.keepalive
        self.pending_conns.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_pending_socket_readable, conn))
        self._listen()

    def on_pending_socket_readable(self, conn, client):
        super().on_pending_socket_readable(conn, client)
        self._listen()

    def murder_pending(self):
        super().murder_pending()
        self._listen()

    def _finish_busy(self, conn, fut):
        self.busy -= 1
        self._listen()
        self.finish_request(conn, fut)

    def handle_quit(self, sig, frame):
        self.health_pool.shutdown(wait=False)
        super().handle_quit(sig, frame)
