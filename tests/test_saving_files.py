"""Tests of fastnn.saving: the model-file format, its integrity checks and atomic writes.

Covers round trips, every truncation, seeded byte flips, hand-made hostile headers (each must
fail fast, measured with tracemalloc), pickles that must never run, interrupted and killed
writes, and a pure-Python run of the fuzz target in tests/fuzz_loader.py.
"""

import errno
import importlib.util
import io
import json
import os
import pickle
import signal
import stat
import subprocess
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
import safetensors
import safetensors.numpy

from fastnn import saving
from fastnn.errors import ModelFileError
from fastnn.saving import (
    check_json_depth,
    read_model_file,
    read_weights_file,
    write_model_file,
    write_weights_file,
)

CONFIG = {
    "class_name": "Sequential",
    "layers": [
        {"class_name": "Dense", "config": {"units": 3, "activation": "relu", "use_bias": True}},
        {"class_name": "Dense", "config": {"units": 1, "activation": None}},
    ],
    "compile": {"optimizer": {"name": "adam", "learning_rate": 0.001}, "loss": "mse"},
    "text": "h\u00e9llo \u2713 \"quoted\" back\\slash",
}


def sample_tensors():
    rng = np.random.RandomState(0)
    return {
        "dense/kernel": rng.standard_normal((4, 3)).astype(np.float32),
        "dense/bias": rng.standard_normal(3).astype(np.float32),
        "dense_1/kernel": rng.standard_normal((3, 1)),
        "dense_1/bias": np.zeros(1),
        "optimizer/iterations": np.array(12, np.int64),
        "optimizer/empty": np.zeros((0, 3), np.float32),
        "scalar": np.array(np.pi, np.float32),
    }


def assert_bitwise_equal(got, expected):
    assert list(got) == sorted(expected)
    for name, array in expected.items():
        assert got[name].dtype == array.dtype, name
        assert got[name].shape == array.shape, name
        assert got[name].tobytes() == array.tobytes(), name


@pytest.fixture
def model_path(tmp_path):
    path = tmp_path / "model.fnn"
    write_model_file(path, sample_tensors(), CONFIG)
    return path


# ----------------------------------------------------------------------------- round trips


def test_round_trip_is_bitwise(model_path):
    tensors, config = read_model_file(model_path)
    assert_bitwise_equal(tensors, sample_tensors())
    assert config == CONFIG
    assert all(array.flags.c_contiguous and array.flags.writeable for array in tensors.values())


def test_round_trip_keeps_nan_inf_and_signed_zero_bits(tmp_path):
    special = np.array([np.nan, -np.nan, np.inf, -np.inf, -0.0, 1e-45, 3.4e38], np.float32)
    path = tmp_path / "special.fnn"
    write_model_file(str(path), {"x": special, "y": special.astype(np.float64)}, {})
    tensors, config = read_model_file(str(path))
    assert tensors["x"].tobytes() == special.tobytes()
    assert tensors["y"].tobytes() == special.astype(np.float64).tobytes()
    assert config == {}


def test_non_contiguous_and_big_endian_inputs_round_trip_by_value(tmp_path):
    base = np.arange(24, dtype=np.float64).reshape(4, 6)
    tensors = {
        "strided": base[:, ::2],
        "transposed": base.T.astype(np.float32),
        "big_endian": base.astype(">f8"),
        "big_endian_int": np.arange(5, dtype=">i8"),
    }
    path = tmp_path / "layout.fnn"
    write_model_file(path, tensors, {})
    loaded, _ = read_model_file(path)
    for name, array in tensors.items():
        assert loaded[name].dtype == array.dtype.newbyteorder("<")
        np.testing.assert_array_equal(loaded[name], array)


def test_model_without_tensors_round_trips(tmp_path):
    path = tmp_path / "empty.fnn"
    write_model_file(path, {}, {"note": "no weights yet"})
    assert read_model_file(path) == ({}, {"note": "no weights yet"})


def test_file_is_standard_safetensors(model_path):
    data = model_path.read_bytes()
    loaded = safetensors.numpy.load(data)
    assert_bitwise_equal(dict(sorted(loaded.items())), sample_tensors())
    with safetensors.safe_open(str(model_path), framework="np") as handle:
        metadata = handle.metadata()
    stored = json.loads(metadata["fastnn"])
    assert stored["format"] == "fastnn" and stored["format_version"] == 1
    assert {k: v for k, v in stored.items() if k not in ("format", "format_version")} == CONFIG
    assert len(metadata["fastnn_sha256"]) == 64


