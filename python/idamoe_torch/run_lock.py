"""Who may write a run directory (docs/format.md, "Run directories"), as `idamoe train` decides it.

A new run goes only into a path that does not exist yet or is an empty directory, never through a
symbolic link. Its one writer holds flock(LOCK_EX) on a descriptor of the directory itself for its
whole life: the kernel releases it when the process exits or dies, and no file in the run stands for
it (deleting files cannot let a second writer in). Readers ask with flock(LOCK_SH | LOCK_NB) on their
own descriptor, released at once.
"""
from __future__ import annotations

import errno
import fcntl
import os
import stat
import time
from typing import List, Union

from .layers import ContractError

#: How long a writer waits for a transient holder (a reader's liveness probe, a forked child between
#: fork and exec) before it refuses, and how often it asks again.
LOCK_WAIT_SECONDS = 2.0
LOCK_RETRY_SECONDS = 0.01

PathText = Union[str, "os.PathLike[str]"]


def _path(run_dir: PathText) -> str:
    """`run_dir` as text without trailing separators (so lstat sees a symbolic link as one); an empty
    path is refused."""
    text = os.fspath(run_dir)
    if not isinstance(text, str) or text == "":
        raise ContractError("a run directory needs a path (got an empty string)")
    return text.rstrip(os.sep) or os.sep


def _open_directory(path: str) -> int:
    """A read-only descriptor of directory `path` itself (O_NOFOLLOW: a symbolic link is refused)."""
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise ContractError(f"{path}: is a symbolic link; a run directory must be a real directory") from None
        if e.errno == errno.ENOTDIR:
            raise ContractError(f"{path}: exists and is not a directory") from None
        raise ContractError(f"{path}: cannot be opened ({e.strerror})") from None


def _refuse_contents(path: str, entries: List[str]) -> None:
    """One line when a directory about to receive a new run holds anything."""
    if "run.json" in entries:
        raise ContractError(f"{path}: already holds a run (run.json); pick another directory")
    if entries:
        raise ContractError(f"{path}: exists and is not empty ({len(entries)} "
                            f"{'entry' if len(entries) == 1 else 'entries'}); a new run needs a new or empty directory")


def check_new_run_directory(run_dir: PathText) -> None:
    """Refuses (one-line ContractError naming the path) what cannot receive a new run: an empty path, a
    symbolic link, a file, a directory that is not empty. Creates nothing; a path that does not exist
    passes."""
    path = _path(run_dir)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as e:
        raise ContractError(f"{path}: cannot be examined ({e.strerror})") from None
    if stat.S_ISLNK(st.st_mode):
        raise ContractError(f"{path}: is a symbolic link; a run directory must be a real directory")
    if not stat.S_ISDIR(st.st_mode):
        raise ContractError(f"{path}: exists and is not a directory")
    try:
        entries = sorted(os.listdir(path))
    except OSError as e:
        raise ContractError(f"{path}: cannot be listed ({e.strerror})") from None
    _refuse_contents(path, entries)


def claim_new_run_directory(run_dir: PathText, *, wait_seconds: float = LOCK_WAIT_SECONDS) -> int:
    """Creates run directory `run_dir` (missing parents too) or takes an existing empty one, and returns
    its descriptor holding the writer lock; close it to release. Refuses, having written nothing into
    `run_dir`, whatever `check_new_run_directory` refuses, and a directory another creator filled or
    locked first (the final directory is made with mkdir and checked again under the lock)."""
    path = _path(run_dir)
    check_new_run_directory(path)
    parent = os.path.dirname(path)
    try:
        if parent:
            os.makedirs(parent, exist_ok=True)
        os.mkdir(path)
    except FileExistsError:
        check_new_run_directory(path)  # another creator made it first: it must still be empty
    except OSError as e:
        raise ContractError(f"{path}: cannot be created ({e.strerror})") from None
    fd = acquire_writer_lock(path, wait_seconds=wait_seconds)
    try:
        try:
            entries = sorted(os.listdir(fd))
            same = os.path.samestat(os.fstat(fd), os.lstat(path))
        except OSError as e:
            raise ContractError(f"{path}: cannot be examined ({e.strerror})") from None
        if not same:
            raise ContractError(f"{path}: was replaced while it was being opened")
        _refuse_contents(path, entries)
    except BaseException:
        os.close(fd)
        raise
    return fd


def acquire_writer_lock(run_dir: PathText, *, wait_seconds: float = LOCK_WAIT_SECONDS) -> int:
    """A descriptor of directory `run_dir` holding flock(LOCK_EX), which lasts until it is closed or the
    process ends. A held lock is asked for again every 10 ms for up to `wait_seconds` (transient
    holders), then refused with one line."""
    path = _path(run_dir)
    fd = _open_directory(path)
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise ContractError(f"{path}: another writer holds this run (idamoe train or RunWriter); "
                                    "stop it first") from None
            time.sleep(LOCK_RETRY_SECONDS)
        except OSError as e:
            os.close(fd)
            raise ContractError(f"{path}: cannot be locked ({e.strerror})") from None


def writer_is_live(run_dir: PathText) -> bool:
    """Whether a writer holds run directory `run_dir` now: flock(LOCK_SH | LOCK_NB) on a descriptor of
    our own, released at once (EWOULDBLOCK: a writer is live)."""
    fd = _open_directory(_path(run_dir))
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError as e:
        raise ContractError(f"{_path(run_dir)}: cannot be asked for its lock ({e.strerror})") from None
    finally:
        os.close(fd)  # closing releases the shared lock too
    return False
