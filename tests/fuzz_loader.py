"""Fuzz target for fastnn.saving.read_model_file.

The loader must answer every byte string with either a result or ``ModelFileError``; any
other exception, a crash or a hang is a bug. ``TestOneInput`` is the atheris/libFuzzer entry
point; ``check_bytes``, ``seed_inputs`` and ``mutate`` are shared with the pytest run in
tests/test_saving_files.py, which exercises the same target without atheris.

    pip install atheris
    python tests/fuzz_loader.py -max_total_time=30            # seeds a temporary corpus
    python tests/fuzz_loader.py -max_total_time=600 CORPUS_DIR  # or grow your own corpus
"""

import atexit
import importlib
import importlib.machinery
import os
import shutil
import sys
import tempfile
import types
from pathlib import Path

import numpy as np


class _SourceFinder:
    """Finds fastnn's submodules in this source tree with the plain file loader, ahead of any
    installed copy (an editable install's own loader hides the code from atheris)."""

    package_dir = str(Path(__file__).resolve().parents[1] / "fastnn")

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name.startswith("fastnn."):
            return importlib.machinery.PathFinder.find_spec(name, [cls.package_dir])
        return None


def _use_source_tree():
    """Make ``import fastnn.X`` load this source tree's files without the package __init__."""
    stub = types.ModuleType("fastnn")
    stub.__path__ = [_SourceFinder.package_dir]
    sys.modules["fastnn"] = stub
    sys.meta_path.insert(0, _SourceFinder)


if __name__ == "__main__":
    import atheris

    # From source with the plain file loader, which atheris instruments reliably (its import
    # hook must come first in sys.meta_path, so it is entered last); the fuzzer also starts
    # without importing the whole package.
    _use_source_tree()
    with atheris.instrument_imports():
        saving = importlib.import_module("fastnn.saving")
else:
    try:
        saving = importlib.import_module("fastnn.saving")
    except ImportError:  # a source tree whose package __init__ cannot import yet
        _use_source_tree()
        saving = importlib.import_module("fastnn.saving")

from fastnn.errors import ModelFileError  # noqa: E402  (after the import set-up above)

_target = None


def _target_path():
    global _target
    if _target is None:
        folder = tempfile.mkdtemp(prefix="fastnn-fuzz-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        _target = os.path.join(folder, "input.fnn")
    return _target


def check_bytes(data):
    """Load ``data`` as a model file; True if it loaded, False if ModelFileError rejected it.

    Any other exception propagates (that is what the fuzzer hunts for). A loaded file must
    give a dict of arrays of the allowed dtypes and a dict config.
    """
    path = _target_path()
    with open(path, "wb") as handle:
        handle.write(data)
    try:
        tensors, config = saving.read_model_file(path, max_tensors=1000, max_bytes=1 << 24)
    except ModelFileError:
        return False
    assert isinstance(config, dict)
    assert isinstance(tensors, dict)
    for name, array in tensors.items():
        assert isinstance(name, str) and isinstance(array, np.ndarray)
        assert array.dtype in saving.DTYPES.values()
    return True


def TestOneInput(data):  # noqa: N802  (the name libFuzzer/atheris expect)
    check_bytes(bytes(data))


def seed_inputs():
    """A few valid model files (as bytes) covering every dtype, 0-d and zero-size tensors."""
    rng = np.random.RandomState(7)
    models = [
        (
            {
                "dense/kernel": rng.standard_normal((4, 3)).astype(np.float32),
                "dense/bias": np.zeros(3, np.float32),
            },
            {"class_name": "Sequential", "layers": [{"units": 3, "activation": "relu"}]},
        ),
        (
            {
                "w": rng.standard_normal((2, 2)),
                "optimizer/iterations": np.array(5, np.int64),
                "empty": np.zeros((0, 3), np.float32),
            },
            {"nested": {"list": [1, 2.5, None, True, "text \u00e9"]}},
        ),
        ({}, {}),
    ]
    seeds = []
    folder = tempfile.mkdtemp(prefix="fastnn-fuzz-seeds-")
    for index, (tensors, config) in enumerate(models):
        path = os.path.join(folder, f"seed{index}.fnn")
        saving.write_model_file(path, tensors, config)
        with open(path, "rb") as handle:
            seeds.append(handle.read())
        os.unlink(path)
    os.rmdir(folder)
    return seeds


_TOKENS = [b"[", b"]", b"{", b"}", b'"', b"\\", b",", b":", b" ", b"\t", b"0", b"-1",
           b"1e999", b"NaN", b"null", b"true", b"\xff", b"\xc3", b"[" * 100, b"\\u0000",
           b'"F16"', b"18446744073709551615"]


def mutate(data, rng):
    """Return a randomly damaged copy of ``data`` (1 to 3 edits), ``rng`` a RandomState."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        size = len(out)
        op = rng.randint(11)
        if op == 0 and size:  # replace a byte
            out[rng.randint(size)] = rng.randint(256)
        elif op == 1 and size:  # flip a bit
            out[rng.randint(size)] ^= 1 << rng.randint(8)
        elif op == 2 and size:  # delete a range
            start = rng.randint(size)
            del out[start : start + rng.randint(1, 17)]
        elif op == 3:  # insert random bytes
            start = rng.randint(size + 1)
            out[start:start] = rng.bytes(rng.randint(1, 17))
        elif op == 4 and size:  # truncate
            del out[rng.randint(size) :]
        elif op == 5:  # append
            out += rng.bytes(rng.randint(1, 65))
        elif op == 6:  # header length set to an interesting value
            length = int.from_bytes(bytes(out[:8]).ljust(8, b"\0"), "little")
            value = [0, 1, 2, 7, 2**31, 2**63, 2**64 - 1, length - 1, length + 1, length - 8,
                     length + 8, size, size - 8][rng.randint(13)] % 2**64
            out[:8] = value.to_bytes(8, "little")
        elif op == 7:  # change one digit (shapes, offsets, numbers in the config)
            digits = [i for i, b in enumerate(out) if 48 <= b <= 57]
            if digits:
                out[digits[rng.randint(len(digits))]] = 48 + rng.randint(10)
        elif op == 8 and size:  # duplicate a range
            start = rng.randint(size)
            piece = out[start : start + rng.randint(1, 33)]
            where = rng.randint(size + 1)
            out[where:where] = piece
        elif op == 9:  # insert a JSON-ish token
            start = rng.randint(size + 1)
            out[start:start] = _TOKENS[rng.randint(len(_TOKENS))]
        elif op == 10 and size > 1:  # swap two bytes
            i, j = rng.randint(size), rng.randint(size)
            out[i], out[j] = out[j], out[i]
    return bytes(out)


def _main():
    args = sys.argv[:]
    if not any(not arg.startswith("-") for arg in args[1:]):
        corpus = tempfile.mkdtemp(prefix="fastnn-fuzz-corpus-")
        for index, seed in enumerate(seed_inputs()):
            with open(os.path.join(corpus, f"seed{index}"), "wb") as handle:
                handle.write(seed)
        args.append(corpus)
    atheris.Setup(args, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    _main()
