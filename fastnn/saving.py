"""Model files: one safetensors file per model, written atomically, read defensively.

Layout (the safetensors format, https://huggingface.co/docs/safetensors):

    8 bytes    N, the header length, unsigned little-endian
    N bytes    header: compact UTF-8 JSON padded with spaces to a multiple of 8, holding
               {"__metadata__": {"fastnn": CONFIG_JSON, "fastnn_sha256": HEX},
                NAME: {"dtype": "F32"|"F64"|"I64", "shape": [...], "data_offsets": [begin, end]},
                ...}
    the data   each tensor's little-endian C-order bytes at [begin, end) of this region

CONFIG_JSON is ``json.dumps({"format": "fastnn", "format_version": 1, **config})``; HEX is
the SHA-256 (see ``_checksum``) of CONFIG_JSON and of every tensor's name, dtype, shape and
bytes in name order. The reader also requires the header to be byte-identical to the compact
re-serialization of what it parsed, so every byte of the file is either checksummed or
re-derived: any single changed, missing or extra byte is rejected.

Reading never unpickles, never imports by name, and checks every size, count, nesting depth
and offset against the real file size and explicit limits before it allocates anything sized
by the file. Every failure is a ``ModelFileError`` (a ``ValueError``) naming the file.
"""

import errno
import hashlib
import hmac
import io
import json
import os
import re
import secrets
import stat

import numpy as np
import safetensors.numpy

from fastnn.errors import ModelFileError

__all__ = [
    "write_model_file",
    "read_model_file",
    "model_file_bytes",
    "read_model_bytes",
    "write_weights_file",
    "read_weights_file",
    "check_json_depth",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "DTYPES",
    "DEFAULT_MAX_TENSORS",
    "DEFAULT_MAX_BYTES",
    "MAX_HEADER_BYTES",
    "MAX_CONFIG_BYTES",
    "MAX_CONFIG_ITEMS",
    "MAX_JSON_DEPTH",
    "MAX_NDIM",
    "MAX_NAME_CHARS",
]

FORMAT_NAME = "fastnn"
FORMAT_VERSION = 1
CONFIG_KEY = "fastnn"  # safetensors metadata key holding the config JSON
CHECKSUM_KEY = "fastnn_sha256"  # safetensors metadata key holding the hex digest

# The closed list of tensor dtypes: safetensors code -> little-endian NumPy dtype.
DTYPES = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8"), "I64": np.dtype("<i8")}

DEFAULT_MAX_TENSORS = 10_000
DEFAULT_MAX_BYTES = 1 << 36  # 64 GiB of tensor data
MAX_HEADER_BYTES = 100_000_000  # the cap safetensors itself uses
MAX_CONFIG_BYTES = 16 << 20
MAX_CONFIG_ITEMS = 1_000_000  # JSON objects, arrays and commas in the config
MAX_JSON_DEPTH = 64  # nesting depth of the config JSON
MAX_NDIM = 32
MAX_NAME_CHARS = 512
# Bound on the product of a shape's non-zero dims times the itemsize, so that NumPy can
# create even a zero-size array of that shape.
MAX_TENSOR_EXTENT = 1 << 48

_HEADER_DEPTH = 3  # {"name": {"shape": [..]}} is as deep as a valid header goes
_HEADER_KEYS = ("dtype", "shape", "data_offsets")
_WRITE_CHUNK = 1 << 20
_HEX64 = re.compile(r"[0-9a-f]{64}")
# A JSON string, possessive so that scanning is linear even for unterminated strings.
_JSON_STRING = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


# ----------------------------------------------------------------------------- JSON limits


def _json_structure(text):
    """Return (max nesting depth, number of objects+arrays, number of commas) of JSON text.

    Strings are skipped first, so brackets inside them do not count. Linear in len(text) and
    never recursive, so it is safe to run on hostile input before ``json.loads``.
    """
    bare = _JSON_STRING.sub("", text)
    containers = bare.count("{") + bare.count("[")
    commas = bare.count(",")
    brackets = _NOT_BRACKET.sub("", bare).encode("ascii")
    depth = best = 0
    chunk = 1 << 16
    for start in range(0, len(brackets), chunk):
        codes = np.frombuffer(brackets, np.uint8, min(chunk, len(brackets) - start), start)
        steps = np.where((codes == ord("[")) | (codes == ord("{")), 1, -1).astype(np.int64)
        levels = np.cumsum(steps) + depth
        best = max(best, int(levels.max()))
        depth = int(levels[-1])
    return best, containers, commas


