"""Every file the toolkit reads or writes goes through here.

Reading is strict: :func:`read_records` reads JSON Lines or parquet and checks each record
against a list of :class:`Field` rules; anything wrong (a missing file, bytes that are not
UTF-8, a line that is not a JSON object, a missing or mistyped field) is one
:class:`~cort.errors.InputError` naming the file, the line (``row N`` for parquet) and the field.

Writing never leaves a half-written file: :func:`write_text_atomic` and friends write a
temporary file beside the target, fsync it and rename it; :class:`JsonlAppender` appends one
complete line per ``write`` (flushed and fsynced), so a killed run leaves at most one torn
last line, which :func:`read_jsonl_tolerant` skips and the next appender trims.
"""

from __future__ import annotations

import glob
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cort.errors import InputError, UsageError

__all__ = ["Field", "InputError", "JsonlAppender", "check_output_dir", "check_output_file", "check_per_generation",
           "read_json",
           "read_jsonl", "read_jsonl_tolerant", "read_parquet", "read_records", "result_files", "write_json_atomic",
           "write_jsonl_atomic", "write_text_atomic"]

RESULT_GLOB = "dp_rank*.jsonl"  # one file per data-parallel rank in an inference output folder
RUN_INFO_FILE = "run_info.json"  # beside them: the model and settings of the run
Record = tuple[int, dict]  # (line number, or 1-based row number for parquet; the object)


@dataclass(frozen=True)
class Field:
    """A rule for one field: its accepted types, whether it must be there and be non-empty.

    ``items`` checks the elements of a list field (e.g. ``gen`` must be a list of strings).
    """

    name: str
    types: tuple[type, ...] = (str,)
    required: bool = True
    nonempty: bool = True
    items: type | None = None

    def check(self, row: dict, path: str, line: int, row_word: str = "") -> None:
        """Raise :class:`InputError` when ``row`` breaks this rule."""
        if self.name not in row or row[self.name] is None:
            if self.required:
                raise InputError(path, "missing", line, self.name, row_word)
            return
        value = row[self.name]
        if not isinstance(value, self.types) or isinstance(value, bool) and bool not in self.types:
            names = " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in self.types)
            raise InputError(path, f"must be {names}, got {_TYPE_NAMES.get(type(value), type(value).__name__)}",
                             line, self.name, row_word)
        if self.nonempty and isinstance(value, (str, list, dict)) and not (value.strip() if isinstance(value, str)
                                                                          else value):
            raise InputError(path, "must not be empty", line, self.name, row_word)
        if self.items is not None and isinstance(value, list):
            for i, item in enumerate(value):
                if not isinstance(item, self.items):
                    raise InputError(path, f"item {i} must be {_TYPE_NAMES.get(self.items, self.items.__name__)}, "
                                     f"got {_TYPE_NAMES.get(type(item), type(item).__name__)}", line, self.name,
                                     row_word)


_TYPE_NAMES = {str: "a string", int: "a number", float: "a number", list: "a list", dict: "an object",
               bool: "true/false", type(None): "null"}


def check_per_generation(row: dict, path: str, line: int) -> None:
    """Every ``gen_*`` list of an inference output row has one entry per generation in ``gen``."""
    n = len(row["gen"])
    for key, value in row.items():
        if key.startswith("gen_") and isinstance(value, list) and len(value) != n:
            raise InputError(path, f"has {len(value)} entries for {n} generations", line, key)


def _check_input_file(path: str) -> None:
    if not os.path.exists(path):
        raise InputError(path, "input file not found")
    if os.path.isdir(path):
        raise InputError(path, "is a folder, expected a file")


def _parse_line(path: str, lineno: int, raw: bytes) -> dict:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(path, f"not UTF-8 text (byte {err.start + 1} of the line)", lineno) from None
    try:
        row = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(path, f"not valid JSON ({err.msg} at column {err.colno})", lineno) from None
    if not isinstance(row, dict):
        kind = _TYPE_NAMES.get(type(row), type(row).__name__)
        raise InputError(path, f"expected a JSON object, got {kind}", lineno)
    return row


def read_jsonl(path: str, fields: Iterable[Field] = (), allow_empty: bool = False) -> list[Record]:
    """(line number, object) for every non-blank line of a JSONL file, each checked against ``fields``."""
    _check_input_file(path)
    fields = tuple(fields)
    rows = []
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            row = _parse_line(path, lineno, raw)
            for rule in fields:
                rule.check(row, path, lineno)
            rows.append((lineno, row))
    if not rows and not allow_empty:
        raise InputError(path, "input file has no examples")
    return rows


