"""The one exception type the CLI turns into a single line and exit code 2 (1 for `IncompleteRun` and `ServerFault`).

Raise `UserError("what is wrong; what to do")` for anything a user can fix (bad names, bad config, missing data,
model not available offline). Everything else is a bug and keeps its traceback.
"""


class UserError(Exception):
    """A problem with the user's input or environment, stated in one line with the fix."""


class IncompleteRun(UserError):
    """Some problems could not be sampled (a server kept failing); every finished one is stored, and the same command
    resumes with the rest. Exit code 1: nothing is wrong with the input."""

    exit_code = 1


class ServerFault(UserError):
    """A server that answers, but not as the protocol says (a body that is not JSON, JSON of another shape): stated
    in one line naming the URL. Exit code 1: the input is fine, the server is not."""

    exit_code = 1