def check_json_depth(text, limit=MAX_JSON_DEPTH):
    """Return the nesting depth of arrays/objects in JSON ``text``; raise past ``limit``.

    Runs in linear time without recursion, so it can guard ``json.loads`` against inputs
    such as ``"[" * 10**6``. Raises ``ValueError`` when the depth exceeds ``limit``.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    depth = _json_structure(text)[0]
    if depth > limit:
        raise ValueError(f"JSON is nested {depth} levels deep, above the limit of {limit}")
    return depth


def _unique_object(pairs):
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate key {key!r}")
        obj[key] = value
    return obj


def _reject_constant(name):
    raise ValueError(f"non-standard JSON constant {name}")


def _reject_float(text):
    raise ValueError(f"unexpected number {text[:40]}; the header holds only integers")


def _loads(text, what, where, **hooks):
    """json.loads with duplicate keys, NaN/Infinity and recursion turned into ModelFileError."""
    try:
        return json.loads(
            text, object_pairs_hook=_unique_object, parse_constant=_reject_constant, **hooks
        )
    except json.JSONDecodeError as exc:
        message = f"{what} is not valid JSON: {exc.msg} (char {exc.pos})"
        raise ModelFileError(message, where) from None
    except (ValueError, RecursionError) as exc:
        raise ModelFileError(f"{what} is not valid JSON: {exc}", where) from None


# ----------------------------------------------------------------------------- checksum


def _checksum(config_json, tensors):
    """SHA-256 hex digest of the config JSON and of ``tensors``, a list of (name, code, array).

    Tensors are taken in name order; each contributes its UTF-8 name, dtype code, shape and
    raw bytes, every variable-length field preceded by its length so no two inputs collide.
    """
    h = hashlib.sha256(b"fastnn-sha256-v1\0")

    def put_int(value):
        h.update(int(value).to_bytes(8, "little"))

    config_bytes = config_json.encode("utf-8")
    put_int(len(config_bytes))
    h.update(config_bytes)
    put_int(len(tensors))
    for name, code, array in sorted(tensors, key=lambda item: item[0]):
        name_bytes = name.encode("utf-8")
        put_int(len(name_bytes))
        h.update(name_bytes)
        h.update(code.encode("ascii").ljust(4, b"\0"))
        put_int(array.ndim)
        for dim in array.shape:
            put_int(dim)
        put_int(array.nbytes)
        if array.nbytes:
            h.update(memoryview(array).cast("B"))
    return h.hexdigest()


# ----------------------------------------------------------------------------- header


def _tensor_nbytes(name, code, shape, where):
    """Bytes a tensor of this dtype code and shape needs, computed on Python ints."""
    itemsize = DTYPES[code].itemsize
    count = 1
    extent = itemsize
    for dim in shape:
        count *= dim
        extent *= max(dim, 1)
        if extent > MAX_TENSOR_EXTENT:
            raise ModelFileError(
                f"tensor {name!r} has shape {shape}, too large for any array "
                f"(more than {MAX_TENSOR_EXTENT} bytes)",
                where,
            )
    return count * itemsize


def _parse_header(header, data_len, max_tensors, where):
    """Validate the raw header bytes against the data region's length.

    Returns (entries, metadata): entries is a list of (name, code, shape, begin, end)
    sorted by offset, metadata the validated ``__metadata__`` dict.
    """
    if not header.startswith(b"{"):
        raise ModelFileError("header does not start with '{' (not a safetensors file)", where)
    try:
        text = header.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ModelFileError(
            f"header is not valid UTF-8 ({exc.reason} at byte {8 + exc.start} of the file)", where
        ) from None

    # Bound what json.loads may build before it runs: every tensor needs one object and
    # two arrays, and at most MAX_NDIM + 3 commas.
    depth, containers, commas = _json_structure(text)
    if depth > _HEADER_DEPTH:
        raise ModelFileError(
            f"header JSON is nested {depth} levels deep; a model file header has at most "
            f"{_HEADER_DEPTH}",
            where,
        )
    if containers > 2 + 3 * max_tensors or commas > 1 + (MAX_NDIM + 3) * max_tensors:
        raise ModelFileError(
            f"header has {containers} JSON objects/arrays and {commas} commas, more than "
            f"max_tensors={max_tensors} tensors can need: too many tensors or a malformed "
            "header (pass a larger max_tensors if the file is trusted)",
            where,
        )
    obj = _loads(text, "header", where, parse_float=_reject_float)
    if not isinstance(obj, dict):
        raise ModelFileError(f"header is a JSON {type(obj).__name__}, expected an object", where)

    metadata = obj.get("__metadata__")
    if metadata is None:
        raise ModelFileError(
            "header has no '__metadata__' (a plain safetensors file, not a fastnn model file)",
            where,
        )
    if not isinstance(metadata, dict) or sorted(metadata) != sorted((CONFIG_KEY, CHECKSUM_KEY)):
        keys = sorted(metadata) if isinstance(metadata, dict) else type(metadata).__name__
        raise ModelFileError(
            f"header '__metadata__' has keys {keys}, expected {[CONFIG_KEY, CHECKSUM_KEY]} "
            "(not a fastnn model file)",
            where,
        )
    for key, value in metadata.items():
        if not isinstance(value, str):
            raise ModelFileError(
                f"metadata {key!r} is a {type(value).__name__}, expected a str", where
            )
    if not _HEX64.fullmatch(metadata[CHECKSUM_KEY]):
        raise ModelFileError(f"metadata {CHECKSUM_KEY!r} is not 64 lowercase hex digits", where)
    if len(metadata[CONFIG_KEY]) > MAX_CONFIG_BYTES:
        raise ModelFileError(
            f"config JSON has {len(metadata[CONFIG_KEY])} characters, above {MAX_CONFIG_BYTES}",
            where,
        )

    count = len(obj) - 1
    if count > max_tensors:
        raise ModelFileError(
            f"file holds {count} tensors, above max_tensors={max_tensors} (too many tensors)", where
        )
    entries = []
    for name, entry in obj.items():
        if name == "__metadata__":
            continue
        if not name or len(name) > MAX_NAME_CHARS:
            raise ModelFileError(
                f"tensor name of length {len(name)} is outside 1..{MAX_NAME_CHARS}", where
            )
        if not isinstance(entry, dict) or sorted(entry) != sorted(_HEADER_KEYS):
            keys = sorted(entry) if isinstance(entry, dict) else type(entry).__name__
            raise ModelFileError(
                f"tensor {name!r} has entry {keys}, expected keys {list(_HEADER_KEYS)}", where
            )
        code, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if not isinstance(code, str) or code not in DTYPES:
            raise ModelFileError(
                f"tensor {name!r} has dtype {code!r}; fastnn files hold only "
                f"{', '.join(DTYPES)} (unknown dtype)",
                where,
            )
        if (
            not isinstance(shape, list)
            or len(shape) > MAX_NDIM
            or not all(type(dim) is int and dim >= 0 for dim in shape)
        ):
            raise ModelFileError(
                f"tensor {name!r} has shape {str(shape)[:200]}; expected a list of at most "
                f"{MAX_NDIM} non-negative integers",
                where,
            )
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(type(value) is int for value in offsets)
        ):
            raise ModelFileError(
                f"tensor {name!r} has data_offsets {str(offsets)[:200]}; expected [begin, end]",
                where,
            )
        begin, end = offsets
        if not 0 <= begin <= end <= data_len:
            raise ModelFileError(
                f"tensor {name!r} has data_offsets [{begin}, {end}] out of range for a data "
                f"region of {data_len} bytes",
                where,
            )
        nbytes = _tensor_nbytes(name, code, shape, where)
        if nbytes != end - begin:
            raise ModelFileError(
                f"tensor {name!r} of dtype {code} and shape {shape} needs {nbytes} bytes but "
                f"its data_offsets [{begin}, {end}] span {end - begin}",
                where,
            )
        entries.append((name, code, tuple(shape), begin, end))

    entries.sort(key=lambda item: (item[3], item[4]))
    position = 0
    for name, _, _, begin, end in entries:
        if begin < position:
            raise ModelFileError(
                f"tensor {name!r} at data_offsets [{begin}, {end}] overlaps the previous tensor "
                f"(which ends at {position})",
                where,
            )
        if begin > position:
            raise ModelFileError(
                f"data region has a gap of {begin - position} bytes before tensor {name!r}", where
            )
        position = end
    if position != data_len:
        raise ModelFileError(
            f"tensors cover {position} bytes but the data region has {data_len} bytes "
            "(trailing bytes or a damaged header)",
            where,
        )

    # Every byte of the header must be what the writer would have produced for this content,
    # so that a change to whitespace or padding cannot slip past the checksum.
    canonical = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    canonical += b" " * (-len(canonical) % 8)
    if canonical != header:
        raise ModelFileError(
            "header is not in canonical form (changed whitespace, padding or bytes); the file "
            "is damaged",
            where,
        )
    return entries, metadata


def _parse_config(config_json, where):
    """Parse the metadata config JSON with depth and size limits; strip the format keys."""
    depth, containers, commas = _json_structure(config_json)
    if depth > MAX_JSON_DEPTH:
        raise ModelFileError(
            f"config JSON is nested {depth} levels deep, above the limit of {MAX_JSON_DEPTH}",
            where,
        )
    if containers + commas > MAX_CONFIG_ITEMS:
        raise ModelFileError(
            f"config JSON has {containers + commas} objects, arrays and commas, above "
            f"{MAX_CONFIG_ITEMS}",
            where,
        )
    config = _loads(config_json, "config", where)
    if not isinstance(config, dict):
        raise ModelFileError(f"config is a JSON {type(config).__name__}, expected an object", where)
    if config.get("format") != FORMAT_NAME:
        raise ModelFileError(
            f"config 'format' is {config.get('format')!r}, expected {FORMAT_NAME!r}", where
        )
    version = config.get("format_version")
    if type(version) is not int or version < 1:
        raise ModelFileError(
            f"config 'format_version' is {version!r}, expected an integer >= 1", where
        )
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"file was written by a newer fastnn (format_version {version}); this fastnn reads "
            f"format_version {FORMAT_VERSION}",
            where,
        )
    return {key: value for key, value in config.items() if key not in ("format", "format_version")}


# ----------------------------------------------------------------------------- reading


def _foreign_format_hint(head):
    """A short description of a known non-safetensors file type, from its first bytes."""
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "it looks like a pickle file, which fastnn never unpickles"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "it looks like a zip archive (a Keras .keras file or a PyTorch checkpoint?)"
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "it looks like an HDF5 file (a Keras .h5 file?)"
    if head.startswith(b"\x93NUMPY"):
        return "it looks like a NumPy .npy file"
    return "it is not a safetensors file"


def _read_exact(stream, array, where):
    """Fill ``array``'s bytes from ``stream``; ModelFileError if the file ends first."""
    view = memoryview(array.reshape(-1).view(np.uint8))
    filled = 0
    while filled < len(view):
        got = stream.readinto(view[filled:])
        if not got:
            raise ModelFileError("file ended early (was it changed while being read?)", where)
        filled += got


