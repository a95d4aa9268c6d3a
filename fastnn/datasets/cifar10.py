"""CIFAR-10, as ``keras.datasets.cifar10``, read from the binary version (never from pickles).

Files: ``data_batch_1.bin`` ... ``data_batch_5.bin`` and ``test_batch.bin``, either directly in a
folder or in its ``cifar-10-batches-bin/`` subfolder, or inside the archive
``cifar-10-binary.tar.gz`` (read member by member; nothing is extracted outside the cache).
A download fetches the archive, checks its SHA-256, extracts the six batch files into
``<cache>/cifar10/cifar-10-batches-bin/`` (each written atomically) and deletes the archive.
"""

import gzip
import os
import tarfile
import tempfile
import zlib

import numpy as np

from fastnn.datasets import _files
from fastnn.datasets._formats import CIFAR_RECORD, parse_cifar_binary, read_cifar_binary

BASE_URL = "https://www.cs.toronto.edu/~kriz/"
ARCHIVE = "cifar-10-binary.tar.gz"
SUBDIR = "cifar-10-batches-bin"
BATCHES = tuple(f"data_batch_{i}.bin" for i in range(1, 6)) + ("test_batch.bin",)

# SHA-256 of the canonical cifar-10-binary.tar.gz (170,052,171 bytes; MD5 c32a1d4ab5d03f1284b67883e8d87530).
FILE_HASHES = {
    ARCHIVE: "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
}

CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer",
               "dog", "frog", "horse", "ship", "truck")


def _batch_folder(folder):
    """The folder holding all six batch files: ``folder`` or its ``cifar-10-batches-bin``."""
    for d in (os.path.join(folder, SUBDIR), folder):
        if all(os.path.isfile(os.path.join(d, b)) for b in BATCHES):
            return d
    return None


def _archive_members(path):
    """{batch name: bytes} read from a CIFAR-10 binary tar archive, regular files only."""
    name = os.path.basename(path)
    out = {}
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                base = os.path.basename(member.name)
                if base in BATCHES and member.isreg() and member.name.count("/") <= 1:
                    if member.size % CIFAR_RECORD or member.size == 0:
                        raise ValueError(f"archive {name!r}: member {member.name!r} holds "
                                         f"{member.size} bytes, expected a positive multiple "
                                         f"of {CIFAR_RECORD}")
                    out[base] = tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise ValueError(f"archive {name!r} is not a readable tar file: {e}") from e
    missing = [b for b in BATCHES if b not in out]
    if missing:
        raise ValueError(f"archive {name!r} lacks {missing}; expected the CIFAR-10 binary version "
                         f"({ARCHIVE}, folder {SUBDIR}/)")
    return out


def _assemble(batches):
    """Keras's layout from {batch name: (x, y)}: x (n, 32, 32, 3) uint8, y (n, 1) uint8."""
    train = [batches[b] for b in BATCHES[:5]]
    x_train = np.concatenate([x for x, _ in train])
    y_train = np.concatenate([y for _, y in train]).reshape(-1, 1)
    x_test, y_test = batches[BATCHES[5]]
    return (x_train, y_train), (x_test, y_test.reshape(-1, 1))


def _load_folder(folder):
    return _assemble({b: read_cifar_binary(os.path.join(folder, b)) for b in BATCHES})


def _load_archive(path):
    members = _archive_members(path)
    return _assemble({b: parse_cifar_binary(data, b) for b, data in members.items()})


def _extract(archive, dest):
    """Write the six batch files of ``archive`` into ``dest``, each via a temporary file."""
    os.makedirs(dest, exist_ok=True)
    for b, data in _archive_members(archive).items():
        parse_cifar_binary(data, b)
        fd, tmp = tempfile.mkstemp(dir=dest, prefix="." + b + ".", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, os.path.join(dest, b))
        except BaseException:
            os.unlink(tmp)
            raise


def _load_location(folder):
    d = _batch_folder(folder)
    if d is not None:
        return _load_folder(d)
    if os.path.isfile(os.path.join(folder, ARCHIVE)):
        return _load_archive(os.path.join(folder, ARCHIVE))
    return None


def load_data(path=None):
    """Load the CIFAR-10 dataset: 32x32 colour images of 10 classes (Krizhevsky, 2009).

    Labels: 0 airplane, 1 automobile, 2 bird, 3 cat, 4 deer, 5 dog, 6 frog, 7 horse, 8 ship,
    9 truck (``CLASS_NAMES``).

    Args:
        path: ``None`` to search the usual places (see ``fastnn.datasets``), a folder holding
            the six ``.bin`` batch files (or their ``cifar-10-batches-bin`` folder, or the
            archive), or the path of ``cifar-10-binary.tar.gz`` itself.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: ``x`` uint8 of shape ``(50000, 32, 32, 3)``
        and ``(10000, 32, 32, 3)`` (channels last), ``y`` uint8 of shape ``(50000, 1)`` and
        ``(10000, 1)``.

    Raises:
        DatasetNotFoundError (a ``FileNotFoundError``) when the files are absent and cannot be
        downloaded; ``ValueError`` when a file is damaged or a download fails its checksum.
    """
    needed = [f"{', '.join(BATCHES)} (or {ARCHIVE})"]
    if path is not None:
        path = os.path.expanduser(os.fspath(path))
        if os.path.isfile(path) and (tarfile.is_tarfile(path) or path.endswith((".tar.gz", ".tgz"))):
            return _load_archive(path)
        folder = os.path.dirname(path) if os.path.isfile(path) else path
        result = _load_location(folder) if os.path.isdir(folder) else None
        if result is None:
            raise _files.not_found("CIFAR-10", needed, [folder], "cifar10",
                                   reason=f"The path given ({path!r}) does not hold them.")
        return result

    dirs = _files.search_dirs("cifar10", ("cifar10", "cifar-10"))
    for folder in dirs:
        result = _load_location(folder)
        if result is not None:
            return result

    dest = _files.cache_dir("cifar10")
    url = _files.base_url("cifar10", BASE_URL) + ARCHIVE
    archive = os.path.join(dest, ARCHIVE)
    try:
        _files.download(url, archive, FILE_HASHES.get(ARCHIVE))
    except _files.DatasetChecksumError:
        raise
    except OSError as e:
        raise _files.not_found("CIFAR-10", needed, dirs, "cifar10",
                               reason=f"Downloading {url} failed: {e}.") from e
    try:
        _extract(archive, os.path.join(dest, SUBDIR))
    finally:
        os.unlink(archive)
    return _load_folder(os.path.join(dest, SUBDIR))
