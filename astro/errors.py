"""User-facing errors: raised for a user's mistake and printed as one sentence, never a traceback."""


class AstroError(Exception):
    """Base class for errors whose message alone tells the user what to fix."""


class ConfigError(AstroError):
    """A config value is invalid (named key, offending value, allowed values)."""


class DataError(AstroError):
    """A data file or folder cannot be used (named file, what is wrong)."""


class CheckpointError(AstroError):
    """A checkpoint is missing, truncated or incompatible."""


class StoreError(AstroError):
    """The MLflow store is not there (a sqlite file that does not exist) or does not answer (a server)."""


class ImageError(AstroError):
    """An uploaded file cannot be classified (not an image, too small, too large, unusable colour mode)."""


class NonFiniteLossError(AstroError):
    """The loss became NaN/Inf; the message names where and the likely causes."""


class TrainingInterrupted(AstroError):
    """SIGINT/SIGTERM stopped training after a finished step; last.pt holds the state to resume."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class DownloadError(AstroError):
    """A download failed (no network, HTTP error, checksum mismatch, full disk); says what to do next."""
