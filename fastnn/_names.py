"""Resolving user-given names against a closed list, with a "did you mean" hint."""

import difflib


def unknown_name_error(kind, name, valid):
    """A ValueError for an unknown `kind` name, listing the valid ones and the closest match."""
    valid = sorted(set(valid))
    hint = difflib.get_close_matches(str(name), valid, n=1)
    msg = f"Unknown {kind}: {name!r}. Expected one of: {', '.join(valid)}."
    if hint:
        msg += f" Did you mean {hint[0]!r}?"
    return ValueError(msg)