def test_saving_the_same_model_gives_identical_bytes(tmp_path):
    contents = set()
    for index in range(8):
        path = tmp_path / f"m{index}.fnn"
        write_model_file(path, sample_tensors(), CONFIG)
        contents.add(path.read_bytes())
    assert len(contents) == 1


def test_rewrite_replaces_file_and_keeps_its_permissions(model_path):
    os.chmod(model_path, 0o640)
    write_model_file(model_path, {"a": np.ones(2)}, {"v": 2})
    assert read_model_file(model_path)[1] == {"v": 2}
    assert stat.S_IMODE(os.stat(model_path).st_mode) == 0o640
    assert os.listdir(model_path.parent) == ["model.fnn"]


def test_weights_file_helpers_round_trip(tmp_path):
    weights = [np.ones((2, 3), np.float32), np.arange(3.0)]
    path = tmp_path / "w.weights.fnn"
    write_weights_file(path, weights)
    loaded, config = read_weights_file(path)
    assert config == {}
    assert len(loaded) == 2
    for got, expected in zip(loaded, weights):
        assert got.dtype == expected.dtype and got.tobytes() == expected.tobytes()


def test_read_weights_file_rejects_a_model_file(model_path):
    with pytest.raises(ModelFileError, match="list indices"):
        read_weights_file(model_path)


@pytest.mark.parametrize(
    "tensors, config, error, match",
    [
        ({"a": [1.0, 2.0]}, {}, TypeError, r"tensors\['a'\] must be a numpy.ndarray, got list"),
        ({"a": np.ones(2, np.float16)}, {}, TypeError, "dtype float16"),
        ({"a": np.ones(2, np.int32)}, {}, TypeError, "dtype int32"),
        ({"a": np.array(["x"])}, {}, TypeError, "dtype <U1"),
        ({1: np.ones(2)}, {}, TypeError, "tensor names must be str"),
        ({"": np.ones(2)}, {}, ValueError, "tensor name"),
        ({"__metadata__": np.ones(2)}, {}, ValueError, "__metadata__"),
        ({"x" * 513: np.ones(2)}, {}, ValueError, "1 to 512 characters"),
        ({"\ud800": np.ones(2)}, {}, ValueError, "not encodable"),
        ([np.ones(2)], {}, TypeError, "tensors must be a dict"),
        ({}, [], TypeError, "config must be a dict, got list"),
        ({}, {"format": "x"}, ValueError, "reserved"),
        ({}, {"lr": float("nan")}, ValueError, "NaN or infinity"),
        ({}, {"s": {1, 2}}, TypeError, "JSON-serializable"),
        ({}, {"layers": [{1: "a"}]}, TypeError, r"config\['layers'\]\[0\] has key 1"),
    ],
)
def test_write_rejects_bad_arguments(tmp_path, tensors, config, error, match):
    path = tmp_path / "bad.fnn"
    with pytest.raises(error, match=match):
        write_model_file(path, tensors, config)
    assert os.listdir(tmp_path) == []


def test_write_rejects_too_deep_config(tmp_path):
    deep = []
    for _ in range(80):
        deep = [deep]
    with pytest.raises(ValueError, match="nesting depth 8[0-9]"):
        write_model_file(tmp_path / "deep.fnn", {}, {"deep": deep})


def test_path_and_limit_arguments_are_checked(model_path):
    with pytest.raises(TypeError, match="path must be a str or os.PathLike, got int"):
        write_model_file(3, {}, {})
    with pytest.raises(TypeError, match="path must be a str or os.PathLike, got NoneType"):
        read_model_file(None)
    with pytest.raises(ValueError, match="max_tensors must be >= 0, got -1"):
        read_model_file(model_path, max_tensors=-1)
    with pytest.raises(TypeError, match="max_bytes must be an int, got str"):
        read_model_file(model_path, max_bytes="1")


def test_model_file_error_is_a_value_error_that_pickles():
    error = ModelFileError("checksum mismatch", "/x/m.fnn")
    assert isinstance(error, ValueError)
    assert str(error) == "Cannot read model file '/x/m.fnn': checksum mismatch"
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.reason, copy.path) == (str(error), error.reason, error.path)


