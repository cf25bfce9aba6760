"""What every command does around its ``main``: logging, and bad input as one line with exit code 2.

    def cli(argv=None) -> int:
        return run_command(lambda: main(*make_parser().parse_args_into_dataclasses(args=argv)))

Exit codes: 0 done; 1 the work failed (a crashed worker, nothing to train on ...); 2 bad input or
flags (``error: <file>:<line>: field '<name>': ...`` or ``error: --flag: ...`` on stderr, nothing
written); 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Callable

from cort.errors import CortError, UsageError

EXIT_BAD_INPUT = 2


class Terminated(Exception):
    """Raised in the main thread on SIGTERM, so ``finally`` blocks clean up as on Ctrl-C."""


def setup_logging(level: str | None = None) -> None:
    """One stderr handler for the whole process (``CORT_LOG_LEVEL`` or ``level``, default INFO)."""
    level = (level or os.environ.get("CORT_LOG_LEVEL") or "INFO").upper()
    logging.basicConfig(level=getattr(logging, level, logging.INFO), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


def handle_sigterm():
    """Make SIGTERM raise :class:`Terminated` in the main thread; returns the previous handler."""
    return signal.signal(signal.SIGTERM, _raise_terminated)


def run_command(body: Callable[[], int | None]) -> int:
    """Run a command's body; map user errors to exit 2, Ctrl-C to 130 and SIGTERM to 143."""
    setup_logging()
    previous = handle_sigterm()
    try:
        return int(body() or 0)
    except CortError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("terminated", file=sys.stderr)
        return 143
    finally:
        signal.signal(signal.SIGTERM, previous)


def parse_flags(parser, argv: list[str] | None) -> tuple:
    """Parse ``argv`` into the parser's dataclasses (``TrlParser``: YAML ``--config`` too).

    A ``ValueError`` raised while a dataclass checks itself (TRL's and transformers' own
    configs do that), an unknown flag or a value outside a flag's choices is a bad flag: it
    becomes a :class:`UsageError`, one line, exit 2.
    """
    def one_line(message: str):  # argparse's own errors (unknown flag, bad choice): one line, not the usage
        raise UsageError("", " ".join(message.split()))

    parser.error = one_line
    try:
        if hasattr(parser, "parse_args_and_config"):
            return tuple(parser.parse_args_and_config(args=argv))
        return tuple(parser.parse_args_into_dataclasses(args=argv))
    except CortError:
        raise
    except ValueError as err:
        raise UsageError("", " ".join(str(err).split())[:400]) from None
