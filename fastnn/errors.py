"""Exception types of fastnn.

Every error fastnn raises on purpose is a ``ValueError`` or ``TypeError`` (as in Keras); the
classes here only narrow ``ValueError`` where a caller may want to catch one family alone.
"""

import os

__all__ = ["ModelFileError"]


class ModelFileError(ValueError):
    """A model or weights file is missing, damaged, hostile or not a fastnn file.

    ``reason`` says what is wrong and ``path`` names the file (``None`` when there is none);
    ``str(error)`` gives both. Being a ``ValueError``, it is caught by ``except ValueError``.
    """

    def __init__(self, reason, path=None):
        self.reason = str(reason)
        self.path = None if path is None else os.fsdecode(path)
        if self.path is None:
            message = self.reason
        else:
            message = f"Cannot read model file {self.path!r}: {self.reason}"
        super().__init__(message)

    def __reduce__(self):
        return (type(self), (self.reason, self.path))
