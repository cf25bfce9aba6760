"""cort.io: one strict reader (file, line, field), atomic whole-file writes, crash-safe appends."""

from __future__ import annotations

import json
import os

import pytest

from cort.errors import InputError, UsageError
from cort.io import (
    Field,
    JsonlAppender,
    check_output_dir,
    check_output_file,
    read_jsonl,
    read_parquet,
    read_records,
    write_jsonl_atomic,
    write_text_atomic,
)


@pytest.mark.parametrize("content, fields, message", [
    (b'{"a": "x"}\n\xff\xfe\n', [], "t.jsonl:2: not UTF-8 text"),
    (b'{"a": "x"}\n[1, 2]\n', [], "t.jsonl:2: expected a JSON object, got a list"),
    (b'{"a": "x"}\n"text"\n', [], "t.jsonl:2: expected a JSON object, got a string"),
    (b'{"a": "x"}\n{"a": \n', [], "t.jsonl:2: not valid JSON"),
    (b'{"a": "x"}\n{"b": "y"}\n', [Field("a")], "t.jsonl:2: field 'a': missing"),
    (b'{"a": 3}\n', [Field("a")], "t.jsonl:1: field 'a': must be a string, got a number"),
    (b'{"a": true}\n', [Field("a", (int,))], "field 'a': must be a number, got true/false"),
    (b'{"a": "  "}\n', [Field("a")], "field 'a': must not be empty"),
    (b'{"a": ["x", 2]}\n', [Field("a", (list,), items=str)], "field 'a': item 1 must be a string, got a number"),
    (b"\n\n", [], "t.jsonl: input file has no examples"),
])
def test_jsonl_errors_name_file_line_field(tmp_path, content, fields, message):
    path = tmp_path / "t.jsonl"
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        read_jsonl(str(path), fields)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(InputError, match="input file not found"):
        read_records(str(tmp_path / "none.jsonl"))
    with pytest.raises(InputError, match="is a folder"):
        read_records(str(tmp_path))


def test_parquet_rows_and_errors(tmp_path):
    import pandas as pd

    path = tmp_path / "p.parquet"
    pd.DataFrame({"q": ["a", "b"], "n": [1, 2]}).to_parquet(path)
    assert [r for _, r in read_parquet(str(path), [Field("q")])] == [{"q": "a", "n": 1}, {"q": "b", "n": 2}]
    with pytest.raises(InputError, match=r"p.parquet:row 1: field 'prompt': missing"):
        read_records(str(path), [Field("prompt")])
    junk = tmp_path / "junk.parquet"
    junk.write_text("not parquet")
    with pytest.raises(InputError, match="not a readable parquet file"):
        read_records(str(junk))


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "out.jsonl"
    write_jsonl_atomic(str(path), [{"a": 1}])

    class Boom:
        def __str__(self):
            raise RuntimeError("boom")

    with pytest.raises(TypeError):
        write_jsonl_atomic(str(path), [{"a": Boom()}])  # fails while serialising
    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError):
        write_text_atomic(str(path), "new content")  # fails while writing
    assert json.loads(path.read_text()) == {"a": 1}
    assert os.listdir(tmp_path) == ["out.jsonl"]  # no temporary file left behind


def test_appender_trims_a_torn_tail(tmp_path):
    path = tmp_path / "dp_rank_0.jsonl"
    path.write_text('{"a": 1}\n{"a": ')
    with JsonlAppender(str(path)) as writer:
        writer.write({"a": 2})
    assert [r for _, r in read_jsonl(str(path))] == [{"a": 1}, {"a": 2}]


def test_output_paths(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(UsageError, match="--out: .* is a file"):
        check_output_dir(str(tmp_path / "f" / "sub"), "out")
    with pytest.raises(UsageError, match="is a folder"):
        check_output_file(str(tmp_path), "output_file")
    check_output_dir(str(tmp_path / "new" / "deeper"), "out")  # creatable: fine, and nothing is made
    assert not (tmp_path / "new").exists()