def test_check_json_depth():
    assert check_json_depth('{"a": [1, {"b": []}]}') == 4
    assert check_json_depth('"[[[[" ') == 0
    assert check_json_depth('["\\"[[[", {}]') == 2
    assert check_json_depth("[" * 64 + "]" * 64) == 64
    with pytest.raises(ValueError, match="65 levels deep, above the limit of 64"):
        check_json_depth("[" * 65 + "]" * 65)
    start = time.perf_counter()
    with pytest.raises(ValueError, match="1000000 levels"):
        check_json_depth("[" * 10**6)
    assert time.perf_counter() - start < 2.0


# ----------------------------------------------------------------------------- damage


def test_every_truncation_is_rejected(model_path, tmp_path):
    data = model_path.read_bytes()
    damaged = tmp_path / "cut.fnn"
    for length in range(len(data)):
        damaged.write_bytes(data[:length])
        with pytest.raises(ModelFileError):
            read_model_file(damaged)
    damaged.write_bytes(data + b"\0")
    with pytest.raises(ModelFileError, match="tensors cover"):
        read_model_file(damaged)


def _regions(data):
    header_len = int.from_bytes(data[:8], "little")
    return {"prefix": range(0, 8), "header": range(8, 8 + header_len),
            "data": range(8 + header_len, len(data))}


def test_1000_seeded_single_byte_changes_are_rejected(model_path, tmp_path):
    data = model_path.read_bytes()
    regions = _regions(data)
    hits = dict.fromkeys(regions, 0)
    rng = np.random.RandomState(1234)
    damaged = tmp_path / "flip.fnn"
    for _ in range(1000):
        position = rng.randint(len(data))
        changed = bytearray(data)
        changed[position] ^= rng.randint(1, 256)  # a new value, never the old one
        damaged.write_bytes(bytes(changed))
        with pytest.raises(ModelFileError):
            read_model_file(damaged)
        hits[next(name for name, span in regions.items() if position in span)] += 1
    assert all(count > 0 for count in hits.values()), hits


def test_whitespace_and_bit_changes_at_every_position_are_rejected(model_path, tmp_path):
    # JSON whitespace (tab, newline, carriage return, space) is where a checksum over the
    # parsed header alone would miss a change; this covers it at every byte.
    data = model_path.read_bytes()
    damaged = tmp_path / "ws.fnn"
    for position in range(len(data)):
        values = {data[position] ^ 0x01, data[position] ^ 0x80, 0x20, 0x09, 0x0A, 0x0D}
        values.discard(data[position])
        for value in values:
            changed = bytearray(data)
            changed[position] = value
            damaged.write_bytes(bytes(changed))
            with pytest.raises(ModelFileError):
                read_model_file(damaged)


def test_changed_padding_is_reported_as_non_canonical(tmp_path):
    path = tmp_path / "padded.fnn"
    for extra in range(8):  # find a config length that leaves padding after the header JSON
        write_model_file(path, {"w": np.ones(2)}, {"pad": "x" * extra})
        data = path.read_bytes()
        header_end = 8 + int.from_bytes(data[:8], "little")
        if data[header_end - 1] == ord(" "):
            break
    assert data[header_end - 1] == ord(" ")
    for whitespace in b"\t\n\r":
        changed = bytearray(data)
        changed[header_end - 1] = whitespace
        path.write_bytes(bytes(changed))
        with pytest.raises(ModelFileError, match="not in canonical form"):
            read_model_file(path)


# ----------------------------------------------------------------------------- hostile files

CONFIG_JSON = json.dumps({"format": "fastnn", "format_version": 1}, separators=(",", ":"))


def build_file(entries, data=b"", config_json=CONFIG_JSON, checksum="0" * 64, metadata=None):
    """A canonical safetensors file with the given header entries, data and metadata."""
    if metadata is None:
        metadata = {"fastnn": config_json, "fastnn_sha256": checksum}
    header = {"__metadata__": metadata, **entries}
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + data


def raw_file(header, data=b"", header_len=None):
    header += b" " * (-len(header) % 8)
    length = len(header) if header_len is None else header_len
    return length.to_bytes(8, "little") + header + data


