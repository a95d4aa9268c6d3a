"""Parsers for the raw image-dataset formats: IDX (MNIST, Fashion-MNIST) and CIFAR-10 binary.

Both read bytes only (no pickle, no code), accept gzip-compressed or plain files (detected by
the gzip magic bytes, not the file name), check every header field and size, and raise
``ValueError`` naming the file when something does not add up.

IDX (http://yann.lecun.com/exdb/mnist/): bytes 0-1 are zero, byte 2 the element type, byte 3
the number of dimensions d; then d big-endian uint32 sizes, then the elements in C order.
CIFAR-10 binary (https://www.cs.toronto.edu/~kriz/cifar.html): records of 1 label byte and
3072 pixel bytes (1024 red, 1024 green, 1024 blue, each 32x32 row-major).
"""

import gzip
import os
import struct
import zlib

import numpy as np

IDX_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
CIFAR_RECORD = 1 + 3 * 32 * 32
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20


def _open(path):
    """A binary stream over ``path``, decompressing it if it is gzip data."""
    with open(path, "rb") as f:
        head = f.read(2)
    return gzip.open(path, "rb") if head == _GZIP_MAGIC else open(path, "rb")


def _read_exactly(stream, n):
    """Read ``n`` bytes, chunk by chunk (a lying header cannot make us allocate more than exists)."""
    buf = bytearray()
    while len(buf) < n:
        chunk = stream.read(min(_CHUNK, n - len(buf)))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def read_idx(path):
    """Read one IDX file (plain or gzipped) into a native-endian NumPy array."""
    name = os.path.basename(path)
    try:
        with _open(path) as f:
            head = _read_exactly(f, 4)
            if len(head) < 4:
                raise ValueError(f"IDX file {name!r} is too short for a header "
                                 f"({len(head)} bytes, expected at least 4)")
            if head[0] != 0 or head[1] != 0 or head[2] not in IDX_TYPES or head[3] == 0:
                raise ValueError(f"IDX file {name!r} has a bad magic number {head.hex()}: expected "
                                 "00 00, a type code in {08,09,0b,0c,0d,0e} and at least 1 dimension")
            dtype, ndim = IDX_TYPES[head[2]], head[3]
            raw_dims = _read_exactly(f, 4 * ndim)
            if len(raw_dims) < 4 * ndim:
                raise ValueError(f"IDX file {name!r} ends inside its header "
                                 f"({ndim} dimensions announced)")
            dims = struct.unpack(f">{ndim}I", raw_dims)
            expected = int(np.prod(dims, dtype=object)) * dtype.itemsize
            data = _read_exactly(f, expected)
            extra = len(f.read(1))
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise ValueError(f"IDX file {name!r} is not readable: {e}") from e
    if len(data) != expected or extra:
        got = f"{len(data)}" if not extra else f"more than {expected}"
        raise ValueError(f"IDX file {name!r} header says shape {dims} ({expected} data bytes) "
                         f"but the file holds {got} data bytes")
    return np.frombuffer(data, dtype=dtype).reshape(dims).astype(dtype.newbyteorder("="))


def parse_cifar_binary(data, name):
    """Parse the bytes of one CIFAR-10 binary batch into (x uint8 (n,32,32,3), y uint8 (n,))."""
    if len(data) == 0 or len(data) % CIFAR_RECORD:
        raise ValueError(f"CIFAR-10 binary file {name!r} holds {len(data)} bytes, expected a "
                         f"positive multiple of {CIFAR_RECORD} (1 label byte + 3072 pixel bytes)")
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, CIFAR_RECORD)
    y = records[:, 0].copy()
    if y.max() > 9:
        bad = int(np.argmax(y > 9))
        raise ValueError(f"CIFAR-10 binary file {name!r} record {bad} has label {int(y[bad])}, "
                         "expected 0..9 (damaged file, or CIFAR-100 data)")
    x = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy()
    return x, y


def read_cifar_binary(path):
    """Read one CIFAR-10 binary batch file (plain or gzipped)."""
    name = os.path.basename(path)
    try:
        with _open(path) as f:
            data = f.read()
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise ValueError(f"CIFAR-10 binary file {name!r} is not readable: {e}") from e
    return parse_cifar_binary(data, name)
