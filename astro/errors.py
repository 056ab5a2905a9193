"""User-facing errors: raised for a user's mistake and printed as one sentence, never a traceback."""


class AstroError(Exception):
    """Base class for errors whose message alone tells the user what to fix."""


class ConfigError(AstroError):
    """A config value is invalid (named key, offending value, allowed values)."""


class DataError(AstroError):
    """A data file or folder cannot be used (named file, what is wrong)."""


class CheckpointError(AstroError):
    """A checkpoint is missing, truncated or incompatible."""


class ImageError(AstroError):
    """An uploaded file cannot be classified (not an image, too small, too large, unusable colour mode)."""
