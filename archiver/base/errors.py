"""Exit codes and the one error type the CLI turns into a one-line message.

Every command maps its outcome to one of these codes so scripts and schedulers can tell
"the evidence is bad" apart from "the command could not run".
"""

from __future__ import annotations

EXIT_OK = 0  # the job completed (for `run`: even if some URLs failed; they are recorded)
EXIT_INVALID = 1  # `verify`: the bag is invalid; the report names every problem
EXIT_USAGE = 2  # bad arguments, unreadable input, a bag that cannot be read at all
EXIT_RUN_FAILED = 3  # the run itself could not be done (output not writable, disk full, ...)
EXIT_CHANGED = 4  # `report`: a URL changed, moved, vanished or went dark (docs/reports.md)
EXIT_INTERRUPTED = 130  # stopped by Ctrl-C / SIGTERM; what was captured is kept for a re-run

EXIT_MEANINGS = {
    EXIT_OK: "ok",
    EXIT_INVALID: "invalid",
    EXIT_USAGE: "bad input",
    EXIT_RUN_FAILED: "run could not be done",
    EXIT_CHANGED: "changed",
    EXIT_INTERRUPTED: "interrupted",
}


class ArchiverError(Exception):
    """An error the user can act on: shown as one line, never a traceback."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code
