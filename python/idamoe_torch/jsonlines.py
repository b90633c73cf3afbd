"""Reading the JSON-lines files other programs append to, as `import` needs them: complete lines only
(a torn last line waits for its newline when following, and is an error otherwise), each parsed line a
JSON object, every problem one line naming the file and the line number."""
from __future__ import annotations

import json
import os
import stat
import warnings
from typing import Any, Dict, Iterator, Optional, Tuple

import numpy as np

from .layers import ContractError

#: The longest line read (a Megatron record of 16k tokens x top-8 is about 700 KB).
MAX_LINE_BYTES = 256 << 20
#: Bytes read per system call.
CHUNK = 1 << 20


def open_regular(path: str) -> int:
    """A blocking read-only descriptor of `path`, which must be a regular file (a FIFO or device is
    refused without blocking on it); one-line ContractErrors naming the file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ContractError(f"{path}: no such file") from None
    except OSError as e:
        raise ContractError(f"{path}: cannot be opened ({e.strerror})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ContractError(f"{path}: is not a regular file")
    os.set_blocking(fd, True)
    return fd


class JsonLines:
    """A JSON-lines file read in complete lines as it grows. `lines()` yields (line number, object) for
    every complete line not yet read; `torn` says whether a partial last line is waiting."""

    def __init__(self, path: str, tables: Tuple[str, ...] = ()) -> None:
        self.path = path
        #: Keys whose value is a list of equal-length integer lists, read straight into an int64 array
        #: [rows, columns] (a fast path; anything it does not recognise is parsed by json as usual).
        self.tables = tuple((key, f'"{key}"'.encode()) for key in tables)
        fd = open_regular(path)
        self._file = os.fdopen(fd, "rb", buffering=0)
        self._buffer = b""
        self._pos = 0
        self.line = 0
        self.offset = 0  # bytes consumed as complete lines

    def close(self) -> None:
        self._file.close()

    @property
    def torn(self) -> bool:
        return len(self._buffer) > self._pos

    def size(self) -> int:
        return os.fstat(self._file.fileno()).st_size

    def next_line(self) -> Optional[Tuple[int, Dict[str, Any]]]:
        """The next complete non-blank line parsed, or None when none is complete yet (a torn tail
        waits in the buffer). Stopping between calls loses nothing."""
        while True:
            end = self._buffer.find(b"\n", self._pos)
            if end >= 0:
                raw = self._buffer[self._pos:end]
                self._pos = end + 1
                self.line += 1
                self.offset += len(raw) + 1
                if raw.strip():
                    return self.line, self._parse(raw)
                continue
            rest = self._buffer[self._pos:]
            if len(rest) > MAX_LINE_BYTES:
                raise ContractError(f"{self.path}:{self.line + 1}: a line longer than {MAX_LINE_BYTES >> 20} MiB")
            chunk = self._file.read(CHUNK)
            self._buffer, self._pos = rest + (chunk or b""), 0
            if not chunk:
                return None

    def lines(self) -> Iterator[Tuple[int, Dict[str, Any]]]:
        """Every complete line appended since the last call, parsed; blank lines are skipped."""
        while True:
            item = self.next_line()
            if item is None:
                return
            yield item

    def _parse(self, raw: bytes) -> Dict[str, Any]:
        arrays: Dict[str, np.ndarray] = {}
        for key, quoted in self.tables:
            found = _table_span(raw, quoted)
            if found is None:
                continue
            begin, end = found
            table = int_table(raw[begin:end])
            if table is None:
                arrays.clear()
                break
            arrays[key] = table
            raw = raw[:begin] + b"null" + raw[end:]
        if arrays:
            try:
                obj = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                obj = None
            if isinstance(obj, dict) and all(k in obj and obj[k] is None for k in arrays):
                obj.update(arrays)
                return obj
            raise ContractError(f"{self.path}:{self.line}: not a JSON line; the file is truncated or not of this kind")
        try:
            obj = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            raise ContractError(f"{self.path}:{self.line}: not a JSON line ({str(e).splitlines()[0][:80]}); "
                                "the file is truncated or not of this kind") from None
        if not isinstance(obj, dict):
            raise ContractError(f"{self.path}:{self.line}: a JSON {type(obj).__name__}, expected an object")
        return obj

    def finish(self) -> None:
        """At the end of a one-shot read: a torn last line is an error."""
        if self._buffer[self._pos:].strip():
            raise ContractError(f"{self.path}:{self.line + 1}: the last line is cut off (no newline): the file is "
                                "truncated, or its producer is still writing it (import --follow waits for it)")


def field(path: str, line: int, obj: Dict[str, Any], key: str, kind: type, *, optional: bool = False) -> Any:
    """obj[key] checked to be of `kind` (int excludes bool); a one-line error naming file:line otherwise."""
    if key not in obj:
        if optional:
            return None
        raise ContractError(f"{path}:{line}: no field {key!r}: not a record of this kind (or another version's)")
    value = obj[key]
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        ok = True
    if not ok:
        raise ContractError(f"{path}:{line}: field {key!r} is {type(value).__name__}, expected {kind.__name__}")
    return value


def optional_int(path: str, line: int, obj: Dict[str, Any], key: str) -> Optional[int]:
    return field(path, line, obj, key, int, optional=True)


_INT_TABLE_BYTES = np.zeros(256, dtype=bool)
_INT_TABLE_BYTES[np.frombuffer(b"0123456789-,[] ", dtype=np.uint8)] = True


def _table_span(raw: bytes, quoted: bytes) -> Optional[Tuple[int, int]]:
    """(begin, end) of the value of key `quoted` when it looks like a list of integer lists."""
    at = raw.find(quoted + b":")
    if at < 0:
        return None
    begin = raw.find(b"[", at + len(quoted) + 1)
    if begin < 0 or raw[at + len(quoted) + 1:begin].strip():
        return None
    if raw.startswith(b"[]", begin):
        return begin, begin + 2
    end = raw.find(b"]]", begin)
    return None if end < 0 else (begin, end + 2)


def int_table(text: bytes) -> Optional[np.ndarray]:
    """`[[a, b], [c, d]]` (integers, every row as long) as an int64 array [rows, columns], parsed by numpy
    at memory speed; None when the text is anything else (the caller then lets json read it, and
    report what is wrong)."""
    if not _INT_TABLE_BYTES[np.frombuffer(text, dtype=np.uint8)].all():
        return None
    compact = text.replace(b" ", b"")
    if compact == b"[]":
        return np.zeros((0, 0), dtype=np.int64)
    if not (compact.startswith(b"[[") and compact.endswith(b"]]")):
        return None
    inner = compact[2:-2]
    if not inner or b"[[" in inner or b"]]" in inner:
        return None
    b = np.frombuffer(inner, dtype=np.uint8)
    closes = np.flatnonzero(b == ord("]"))
    opens = np.flatnonzero(b == ord("["))
    # Rows are separated by "],[" exactly: every ']' followed by ",[" and every '[' preceded by "],".
    if len(closes) != len(opens) or not np.array_equal(opens, closes + 2) or (len(closes) and (
            closes[-1] + 2 >= len(b) or not (b[closes + 1] == ord(",")).all())):
        return None
    commas = np.flatnonzero(b == ord(","))
    ends = np.concatenate((np.searchsorted(commas, closes), [len(commas)]))  # commas before each row's end
    inside = np.concatenate((ends[:1], np.diff(ends) - 1))  # each row's own commas (not the separators)
    columns = int(inside[0]) + 1
    if not (inside == columns - 1).all():
        return None
    flat = inner.replace(b"],[", b",")
    fb = np.frombuffer(flat, dtype=np.uint8)
    separators = np.flatnonzero(fb == ord(","))
    widths = np.diff(np.concatenate(([-1], separators, [len(flat)]))) - 1
    if widths.min() < 1 or widths.max() > 18:  # an empty field, or a number int64 may not hold
        return None
    minus = np.flatnonzero(fb == ord("-"))
    if len(minus):  # a sign only first in its field, and before a digit
        starts = np.zeros(len(fb), dtype=bool)
        starts[0] = True
        starts[separators + 1] = True
        if not starts[minus].all() or (minus + 1 >= len(fb)).any() or not (
                (fb[minus + 1] >= ord("0")) & (fb[minus + 1] <= ord("9"))).all():
            return None
    rows = len(closes) + 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            values = np.fromstring(flat, dtype=np.int64, sep=",")
        except (ValueError, DeprecationWarning):
            return None
    if values.size != rows * columns:
        return None
    return values.reshape(rows, columns)