def _read_stream(stream, size, where, max_tensors, max_bytes):
    if size == 0:
        raise ModelFileError("file is empty (0 bytes)", where)
    head = stream.read(16)
    if size < 8:
        raise ModelFileError(f"file has only {size} bytes; {_foreign_format_hint(head)}", where)
    header_len = int.from_bytes(head[:8], "little")
    if not 2 <= header_len <= min(size - 8, MAX_HEADER_BYTES) or head[8:9] != b"{":
        if header_len > size - 8:
            problem = f"header length {header_len} is larger than the {size - 8} bytes after it"
        elif header_len > MAX_HEADER_BYTES:
            problem = f"header length {header_len} is above the limit of {MAX_HEADER_BYTES}"
        elif header_len < 2:
            problem = f"header length {header_len} is too small"
        else:
            problem = "header does not start with '{'"
        raise ModelFileError(f"{problem}; {_foreign_format_hint(head)}", where)
    data_len = size - 8 - header_len
    if data_len > max_bytes:
        raise ModelFileError(
            f"tensor data has {data_len} bytes, above max_bytes={max_bytes}", where
        )

    stream.seek(8)
    header = stream.read(header_len)
    if len(header) != header_len:
        raise ModelFileError(
            "file ended inside the header (was it changed while being read?)", where
        )
    entries, metadata = _parse_header(header, data_len, max_tensors, where)

    # Sizes are now proven to add up to the file's real size, so these allocations are bounded
    # by it; the arrays are handed out only once the checksum matches.
    arrays = []
    for name, code, shape, _, _ in entries:
        array = np.empty(shape, DTYPES[code])
        _read_exact(stream, array, where)
        arrays.append((name, code, array))
    config_json = metadata[CONFIG_KEY]
    digest = _checksum(config_json, arrays)
    if not hmac.compare_digest(digest, metadata[CHECKSUM_KEY]):
        raise ModelFileError(
            "checksum mismatch: the tensors or config were changed after saving (damaged file)",
            where,
        )
    config = _parse_config(config_json, where)
    tensors = {name: array for name, _, array in sorted(arrays, key=lambda item: item[0])}
    return tensors, config


