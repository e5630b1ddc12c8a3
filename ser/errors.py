"""The root of the errors a user can cause (bad input, bad params, missing data); anything else is a bug."""


class SerError(Exception):
    """An expected failure with a message for the user: stages print it as one line, the API maps it to 4xx."""


class ParamsError(SerError, ValueError):
    """A params.yaml value that cannot be used."""
