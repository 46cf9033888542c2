"""Errors the CLI reports as one line (exit 2) instead of a traceback."""


class UserError(Exception):
    """Bad input from the user: unknown model, missing file, bad layer name, ..."""


class ImageError(UserError):
    """An image that cannot be decoded. The runner turns it into an error row, never a crash."""
