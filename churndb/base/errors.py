"""churndb's own exceptions.

Everything a user can cause (bad input, bad configuration, an unreachable
database) is raised as a ``ChurnDBError`` whose message is one line saying what
is wrong and what to do.  The CLI prints that line and exits 1; anything else is
a bug and shows a traceback only with ``--debug``.
"""


class ChurnDBError(Exception):
    """A failure a user can act on; ``str(err)`` is the one-line explanation."""


class ConfigError(ChurnDBError):
    """Configuration is missing or unusable (URL, CHURNDB_HOME, config file)."""


class DatabaseError(ChurnDBError):
    """The database could not be reached or refused an operation."""


class InputError(ChurnDBError):
    """An input file or argument cannot be used as given."""


class ArtifactError(ChurnDBError):
    """A model artifact failed verification and was not loaded."""


class UsageError(ChurnDBError):
    """A command was called with a value it does not take (the CLI exits 2, as for bad usage)."""