def signed_file(config_json, tensors):
    """A file with a correct checksum, so that checks after the checksum are reached."""
    prepared = [(name, saving._dtype_code(a.dtype), a) for name, a in sorted(tensors.items())]
    entries, offset = {}, 0
    for name, code, array in prepared:
        entries[name] = {"dtype": code, "shape": list(array.shape),
                         "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    data = b"".join(array.tobytes() for _, _, array in prepared)
    return build_file(entries, data, config_json, saving._checksum(config_json, prepared))


F32_4 = {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}


def entry(dtype="F32", shape=(4,), offsets=(0, 16)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


HOSTILE = {
    "header length 2**63": (raw_file(b"{}", header_len=2**63), "larger than"),
    "header length -1 as int64": (raw_file(b"{}", header_len=2**64 - 1), "larger than"),
    "header longer than file": (raw_file(b'{"a":1}', b"x" * 8, header_len=24), "larger than"),
    "header length 0": (raw_file(b"", b"{}" + b" " * 30, header_len=0), "too small"),
    "header not an object": (raw_file(b"[1,2]"), "does not start with"),
    "bad UTF-8": (raw_file(b'{"\xff\xfe":1}'), "not valid UTF-8"),
    "overlong UTF-8": (raw_file(b'{"\xc0\xaf":1}'), "not valid UTF-8"),
    "invalid JSON": (raw_file(b'{"a":'), "not valid JSON"),
    "NaN in header": (raw_file(b'{"a":NaN}'), "non-standard JSON constant"),
    "float in header": (build_file({"a": entry(offsets=(0.0, 16))}, b"\0" * 16), "unexpected number"),
    "duplicate tensor": (raw_file(b'{"a":{},"a":{}}'), "duplicate key 'a'"),
    "10,000-deep header nesting": (raw_file(b'{"a":' + b"[" * 10_000 + b"]" * 10_000 + b"}"), "nested 10001 levels"),
    "unterminated deep string": (raw_file(b'{"' + b'\\"[' * 5000), "not valid JSON"),
    "no metadata": (raw_file(b'{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}', b"\0" * 4), "plain safetensors"),
    "foreign metadata": (build_file({}, metadata={"format": "pt"}), "has keys"),
    "metadata value not str": (build_file({}, metadata={"fastnn": {}, "fastnn_sha256": "0" * 64}), "expected a str"),
    "bad checksum text": (build_file({}, checksum="Z" * 64), "64 lowercase hex"),
    "checksum mismatch": (build_file({"a": F32_4}, b"\0" * 16), "checksum mismatch"),
    "unknown dtype F16": (build_file({"a": entry("F16", (8,))}, b"\0" * 16), "unknown dtype"),
    "unknown dtype BF16": (build_file({"a": entry("BF16", (8,))}, b"\0" * 16), "unknown dtype"),
    "unknown dtype object": (build_file({"a": entry("O", (2,))}, b"\0" * 16), "unknown dtype"),
    "dtype not a string": (build_file({"a": entry(7)}, b"\0" * 16), "unknown dtype"),
    "negative dim": (build_file({"a": entry(shape=(-4,))}, b"\0" * 16), "non-negative integers"),
    "boolean dim": (build_file({"a": entry(shape=(True,), offsets=(0, 4))}, b"\0" * 4), "non-negative integers"),
    "too many dims": (build_file({"a": entry(shape=(1,) * 33, offsets=(0, 4))}, b"\0" * 4), "at most 32"),
    "missing key": (build_file({"a": {"dtype": "F32", "shape": [4]}}, b"\0" * 16), "expected keys"),
    "offsets out of range": (build_file({"a": entry(shape=(2**28,), offsets=(0, 2**30))}, b"\0" * 16), "out of range"),
    "offsets reversed": (build_file({"a": entry(offsets=(16, 0))}, b"\0" * 16), "out of range"),
    "offsets not a pair": (build_file({"a": entry(offsets=(0, 8, 16))}, b"\0" * 16), r"expected \[begin, end\]"),
    "overlapping offsets": (build_file({"a": entry(offsets=(0, 16)), "b": entry(offsets=(8, 24))}, b"\0" * 24), "overlaps"),
    "gap between tensors": (build_file({"a": entry(offsets=(0, 16)), "b": entry(offsets=(20, 36))}, b"\0" * 36), "gap of 4 bytes"),
    "trailing data": (build_file({"a": F32_4}, b"\0" * 40), "tensors cover 16 bytes"),
    "span mismatch": (build_file({"a": entry(shape=(5,))}, b"\0" * 16), "needs 20 bytes"),
    "shape product overflows int64": (build_file({"a": entry(shape=(2**32, 2**32, 2**32))}, b"\0" * 16), "too large"),
    "shape bytes wrap to 0 in int64": (build_file({"a": entry(shape=(2**62, 4), offsets=(0, 0))}), "too large"),
    "zero-size shape too large for numpy": (build_file({"a": entry(shape=(2**62, 2**62, 0), offsets=(0, 0))}), "too large"),
    "huge int in header": (raw_file(b'{"a":' + b"9" * 5000 + b"}"), "not valid JSON"),
    "empty file": (b"", "empty"),
    "short file": (b"\x01\x00", "only 2 bytes"),
    "random bytes": (np.random.RandomState(5).bytes(4096), "not a safetensors file"),
}


def assert_rejected_fast(path, match, **limits):
    """read_model_file must raise ModelFileError(match), naming path, quickly and small."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(ModelFileError, match=match) as info:
            read_model_file(path, **limits)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    elapsed = time.perf_counter() - start
    assert str(path) in str(info.value)
    assert peak < 4_000_000, f"peak {peak} bytes traced"
    assert elapsed < 5.0
    return info.value


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_file_fails_fast(tmp_path, name):
    data, match = HOSTILE[name]
    path = tmp_path / "hostile.fnn"
    path.write_bytes(data)
    assert_rejected_fast(path, match)


def test_header_above_the_header_cap_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "big_header.fnn"
    path.write_bytes(build_file({"a": F32_4}, b"\0" * 16))
    monkeypatch.setattr(saving, "MAX_HEADER_BYTES", 64)
    assert_rejected_fast(path, "above the limit of 64")


def test_too_many_tensors(tmp_path):
    path = tmp_path / "many.fnn"
    zero = entry(shape=(0,), offsets=(0, 0))
    path.write_bytes(build_file({f"t{i}": zero for i in range(4)}))
    assert_rejected_fast(path, "too many tensors", max_tensors=3)
    # Past the default limit: refused from a bracket count, before json.loads builds anything.
    path.write_bytes(build_file({f"t{i}": zero for i in range(10_001)}))
    assert_rejected_fast(path, "too many tensors")


def test_max_bytes_is_enforced_before_reading(model_path):
    assert_rejected_fast(model_path, "above max_bytes=8", max_bytes=8)


def test_big_declared_tensor_in_small_file_is_never_allocated(tmp_path):
    # A naive reader would allocate 4 GiB from the shape before noticing the file is small.
    path = tmp_path / "liar.fnn"
    path.write_bytes(build_file({"a": entry(shape=(2**30,), offsets=(0, 2**32))}, b"\0" * 64))
    assert_rejected_fast(path, "out of range")


@pytest.mark.parametrize(
    "config_json, match",
    [
        ('{"format":"fastnn","format_version":1,"x":' + "[" * 10_000 + "]" * 10_000 + "}", "nested 10001 levels"),
        ("[1,2]", "expected an object"),
        ('{"format":"fastnn","format_version":2}', "newer fastnn"),
        ('{"format":"fastnn","format_version":"1"}', "expected an integer"),
        ('{"format":"keras","format_version":1}', "'format' is 'keras'"),
        ('{"format":"fastnn","format_version":1,"a":1,"a":2}', "duplicate key 'a'"),
        ('{"format":"fastnn","format_version":1,"lr":NaN}', "non-standard JSON constant NaN"),
        ('{"format":"fastnn"', "config is not valid JSON"),
    ],
)
def test_hostile_config_with_valid_checksum(tmp_path, config_json, match):
    path = tmp_path / "config.fnn"
    path.write_bytes(signed_file(config_json, {"w": np.ones(3, np.float32)}))
    assert_rejected_fast(path, match)


def test_signed_file_helper_builds_loadable_files(tmp_path):
    # Guards the hostile-config test above: with a valid config the same builder loads.
    path = tmp_path / "ok.fnn"
    path.write_bytes(signed_file(CONFIG_JSON, {"w": np.ones(3, np.float32)}))
    tensors, config = read_model_file(path)
    assert config == {} and tensors["w"].tolist() == [1.0, 1.0, 1.0]


def test_non_canonical_header_with_valid_checksum_is_rejected(tmp_path):
    tensors = {"w": np.ones(3, np.float32)}
    good = signed_file(CONFIG_JSON, tensors)
    header_len = int.from_bytes(good[:8], "little")
    header = json.loads(good[8 : 8 + header_len])
    pretty = json.dumps(header, indent=1).encode()
    pretty += b" " * (-len(pretty) % 8)
    path = tmp_path / "pretty.fnn"
    path.write_bytes(len(pretty).to_bytes(8, "little") + pretty + good[8 + header_len :])
    assert_rejected_fast(path, "canonical")


class _Payload:
    """Unpickling this creates the marker file: proof that a loader ran pickle."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').close()",))


