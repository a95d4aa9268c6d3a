"""keras.mixed_precision's names: ``set_global_policy("mixed_bfloat16")``, ``global_policy()``, ``Policy``.

See fastnn.dtype_policies for what each policy means in fastnn.
"""

from .dtype_policies import DTypePolicy, Policy, bf16_isa  # noqa: F401
from .dtype_policies import dtype_policy, set_dtype_policy

set_global_policy = set_dtype_policy
global_policy = dtype_policy

__all__ = ["DTypePolicy", "Policy", "set_global_policy", "global_policy", "set_dtype_policy", "dtype_policy",
           "bf16_isa"]
