"""Locks between processes on one machine: a shared or exclusive lock on a file, and claims on work.

Both are `flock` locks (POSIX), so the kernel releases them when their process dies, even by kill -9:
a crashed run never leaves a lock that blocks the next one.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def file_lock(path: Path, shared: bool = False) -> Iterator[None]:
    """Hold a lock on the file `path` (created if missing) for the body: shared (readers) or exclusive.

    The lock file is kept, so it may be locked again at any time; a process must not take an
    exclusive lock on a file it already holds (flock would wait for itself).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:  # a folder this user may only read (a shared, read-only cache)
        if not shared or exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:  # no lock file and no right to create one: no process of this user writes here
            yield
            return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


class Claim:
    """One process's exclusive claim on a unit of work, named by a file; others skip it or wait for it.

    The claim file is removed on release, so finished work leaves no files behind; a claim whose
    process died is free again (its file may stay until the next claim on it is released).
    """

    def __init__(self, path: Path, fd: int):
        self.path, self._fd = path, fd

    @classmethod
    def take(cls, path: Path, wait: bool = False) -> Claim | None:
        """Return the claim on `path`, or None if another process holds it (with `wait`, block until it is free)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                os.close(fd)
                return None
            # The holder removes the file when it releases; a lock taken on that removed file is no
            # claim (a third process may have created and claimed a new one), so try again.
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return cls(path, fd)
            os.close(fd)

    @classmethod
    def wait_free(cls, path: Path) -> None:
        """Block until no process holds the claim on `path` (without keeping it)."""
        claim = cls.take(path, wait=True)
        if claim is not None:
            claim.release()

    def release(self) -> None:
        """Give the claim up and remove its file."""
        if self._fd is None:
            return
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        os.close(self._fd)
        self._fd = None
