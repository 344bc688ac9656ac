"""gd2ctl's two kinds of failure, each with its own exit status."""

from __future__ import annotations

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70  # EX_SOFTWARE


class UsageError(Exception):
    """The command line is wrong; nothing was sent (exit 2)."""


class CommandFailed(Exception):
    """The command was understood but could not be done (exit 1)."""
