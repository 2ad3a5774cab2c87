"""User-facing errors: the CLI prints their message (no traceback) and exits non-zero."""


class LiverannotError(Exception):
    """An error caused by the user's input or options; its message says what to fix."""

    exit_code = 2


class InputError(LiverannotError):
    """An input file cannot be read or does not hold usable data."""


class GeneMatchError(LiverannotError):
    """Too few genes of the query are known to the model."""


class SamplesheetError(LiverannotError):
    """The samplesheet has one or more problems (all are listed in the message)."""
