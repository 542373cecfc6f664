"""The one exception type that the command line turns into a one-line ``error:`` message."""


class UserError(Exception):
    """A problem the user can fix: bad input, missing data, a misspelled plugin.

    The message is one line that names the problem and the fix; the CLI prints it
    after ``error:`` on stderr and exits with status 1, without a traceback.
    """
