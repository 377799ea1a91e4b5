"""User-facing errors: one clear message naming the problem and the fix, never a bare traceback."""


class GFaceError(Exception):
    """A mistake the user can fix (bad name, missing file, malformed input).

    The command-line entry point prints the message alone and exits with status 2.
    """


class UnknownNameError(GFaceError, KeyError):
    """A registry lookup of a name that is not registered."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0])


class MissingFileError(GFaceError, FileNotFoundError):
    """An expected dataset, weight or protocol file is absent."""


class PluginImportError(GFaceError):
    """A plugin module raised while being imported."""
