"""Speech emotion recognition on EmoDB: the library behind the DVC stages and the API."""

__version__ = "0.1.0"
