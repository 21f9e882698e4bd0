"""One process at a time per project: an advisory lock on a file beside the database.

The operating system drops the lock when its holder dies (even by ``kill -9``), so a crash
never leaves a project locked. The file says who holds it, for the message another process
prints. Many cooperating workers (a PostgreSQL project, or a runner's workers under their
driver's lock) claim each paid question instead (``Store.claim``).
"""
from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..errors import ProjectLocked


class ProjectLock:
    def __init__(self, path: Path | None) -> None:
        self.path = path  # None: an in-memory database, which no other process can open
        self.depth = 0  # re-entrant within one process (a loop's rounds each annotate)
        self._fd: int | None = None
        self._mutex = threading.RLock()

    def holder(self) -> str:
        """Who holds the lock, as the file says (best effort: it may be mid-write)."""
        try:
            info = json.loads(self.path.read_text(encoding="utf-8") or "{}") if self.path else {}
        except (OSError, ValueError):
            return "another process"
        since = time.strftime("%H:%M:%S", time.localtime(info.get("since", 0)))
        return f"pid {info.get('pid')} on {info.get('host')} ({info.get('purpose')}, since {since})"

    def is_held_elsewhere(self) -> bool:
        """Whether another open file (another process: a runner's driver) holds the lock now."""
        if self.path is None or not self.path.exists():
            return False
        fd = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # closing drops a lock it got
        return False

    @contextmanager
    def held(self, purpose: str, wait: bool = False) -> Iterator[None]:
        with self._mutex:
            if self.depth == 0:
                self._acquire(purpose, wait)
            self.depth += 1
            try:
                yield
            finally:
                self.depth -= 1
                if self.depth == 0:
                    self._release()

    def _acquire(self, purpose: str, wait: bool) -> None:
        if self.path is None:
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not wait:
                    raise ProjectLocked(
                        f"{self.path.parent} is in use by {self.holder()}: two runs on one project would pay for "
                        "the same answers twice. Wait for it to finish, or rerun with --wait to queue") from None
                fcntl.flock(fd, fcntl.LOCK_EX)
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "purpose": purpose,
                                     "since": time.time()}).encode())
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def _release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