def _fspath(path, argument="path"):
    try:
        return os.fsdecode(os.fspath(path))
    except TypeError:
        raise TypeError(
            f"{argument} must be a str or os.PathLike, got {type(path).__name__}"
        ) from None


def _check_limit(value, argument):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{argument} must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{argument} must be >= 0, got {value}")
    return int(value)


def read_model_file(path, *, max_tensors=DEFAULT_MAX_TENSORS, max_bytes=DEFAULT_MAX_BYTES):
    """Read a file written by ``write_model_file``; return ``(tensors, config)``.

    ``tensors`` maps each name to a fresh little-endian NumPy array (name order), ``config``
    is the caller's dict as saved. Files with more than ``max_tensors`` tensors or more than
    ``max_bytes`` bytes of tensor data are refused. Any problem with the file, including a
    missing file, raises ``ModelFileError`` saying what is wrong.
    """
    max_tensors = _check_limit(max_tensors, "max_tensors")
    max_bytes = _check_limit(max_bytes, "max_bytes")
    where = _fspath(path)
    stream, size = open_regular(where, where)
    with stream:
        try:
            return _read_stream(stream, size, where, max_tensors, max_bytes)
        except OSError as exc:
            raise ModelFileError(f"reading failed: {exc.strerror or exc}", where) from exc