def read_json(path: str) -> Any:
    """One JSON document (e.g. a ``metrics.json``); a missing or unreadable file is an :class:`InputError`."""
    _check_input_file(path)
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except UnicodeDecodeError:
        raise InputError(path, "not UTF-8 text") from None
    except json.JSONDecodeError as err:
        raise InputError(path, f"not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})") from None


def read_parquet(path: str, fields: Iterable[Field] = ()) -> list[Record]:
    """(1-based row number, row as plain Python objects) for every row of a parquet file."""
    _check_input_file(path)
    try:
        import pyarrow.parquet as pq

        rows = pq.read_table(path).to_pylist()
    except Exception as err:  # noqa: BLE001 - any reader failure is bad input
        raise InputError(path, f"not a readable parquet file ({type(err).__name__}: {str(err)[:120]})") from None
    fields = tuple(fields)
    out = []
    for i, row in enumerate(rows, 1):
        for rule in fields:
            rule.check(row, path, i, row_word="row ")
        out.append((i, row))
    if not out:
        raise InputError(path, "input file has no examples")
    return out


def read_records(path: str, fields: Iterable[Field] = ()) -> list[Record]:
    """JSONL or (by its ``.parquet`` ending) parquet records, checked against ``fields``."""
    return read_parquet(path, fields) if path.endswith(".parquet") else read_jsonl(path, fields)


def read_jsonl_tolerant(path: str) -> list[Record]:
    """Complete lines of a file this toolkit appends to; only a torn last line (a crash mid-write) is skipped.

    A complete line that is not a JSON object means the file was damaged or is not ours: that is
    an :class:`InputError`, never silently dropped.
    """
    rows = []
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.endswith(b"\n"):
                break
            if raw.strip():
                rows.append((lineno, _parse_line(path, lineno, raw)))
    return rows


def trim_torn_tail(path: str) -> None:
    """Cut an incomplete last line (left by a killed writer) so appends start on a fresh line."""
    if not os.path.exists(path):
        return
    with open(path, "rb+") as fh:
        data = fh.read()
        if data and not data.endswith(b"\n"):
            fh.truncate(data.rfind(b"\n") + 1)


class JsonlAppender:
    """Appends one JSON object per line; each line is one ``write`` followed by flush and fsync."""

    def __init__(self, path: str):
        trim_torn_tail(path)
        self._fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def write(self, row: dict) -> None:
        """Append ``row`` durably."""
        self._fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        """Close the file."""
        self._fh.close()

    def __enter__(self) -> "JsonlAppender":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_text_atomic(path: str, text: str) -> None:
    """Write ``text`` to ``path`` as a whole: a temporary file beside it, fsynced, then renamed."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_json_atomic(path: str, obj: Any, indent: int | None = 4) -> None:
    """Write one JSON document atomically."""
    write_text_atomic(path, json.dumps(obj, indent=indent, ensure_ascii=False) + "\n")


def write_jsonl_atomic(path: str, rows: Iterable[dict]) -> None:
    """Write JSON Lines atomically (one object per line)."""
    write_text_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def _first_blocking_file(path: str) -> str | None:
    """The first existing non-folder on the way to ``path`` (``path`` itself included), if any."""
    current = os.path.abspath(path)
    chain = []
    while True:
        chain.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    for part in reversed(chain):
        if os.path.exists(part) and not os.path.isdir(part):
            return part
        if not os.path.exists(part):
            return None
    return None


def check_output_dir(path: str, flag: str) -> None:
    """Refuse an output folder that cannot be a folder (a file is in the way) or cannot be written."""
    if not path:
        raise UsageError(flag, "must not be empty")
    blocker = _first_blocking_file(path)
    if blocker is not None:
        raise UsageError(flag, f"{path} cannot be a folder: {blocker} is a file")
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(flag, f"{path}: no permission to write in {existing}")


def check_output_file(path: str, flag: str) -> None:
    """Refuse an output file path that is a folder or whose folder cannot be made."""
    if not path:
        raise UsageError(flag, "must not be empty")
    if os.path.isdir(path):
        raise UsageError(flag, f"{path} is a folder, expected a file path")
    check_output_dir(os.path.dirname(os.path.abspath(path)), flag)


def result_files(output_dir: str) -> list[str]:
    """The ``dp_rank*.jsonl`` result files of an inference output folder, sorted."""
    return sorted(glob.glob(os.path.join(output_dir, RESULT_GLOB)))
