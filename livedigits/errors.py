"""The one exception type for mistakes a user can fix: the CLI prints its message as one line."""


class UserError(Exception):
    """Bad input (a missing file, a camera that will not open, ...); `str()` says what to do."""

    exit_code = 2
