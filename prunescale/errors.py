"""The one exception type for bad user input, shared by the API, the command line and the app.

:class:`InputError` is a :class:`ValueError` whose message is one line naming the bad value and
the allowed range. The command line prints it as ``prunescale: error: <message>`` and exits
with status 2; any other exception is an internal error, never reported as the user's fault.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input: a value outside its allowed range, an unknown name, a malformed list."""


class NotCertified(RuntimeError):
    """A computation asked to be strict (``strict=True``) met a point it could not certify."""
