"""Errors that stop the process before it serves anything.

The CLI prints ``str(error)`` as one line and exits non-zero; no traceback reaches the admin.
"""


class StartupError(Exception):
    """A problem the admin must fix before Rimpllee can run (config, database, port, token)."""
