"""The exception types that the command line turns into a one-line ``error:`` message, and the
exit status of each (the README's exit-status table lists them)."""

EXIT_OK = 0
EXIT_ERROR = 1  # bad input, a refused request, a gate that found regressions, failed cells
EXIT_USAGE = 2  # bad command-line usage (argparse)
EXIT_NOTHING_DONE = 3  # the command ran but produced nothing usable
EXIT_INTERNAL = 70  # an unexpected error inside ftcot (a bug): one line, no traceback
EXIT_PENDING = 75  # waiting on something outside ftcot (a provider's batch job): run again later
EXIT_INTERRUPTED = 130  # Ctrl-C


class UserError(Exception):
    """A problem the user can fix: bad input, missing data, a misspelled plugin.

    The message is one line that names the problem and the fix (further lines, indented, may
    list several problems); the CLI prints it after ``error:`` on stderr and exits with
    ``exit_status``, without a traceback.
    """

    exit_status: int = EXIT_ERROR


class NothingDone(UserError):
    """The command ran without a usable result: every teacher completion failed, no examples,
    no cells. Scripts tell it from success by its exit status."""

    exit_status = EXIT_NOTHING_DONE


class Pending(UserError):
    """The command is waiting on work outside ftcot (a provider's batch job still running): what
    is done is stored, and running the command again later picks up the rest."""

    exit_status = EXIT_PENDING
