"""The one error type users see.

Anything a user can cause (a missing file, a corrupt checkpoint, an unknown
instrument, a bad value) raises :class:`MorphsynthError` with a one-line message
that names the thing at fault. The command line prints it as
``morphsynth: error: <message>`` and exits with status 2; the server answers it
with an OSC ``/fail``.
"""


class MorphsynthError(Exception):
    """A user-facing error whose ``str()`` is one line naming the culprit."""
