"""Weight regularizers (Keras 3): L1 adds l1 * sum(|w|) to the loss, L2 adds l2 * sum(w^2)."""

import numbers

import math

from ._names import unknown_name_error


class Regularizer:
    def __init__(self, l1=0.0, l2=0.0):
        for name, v in (("l1", l1), ("l2", l2)):
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v) or v < 0:
                raise ValueError(f"{name}: expected a finite number >= 0, got {v!r}")
        self.l1 = float(l1)
        self.l2 = float(l2)

    def __call__(self, x):
        import numpy as np
        x = np.asarray(x, dtype=np.float64)
        return self.l1 * np.abs(x).sum() + self.l2 * np.square(x).sum()

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}

    def __repr__(self):
        return f"L1L2(l1={self.l1}, l2={self.l2})"


class L1L2(Regularizer):
    pass


class L1(Regularizer):
    def __init__(self, l1=0.01):
        super().__init__(l1=l1)


class L2(Regularizer):
    def __init__(self, l2=0.01):
        super().__init__(l2=l2)


def l1(l1=0.01):
    return L1(l1)


def l2(l2=0.01):
    return L2(l2)


def l1_l2(l1=0.01, l2=0.01):
    return L1L2(l1, l2)


def get(identifier):
    """A Regularizer (or None) from None, a Regularizer, "l1"/"l2"/"l1_l2" or a config dict."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str):
        table = {"l1": L1, "l2": L2, "l1_l2": lambda: L1L2(0.01, 0.01)}
        if identifier.lower() in table:
            return table[identifier.lower()]()
        raise unknown_name_error("regularizer", identifier, table)
    if isinstance(identifier, dict):
        return L1L2(identifier.get("l1", 0.0), identifier.get("l2", 0.0))
    raise ValueError(f"regularizer: expected None, 'l1', 'l2', 'l1_l2' or fastnn.regularizers.l1/l2/l1_l2(...), "
                     f"got {identifier!r}")
