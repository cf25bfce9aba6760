"""The two errors a user can cause: bad input data and bad flags. Commands turn both into one line, exit 2."""

from __future__ import annotations


class CortError(ValueError):
    """Base of the errors a command reports as one line with exit code 2."""


class InputError(CortError):
    """Bad input data; the message names the file, the line (or row) and the field.

    ``str(err)`` reads ``path:line: field 'name': what is wrong`` (parts that do not apply are left out).
    """

    def __init__(self, path: str, message: str, line: int | None = None, field: str | None = None,
                 row_word: str = ""):
        self.path, self.line, self.field, self.message = path, line, field, message
        where = path if line is None else f"{path}:{row_word}{line}"
        what = message if field is None else f"field '{field}': {message}"
        super().__init__(f"{where}: {what}")


class UsageError(CortError):
    """A bad flag or combination of flags (``--name: what is wrong``), found before any work starts."""

    def __init__(self, flag: str, message: str):
        self.flag = flag
        super().__init__(f"--{flag}: {message}" if flag else message)