def open_regular(path, where):
    """(binary stream, size) of the regular file at `path`; ModelFileError naming `where` for a missing file, a
    directory, a device or FIFO (opened with O_NONBLOCK, so a FIFO does not hang), or any other failure to open."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise ModelFileError("no such file", where) from None
    except IsADirectoryError:
        raise ModelFileError("it is a directory, not a file", where) from None
    except OSError as exc:
        raise ModelFileError(f"cannot open it: {exc.strerror or exc}", where) from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ModelFileError("it is a directory, not a file" if stat.S_ISDIR(info.st_mode)
                                 else "it is not a regular file", where)
        return os.fdopen(fd, "rb"), info.st_size
    except BaseException:
        os.close(fd)
        raise


# ----------------------------------------------------------------------------- writing


def _dtype_code(dtype):
    if dtype.kind == "f" and dtype.itemsize in (4, 8):
        return "F32" if dtype.itemsize == 4 else "F64"
    if dtype.kind == "i" and dtype.itemsize == 8:
        return "I64"
    return None


def _prepare_tensors(tensors):
    """Validate ``tensors`` and return [(name, code, little-endian C-contiguous array)]."""
    if not isinstance(tensors, dict):
        raise TypeError(
            f"tensors must be a dict of str to numpy.ndarray, got {type(tensors).__name__}"
        )
    prepared = []
    for name, value in tensors.items():
        if not isinstance(name, str):
            raise TypeError(f"tensor names must be str, got {name!r} ({type(name).__name__})")
        if not 1 <= len(name) <= MAX_NAME_CHARS or name == "__metadata__":
            raise ValueError(
                f"tensor name {name[:60]!r} must have 1 to {MAX_NAME_CHARS} characters and not "
                "be '__metadata__'"
            )
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"tensor name {name!r} is not encodable as UTF-8") from None
        if not isinstance(value, np.ndarray):
            raise TypeError(
                f"tensors[{name!r}] must be a numpy.ndarray, got {type(value).__name__}"
            )
        code = _dtype_code(value.dtype)
        if code is None:
            raise TypeError(
                f"tensors[{name!r}] has dtype {value.dtype}; model files hold float32, float64 "
                "or int64 arrays"
            )
        if value.ndim > MAX_NDIM:
            raise ValueError(f"tensors[{name!r}] has {value.ndim} dimensions, above {MAX_NDIM}")
        array = np.asarray(value).astype(DTYPES[code], order="C", copy=False)
        prepared.append((name, code, array))
    prepared.sort(key=lambda item: item[0])
    return prepared


def _check_config_keys(value, where="config"):
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(
                    f"{where} has key {key!r} of type {type(key).__name__}; JSON keys must be str"
                )
            _check_config_keys(item, f"{where}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_config_keys(item, f"{where}[{index}]")


def _config_json(config):
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict, got {type(config).__name__}")
    for key in ("format", "format_version"):
        if key in config:
            raise ValueError(
                f"config must not contain the key {key!r}; it is reserved for the file format"
            )
    full = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, **config}
    try:
        text = json.dumps(full, allow_nan=False, separators=(",", ":"))
    except TypeError as exc:
        raise TypeError(f"config must be JSON-serializable: {exc}") from None
    except (ValueError, RecursionError) as exc:
        raise ValueError(
            f"config must be JSON-serializable without NaN or infinity: {exc}"
        ) from None
    depth, containers, commas = _json_structure(text)
    items = containers + commas
    if depth > MAX_JSON_DEPTH or items > MAX_CONFIG_ITEMS or len(text) > MAX_CONFIG_BYTES:
        raise ValueError(
            f"config is too large to save (nesting depth {depth}, limit {MAX_JSON_DEPTH}; "
            f"{items} items, limit {MAX_CONFIG_ITEMS}; {len(text)} characters, "
            f"limit {MAX_CONFIG_BYTES})"
        )
    _check_config_keys(config)
    return text


def _fsync_directory(directory):
    """Make a rename in ``directory`` durable; best effort (not every OS allows it)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _atomic_write(path, chunks):
    """Write the byte strings ``chunks``, in order, to ``path`` through a new temporary file
    in the same folder.

    Either the whole new file is at ``path`` or the old one is untouched; on any exception,
    KeyboardInterrupt included, the temporary file is removed and the exception re-raised.
    After a hard kill (SIGKILL, power loss) a ``.NAME.*.tmp`` file may remain; it is safe to
    delete.
    """
    directory, base = os.path.split(os.path.abspath(path))
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        mode = None
    # The rename below would replace whatever is at `path`: a directory is refused by the OS, but a device, FIFO or
    # socket (save("/dev/full") as root) would be replaced by a regular file. Only regular files are overwritten.
    if mode is not None and stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "cannot save a model file over a directory", path)
    if mode is not None and not stat.S_ISREG(mode):
        raise ValueError(f"filepath: expected a regular file (or a new one), got {path!r}, which is not a regular "
                         "file (a device, FIFO or socket); nothing was written")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        temp = os.path.join(directory, f".{base}.{secrets.token_hex(8)}.tmp")
        try:
            fd = os.open(temp, flags, 0o666)
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(errno.EEXIST, "no free temporary file name", directory)
    try:
        try:
            os.chmod(temp, stat.S_IMODE(os.stat(path).st_mode))
        except FileNotFoundError:
            pass
        for chunk in chunks:
            view = memoryview(chunk)
            while view:
                written = os.write(fd, view[:_WRITE_CHUNK])
                view = view[written:]
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(temp, path)
    except BaseException:
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    _fsync_directory(directory)


