"""The one user-facing error type.

Anything the user can fix (a bad file, a bad flag, an output that cannot be written) is raised as
`WaifuError` with a one-line message that says what is wrong and how to fix it. The CLI prints that
line and exits non-zero. Every other exception is a bug and is allowed to show its traceback.
"""


class WaifuError(Exception):
    """A problem the user can fix; `str(err)` is a single actionable line."""

    exit_code = 2

    def __init__(self, message: str):
        message = " ".join(str(message).split())  # keep it on one line
        super().__init__(message)


class CheckpointError(WaifuError):
    """A checkpoint is missing, corrupt, of an unknown format, or does not match its architecture."""


class UnsafePickleError(CheckpointError):
    """A pickle asked for a callable outside the allow-list; nothing was executed."""
