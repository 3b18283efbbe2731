"""Board notifications: after a visit changes, tell whoever listens, off the request thread.

Boards do not need this: they poll with an ETag (see `selectors.board_version`). The hook is for pushing changes
elsewhere (a hospital display system, a pager). Settings:

    QUEUE_BOARD_NOTIFIERS = ["myapp.push.board_changed"]   # dotted paths of callables(queue_ids: list[int])

Seed 003's call-next blocked on WebSocket broadcasts. Here services only call `board_changed` from
`transaction.on_commit`, which puts the queue ids on an in-memory queue and returns at once; one daemon thread runs
the notifiers. A slow or failing notifier delays only later notifications, never an API call; when the backlog
is full, notifications are dropped (and logged): boards catch up on their next poll anyway.
"""

import logging
import queue
import threading

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger("tokenline.queues")

BACKLOG = 1000  # pending notifications kept before new ones are dropped

_pending: queue.Queue = queue.Queue(maxsize=BACKLOG)
_worker: threading.Thread | None = None
_worker_lock = threading.Lock()
_dropping = False  # logged once per stretch of drops, not once per dropped notification


def board_changed(queue_ids: list[int]) -> None:
    """Hand the changed queues to the notifiers (`QUEUE_BOARD_NOTIFIERS`) and return immediately.

    Args:
        queue_ids: primary keys of the queues whose line or called tokens changed.
    Call it from `transaction.on_commit` so nothing is announced that did not happen. Never raises, never blocks.
    """
    notifiers = getattr(settings, "QUEUE_BOARD_NOTIFIERS", [])
    if not notifiers:
        return
    global _dropping
    _ensure_worker()
    try:
        _pending.put_nowait((tuple(notifiers), list(queue_ids)))
        _dropping = False
    except queue.Full:
        if not _dropping:
            logger.warning("Board notifiers are %s changes behind; dropping changes until they catch up", BACKLOG)
        _dropping = True


def _ensure_worker() -> None:
    global _worker
    with _worker_lock:
        if _worker is None or not _worker.is_alive():
            _worker = threading.Thread(target=_run, name="board-notifier", daemon=True)
            _worker.start()


def _run() -> None:
    while True:
        paths, queue_ids = _pending.get()
        for path in paths:
            try:
                import_string(path)(queue_ids)
            except Exception:  # a broken notifier must not stop the others or later notifications
                logger.exception("Board notifier %s failed for queues %s", path, queue_ids)