def _encode(tensors, config, where):
    """The safetensors bytes of ``tensors`` and ``config``, as three chunks (length, header, data)."""
    prepared = _prepare_tensors(tensors)
    config_json = _config_json(config)
    metadata = {CONFIG_KEY: config_json, CHECKSUM_KEY: _checksum(config_json, prepared)}
    data = safetensors.numpy.save({name: array for name, _, array in prepared}, metadata=metadata)
    # safetensors emits the metadata keys in hash order; sort them so that saving the same
    # model twice gives the same bytes. The tensor entries and data region stay as written.
    header_len = int.from_bytes(data[:8], "little")
    parsed = json.loads(data[8 : 8 + header_len])
    header = {"__metadata__": dict(sorted(parsed.pop("__metadata__").items())), **parsed}
    header_bytes = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * (-len(header_bytes) % 8)
    body = memoryview(data)[8 + header_len :]
    # Never write a file this module would refuse to read back.
    try:
        _parse_header(header_bytes, len(body), len(prepared), where)
    except ModelFileError as exc:
        raise ValueError(
            f"Cannot write model file {where!r}: the encoded file would not read back "
            f"({exc.reason})"
        ) from None
    return [len(header_bytes).to_bytes(8, "little"), header_bytes, body]


def write_model_file(path, tensors, config):
    """Save ``tensors`` (a dict of str to float32/float64/int64 arrays) and ``config`` (a
    JSON-serializable dict) as one safetensors file at ``path``, atomically.

    The file is written to a temporary file in the same folder, flushed to disk and renamed
    onto ``path``; on any failure the temporary file is removed and an existing file at
    ``path`` is left as it was.
    """
    where = _fspath(path)
    _atomic_write(where, _encode(tensors, config, where))


