"""Input validation and crash-safe output for the inference CLI.

Input problems are reported as one line naming the file, the line and the field
(:class:`InputError`). Output is JSON Lines written one complete line per ``write`` and
flushed, so a killed run leaves at most one torn last line, which readers skip and the
next run trims before appending.
"""

from __future__ import annotations

import glob
import json
import os

OUTPUT_GLOB = "dp_rank*.jsonl"


class InputError(ValueError):
    """Bad input; the message is one line: ``file:line: what is wrong``."""


def read_jsonl_strict(path: str) -> list[tuple[int, dict]]:
    """(line number, object) for every non-blank line; any problem is an :class:`InputError`."""
    if not os.path.isfile(path):
        raise InputError(f"{path}: input file not found")
    rows = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise InputError(f"{path}:{lineno}: not valid JSON ({err.msg} at column {err.colno})") from None
            if not isinstance(row, dict):
                raise InputError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
            rows.append((lineno, row))
    if not rows:
        raise InputError(f"{path}: input file has no examples")
    return rows


def load_examples(path: str, required: tuple[str, ...] = ("prompt",)) -> list[dict]:
    """Every JSON object of a JSONL file, each checked for ``required`` string fields."""
    examples = []
    for lineno, example in read_jsonl_strict(path):
        for field in required:
            if field not in example:
                raise InputError(f"{path}:{lineno}: missing field '{field}'")
            if not isinstance(example[field], str) or not example[field].strip():
                raise InputError(f"{path}:{lineno}: field '{field}' must be a non-empty string")
        examples.append(example)
    return examples


def read_jsonl_tolerant(path: str) -> list[dict]:
    """Complete JSON lines of ``path``; a torn or corrupt line (a crash mid-write) is skipped."""
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.endswith("\n"):
                break
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


def output_files(output_dir: str) -> list[str]:
    """The ``dp_rank*.jsonl`` files of an output folder, sorted."""
    return sorted(glob.glob(os.path.join(output_dir, OUTPUT_GLOB)))


def cached_prompts(output_dir: str) -> set[str]:
    """Prompts already answered in ``output_dir`` (for ``--enable_cache``)."""
    done = set()
    for path in output_files(output_dir):
        done.update(row["prompt"] for row in read_jsonl_tolerant(path) if "prompt" in row)
    return done


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
