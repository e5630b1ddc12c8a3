"""The root of the errors a user can cause (bad input, bad params, missing data); anything else is a bug.

Each class keeps a builtin base as well, so callers that catch ``ValueError`` or ``LookupError`` still work; new
code catches ``SerError`` (stages print it as one line, the API answers it with a 4xx).
"""


class SerError(Exception):
    """An expected failure with a message for the user: stages print it as one line, the API maps it to 4xx."""


class ParamsError(SerError, ValueError):
    """A params.yaml value that cannot be used."""


class DataMissing(SerError, FileNotFoundError):
    """An input the pipeline or a command needs is not there (run the stage that makes it)."""


class InvalidId(SerError, ValueError):
    """A string that is not the id of an EmoDB recording."""
