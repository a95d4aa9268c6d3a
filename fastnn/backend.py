"""Keras's backend helpers that make sense for fastnn: clear_session, floatx, set_floatx."""

from . import _naming
from .config import floatx, set_floatx  # noqa: F401


def clear_session():
    """Resets the automatic layer and model names ("dense", "dense_1", ... start again)."""
    _naming.reset()