def model_file_bytes(tensors, config):
    """The bytes ``write_model_file`` would write for ``tensors`` and ``config`` (for pickling,
    sending over a network, or storing in memory); read them back with ``read_model_bytes``."""
    return b"".join(bytes(chunk) for chunk in _encode(tensors, config, "<bytes>"))


def read_model_bytes(data, *, max_tensors=DEFAULT_MAX_TENSORS, max_bytes=DEFAULT_MAX_BYTES,
                     where="<bytes>"):
    """Read bytes made by ``model_file_bytes`` (or a model file's contents); return
    ``(tensors, config)`` with the same checks as ``read_model_file``: any problem raises
    ``ModelFileError`` naming ``where``."""
    max_tensors = _check_limit(max_tensors, "max_tensors")
    max_bytes = _check_limit(max_bytes, "max_bytes")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    view = memoryview(data).cast("B")
    return _read_stream(io.BytesIO(view), len(view), str(where), max_tensors, max_bytes)


def _weight_name(index):
    return f"{index:06d}"


def write_weights_file(path, weights, config=None):
    """Save a list of arrays (as ``model.get_weights()`` returns) in the model file format.

    The arrays are stored under the names ``"000000"``, ``"000001"``, ...; ``config`` is an
    optional dict kept beside them.
    """
    if not isinstance(weights, (list, tuple)):
        raise TypeError(f"weights must be a list of numpy.ndarray, got {type(weights).__name__}")
    tensors = {_weight_name(index): array for index, array in enumerate(weights)}
    write_model_file(path, tensors, {} if config is None else config)


def read_weights_file(path, *, max_tensors=DEFAULT_MAX_TENSORS, max_bytes=DEFAULT_MAX_BYTES):
    """Read a file written by ``write_weights_file``; return ``(weights list, config)``."""
    tensors, config = read_model_file(path, max_tensors=max_tensors, max_bytes=max_bytes)
    expected = [_weight_name(index) for index in range(len(tensors))]
    if list(tensors) != expected:
        names = list(tensors)[:5]
        raise ModelFileError(
            f"tensor names {names}... are not the list indices a weights file holds", _fspath(path)
        )
    return list(tensors.values()), config
