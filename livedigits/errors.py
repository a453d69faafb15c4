"""The one exception type for mistakes a user can fix: the CLI prints its message as one line."""


class UserError(Exception):
    """Bad input (a missing file, a camera that will not open, ...); `str()` says what to do."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code
