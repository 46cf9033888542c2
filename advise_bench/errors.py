"""Errors the CLI reports as one line (exit 2) instead of a traceback."""


class UserError(Exception):
    """Bad input from the user: unknown model, missing file, bad layer name, ..."""


class ImageError(UserError):
    """An image that cannot be decoded. The runner turns it into an error row, never a crash."""


def one_line(exc: BaseException) -> str:
    """An exception as one line, ``Type: first line of its message``, for messages that quote a cause."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