def test_pickle_disguised_as_model_file_is_never_unpickled(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Payload(str(marker)), protocol=4)
    for name in ("model.fnn", "model.safetensors", "model.keras"):
        path = tmp_path / name
        path.write_bytes(payload)
        error = assert_rejected_fast(path, "pickle")
        assert not marker.exists()
        assert "never unpickles" in str(error)
    # A pickle behind a safetensors-looking prefix is refused as well.
    path = tmp_path / "prefixed.fnn"
    path.write_bytes(len(payload).to_bytes(8, "little") + payload)
    assert_rejected_fast(path, "does not start with")
    assert not marker.exists()
    pickle.loads(payload)  # the payload is live: unpickling it does create the marker
    assert marker.exists()


def test_zip_and_other_formats_are_named(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("config.json", "{}")
    cases = {
        "zip.keras": (buffer.getvalue(), "zip archive"),
        "model.h5": (b"\x89HDF\r\n\x1a\n" + b"\0" * 100, "HDF5"),
        "a.npy": (b"\x93NUMPY\x01\x00" + b"\0" * 100, "NumPy .npy"),
    }
    for name, (data, match) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert_rejected_fast(path, match)


def test_missing_directory_and_fifo_paths(tmp_path):
    with pytest.raises(ModelFileError, match="no such file"):
        read_model_file(tmp_path / "missing.fnn")
    with pytest.raises(ModelFileError, match="directory"):
        read_model_file(tmp_path)
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "fifo"
        os.mkfifo(fifo)
        with pytest.raises(ModelFileError, match="not a regular file"):
            read_model_file(fifo)


# ----------------------------------------------------------------------------- atomic writes

NEW_TENSORS = {"big": np.arange(3 << 18, dtype=np.float64)}  # 6 MiB: several write chunks


def _fail_writes_half_way(monkeypatch, exception):
    """Make os.write write half of its first chunk to a file, then raise ``exception``."""
    real_write = os.write
    calls = []

    def write(fd, data):
        if fd <= 2:
            return real_write(fd, data)
        calls.append(len(data))
        if len(calls) == 1:
            return real_write(fd, bytes(data)[: len(data) // 2])
        raise exception

    monkeypatch.setattr(os, "write", write)
    return calls


@pytest.mark.parametrize(
    "exception",
    [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()],
    ids=["disk-full", "ctrl-c"],
)
def test_interrupted_write_keeps_old_file_and_leaves_no_temp(model_path, monkeypatch, exception):
    old = model_path.read_bytes()
    calls = _fail_writes_half_way(monkeypatch, exception)
    with pytest.raises(type(exception)):
        write_model_file(model_path, NEW_TENSORS, {"new": True})
    monkeypatch.undo()
    assert len(calls) == 2
    assert model_path.read_bytes() == old
    assert os.listdir(model_path.parent) == ["model.fnn"]
    assert read_model_file(model_path)[1] == CONFIG


@pytest.mark.parametrize("function", ["replace", "fsync"])
@pytest.mark.parametrize("exception", [OSError(errno.EIO, "I/O error"), KeyboardInterrupt()],
                         ids=["oserror", "ctrl-c"])
def test_failed_fsync_or_rename_keeps_old_file(model_path, monkeypatch, function, exception):
    old = model_path.read_bytes()

    def fail(*args, **kwargs):
        raise exception

    monkeypatch.setattr(os, function, fail)
    with pytest.raises(type(exception)):
        write_model_file(model_path, NEW_TENSORS, {"new": True})
    monkeypatch.undo()
    assert model_path.read_bytes() == old
    assert os.listdir(model_path.parent) == ["model.fnn"]


def test_failed_first_write_leaves_nothing(tmp_path, monkeypatch):
    path = tmp_path / "new.fnn"
    _fail_writes_half_way(monkeypatch, OSError(errno.ENOSPC, "No space left on device"))
    with pytest.raises(OSError, match="No space left"):
        write_model_file(path, NEW_TENSORS, {})
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []


# Run in a child process (both here and in the child): two tensor sets that differ everywhere.
_KILL_SETS = """
import numpy as np
def kill_sets():
    rng = np.random.RandomState(99)
    a = {"w": rng.standard_normal((128, 256)).astype(np.float32), "b": np.arange(7.0)}
    b = {"w": rng.standard_normal((128, 256)).astype(np.float32), "b": -np.arange(9.0),
         "extra": np.ones(3, np.int64)}
    return [(a, {"which": 0}), (b, {"which": 1})]
"""

_KILL_CHILD = _KILL_SETS + """
import sys, types
stub = types.ModuleType("fastnn")  # import fastnn.saving without the package __init__
stub.__path__ = [sys.argv[1]]
sys.modules["fastnn"] = stub
from fastnn.saving import write_model_file
sets = kill_sets()
i = 0
while True:
    tensors, config = sets[i % 2]
    write_model_file(sys.argv[2], tensors, config)
    if i == 0:
        print("ready", flush=True)
    i += 1
"""


def test_sigkill_during_saves_leaves_one_complete_file(tmp_path):
    namespace = {}
    exec(_KILL_SETS, namespace)
    sets = namespace["kill_sets"]()
    package_dir = str(Path(saving.__file__).resolve().parent)
    path = tmp_path / "model.fnn"
    rng = np.random.RandomState(2024)
    seen = [0, 0]
    leftovers = 0
    start = time.perf_counter()
    for trial in range(50):
        child = subprocess.Popen(
            [sys.executable, "-c", _KILL_CHILD, package_dir, str(path)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        try:
            line = child.stdout.readline()
            assert line == b"ready\n", child.stderr.read().decode()[-2000:]
            time.sleep(rng.uniform(0.0, 0.03))
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
            child.stdout.close()
            child.stderr.close()
        assert child.returncode == -signal.SIGKILL
        tensors, config = read_model_file(path)
        which = config["which"]
        assert_bitwise_equal(tensors, sets[which][0])
        seen[which] += 1
        for name in os.listdir(tmp_path):
            if name != "model.fnn":
                assert name.startswith(".model.fnn.") and name.endswith(".tmp")
                leftovers += 1
                os.unlink(tmp_path / name)
    elapsed = time.perf_counter() - start
    print(f"\nkill trials: loaded set A {seen[0]}x, set B {seen[1]}x; killed mid-write "
          f"(temp file left) in {leftovers} of 50; {elapsed:.1f} s")
    assert seen[0] > 0 and seen[1] > 0
    assert elapsed < 60


# ----------------------------------------------------------------------------- fuzzing


def _load_fuzz_module():
    spec = importlib.util.spec_from_file_location(
        "fastnn_fuzz_loader", Path(__file__).with_name("fuzz_loader.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fuzz_target_without_atheris():
    fuzz = _load_fuzz_module()
    seeds = fuzz.seed_inputs()
    for seed in seeds:
        assert fuzz.check_bytes(seed)  # the seeds are valid files
    rng = np.random.RandomState(31337)
    accepted = rejected = 0
    for index in range(3000):
        if index % 10 == 9:  # pure noise, sometimes behind a plausible header length
            data = rng.bytes(rng.randint(0, 300))
            if index % 20 == 19:
                data = (len(data) // 2).to_bytes(8, "little") + b"{" + data
        else:
            data = fuzz.mutate(seeds[index % len(seeds)], rng)
        if fuzz.check_bytes(data):  # any other exception than ModelFileError fails the test
            accepted += 1
            assert data in seeds, "a damaged file loaded"
        else:
            rejected += 1
    print(f"\nfuzz: {rejected} rejected, {accepted} accepted (unchanged seeds) of 3000")
    assert rejected >= 2900
