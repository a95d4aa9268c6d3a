"""Tests of fastnn.datasets: the shipped tables, the IDX / CIFAR-binary parsers, the file lookup
order, downloads against a local HTTP server, and the synthetic toy sets.

No test touches the internet, the real home folder or (except the one Debian test, which only
reads) the system folders: the `isolated` fixture points HOME, FASTNN_DATA, FASTNN_DATASETS_URL
and the system folder list at tmp_path.
"""

import ast
import gzip
import hashlib
import http.server
import io
import os
import pathlib
import socket
import struct
import tarfile
import threading

import numpy as np
import pytest

from fastnn import datasets
from fastnn.datasets import _files, _formats, advertising, boston_housing, cifar10, fashion_mnist, mnist, toy

DATA_DIR = pathlib.Path(datasets.__file__).parent / "data"
IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


# ---------------------------------------------------------------- helpers and fixtures

def idx_bytes(a, type_code=0x08):
    dtype = _formats.IDX_TYPES[type_code]
    header = bytes([0, 0, type_code, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape)
    return header + np.ascontiguousarray(a, dtype=dtype).tobytes()


def write(path, data, gz=False):
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def make_idx_set(folder, seed, n_train=6, n_test=4, gz=True):
    """Write a small MNIST-like set (labels all equal to `seed % 10`, so sets are told apart)."""
    rng = np.random.default_rng(seed)
    arrays = [rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
              np.full(n_train, seed % 10, dtype=np.uint8),
              rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              np.full(n_test, seed % 10, dtype=np.uint8)]
    for name, a in zip(IDX_NAMES, arrays):
        write(pathlib.Path(folder) / (name + (".gz" if gz else "")), idx_bytes(a), gz)
    return arrays


def cifar_records(n, seed):
    rng = np.random.default_rng(seed)
    rec = rng.integers(0, 256, (n, _formats.CIFAR_RECORD), dtype=np.uint8)
    rec[:, 0] = rng.integers(0, 10, n)
    return rec


def make_cifar_folder(folder, n=3, seed=0):
    """Six small batch files; returns the raw records of the 5 training batches and the test one."""
    recs = {b: cifar_records(n, seed + i) for i, b in enumerate(cifar10.BATCHES)}
    for b, r in recs.items():
        write(pathlib.Path(folder) / b, r.tobytes())
    return recs


def cifar_tar(path, recs, top=cifar10.SUBDIR):
    with tarfile.open(path, "w:gz") as tar:
        for b, r in recs.items():
            data = r.tobytes()
            info = tarfile.TarInfo(f"{top}/{b}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def sha256(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """HOME, FASTNN_DATA and system folders inside tmp_path; downloads go to a closed port."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("FASTNN_DATA", raising=False)
    monkeypatch.setenv("FASTNN_DATASETS_URL", closed_port_url())
    monkeypatch.setattr(_files, "SYSTEM_DIRS", (str(tmp_path / "system"),))
    return tmp_path


def closed_port_url():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_root(tmp_path):
    """A local HTTP server on 127.0.0.1 serving tmp_path/'www'; yields (folder, base URL)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = lambda *a, **k: _QuietHandler(*a, directory=str(root), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


# ---------------------------------------------------------------- Boston housing, Advertising

def test_boston_split_matches_direct_computation_from_csv():
    table = np.genfromtxt(DATA_DIR / "boston_housing.csv", delimiter=",", skip_header=1)
    assert table.shape == (506, 14)
    order = np.random.RandomState(113).permutation(506)
    (x_train, y_train), (x_test, y_test) = boston_housing.load_data()
    assert x_train.shape == (404, 13) and y_train.shape == (404,)
    assert x_test.shape == (102, 13) and y_test.shape == (102,)
    assert x_train.dtype == np.float64 and y_train.dtype == np.float64
    np.testing.assert_array_equal(x_train, table[order[:404], :13])
    np.testing.assert_array_equal(y_train, table[order[:404], 13])
    np.testing.assert_array_equal(x_test, table[order[404:], :13])
    np.testing.assert_array_equal(y_test, table[order[404:], 13])


def test_boston_matches_keras_first_rows():
    # Values printed by keras.datasets.boston_housing.load_data() with its defaults.
    (x_train, y_train), (_, y_test) = boston_housing.load_data()
    np.testing.assert_array_equal(y_train[:5], [15.2, 42.3, 50.0, 21.1, 17.7])
    np.testing.assert_array_equal(y_test[:5], [7.2, 18.8, 19.0, 27.0, 22.2])
    np.testing.assert_array_equal(
        x_train[0], [1.23247, 0.0, 8.14, 0.0, 0.538, 6.142, 91.7, 3.9769, 4.0, 307.0, 21.0, 396.9, 18.72])


def test_boston_other_split_and_seed():
    (x1, _), (x2, _) = boston_housing.load_data(test_split=0.1, seed=7)
    assert len(x1) == int(506 * 0.9) and len(x1) + len(x2) == 506
    (x3, _), _ = boston_housing.load_data(test_split=0.1, seed=8)
    assert not np.array_equal(x1, x3)
    all_rows = np.concatenate([x1, x2])
    table = np.genfromtxt(DATA_DIR / "boston_housing.csv", delimiter=",", skip_header=1)[:, :13]
    np.testing.assert_array_equal(np.sort(all_rows, axis=0), np.sort(table, axis=0))


@pytest.mark.parametrize("bad", [1.0, -0.1, 1.5])
def test_boston_rejects_bad_test_split(bad):
    with pytest.raises(ValueError, match=r"test_split must be in \[0, 1\)"):
        boston_housing.load_data(test_split=bad)


def test_boston_rejects_bad_seed_and_type():
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        boston_housing.load_data(seed=1.5)
    with pytest.raises(TypeError, match="test_split must be a number"):
        boston_housing.load_data(test_split="0.2")


def test_boston_reads_keras_npz_without_pickle(tmp_path):
    table = np.genfromtxt(DATA_DIR / "boston_housing.csv", delimiter=",", skip_header=1)
    np.savez(tmp_path / "boston_housing.npz", x=table[:, :13], y=table[:, 13])
    got = boston_housing.load_data(path=tmp_path / "boston_housing.npz")
    want = boston_housing.load_data()
    for a, b in zip(got[0] + got[1], want[0] + want[1]):
        np.testing.assert_array_equal(a, b)
    np.savez(tmp_path / "evil.npz", x=np.array([{"a": 1}], dtype=object), y=np.zeros(1))
    with pytest.raises(ValueError):
        boston_housing.load_data(path=tmp_path / "evil.npz")
    np.savez(tmp_path / "wrong.npz", x=np.zeros((5, 12)), y=np.zeros(5))
    with pytest.raises(ValueError, match=r"x \(n, 13\)"):
        boston_housing.load_data(path=tmp_path / "wrong.npz")


def test_advertising_whole_table_by_default():
    (x, y), (x_test, y_test) = advertising.load_data()
    assert x.shape == (200, 3) and y.shape == (200,)
    assert x.dtype == np.float64 and y.dtype == np.float64
    assert x_test.shape == (0, 3) and y_test.shape == (0,)
    # first and last rows of the book's table; the index column is gone
    np.testing.assert_array_equal(x[0], [230.1, 37.8, 69.2])
    assert y[0] == 22.1
    table = np.genfromtxt(DATA_DIR / "advertising.csv", delimiter=",", skip_header=1)
    np.testing.assert_array_equal(x, table[:, 1:4])
    np.testing.assert_array_equal(y, table[:, 4])


def test_advertising_split_like_boston():
    (x, y), (xt, yt) = advertising.load_data(test_split=0.25, seed=3)
    assert x.shape == (150, 3) and xt.shape == (50, 3) and y.shape == (150,) and yt.shape == (50,)
    table = np.genfromtxt(DATA_DIR / "advertising.csv", delimiter=",", skip_header=1)
    order = np.random.RandomState(3).permutation(200)
    np.testing.assert_array_equal(xt, table[order[150:], 1:4])
    with pytest.raises(ValueError, match="test_split"):
        advertising.load_data(test_split=1)


# ---------------------------------------------------------------- IDX parser

@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("code", [0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E])
def test_read_idx_round_trip(tmp_path, gz, code):
    dtype = _formats.IDX_TYPES[code]
    a = (np.arange(2 * 3 * 5) - 7).reshape(2, 3, 5).astype(dtype)
    if code == 0x08:
        a = np.arange(30, dtype=np.uint8).reshape(2, 3, 5)
    p = write(tmp_path / "a.idx", idx_bytes(a, code), gz)
    got = _formats.read_idx(str(p))
    assert got.shape == (2, 3, 5)
    assert got.dtype == dtype.newbyteorder("=")
    np.testing.assert_array_equal(got, a)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("damage, message", [
    (lambda b: b"\x01" + b[1:], "bad magic"),
    (lambda b: b[:2] + b"\x07" + b[3:], "bad magic"),
    (lambda b: b[:3] + b"\x00" + b[4:], "bad magic"),
    (lambda b: b[:2], "too short"),
    (lambda b: b[:9], "ends inside its header"),
    (lambda b: b[:-1], "holds 29 data bytes"),
    (lambda b: b + b"\x00", "holds more than 30"),
    (lambda b: b[:4] + struct.pack(">I", 3) + b[8:], "header says shape"),
])
def test_read_idx_rejects_damaged_headers(tmp_path, gz, damage, message):
    good = idx_bytes(np.arange(30, dtype=np.uint8).reshape(2, 3, 5))
    p = write(tmp_path / "bad.idx", damage(good), gz)
    with pytest.raises(ValueError, match=message):
        _formats.read_idx(str(p))


def test_read_idx_rejects_huge_header_without_allocating(tmp_path):
    header = bytes([0, 0, 8, 3]) + struct.pack(">3I", 60000, 60000, 60000)
    p = write(tmp_path / "huge.gz", header + b"\x00" * 100, gz=True)
    with pytest.raises(ValueError, match="holds 100 data bytes"):
        _formats.read_idx(str(p))


def test_read_idx_rejects_broken_gzip(tmp_path):
    data = gzip.compress(idx_bytes(np.zeros((4, 4), dtype=np.uint8)))
    p = write(tmp_path / "broken.gz", data[:10] + b"\xff" * 8 + data[18:])
    with pytest.raises(ValueError, match="not readable|holds"):
        _formats.read_idx(str(p))


# ---------------------------------------------------------------- CIFAR-10 binary parser

@pytest.mark.parametrize("gz", [False, True])
def test_read_cifar_binary_layout(tmp_path, gz):
    rec = cifar_records(4, seed=1)
    p = write(tmp_path / "b.bin", rec.tobytes(), gz)
    x, y = _formats.read_cifar_binary(str(p))
    assert x.shape == (4, 32, 32, 3) and x.dtype == np.uint8
    assert y.shape == (4,) and y.dtype == np.uint8
    np.testing.assert_array_equal(y, rec[:, 0])
    for i, r, c, ch in [(0, 0, 0, 0), (1, 5, 7, 1), (3, 31, 31, 2), (2, 0, 31, 2)]:
        assert x[i, r, c, ch] == rec[i, 1 + ch * 1024 + r * 32 + c]


def test_read_cifar_binary_rejects_damage(tmp_path):
    rec = cifar_records(2, seed=2)
    with pytest.raises(ValueError, match="positive multiple of 3073"):
        _formats.read_cifar_binary(str(write(tmp_path / "short.bin", rec.tobytes()[:-1])))
    with pytest.raises(ValueError, match="positive multiple of 3073"):
        _formats.read_cifar_binary(str(write(tmp_path / "empty.bin", b"")))
    rec[1, 0] = 57
    with pytest.raises(ValueError, match="record 1 has label 57"):
        _formats.read_cifar_binary(str(write(tmp_path / "label.bin", rec.tobytes())))


def test_cifar10_load_from_folder_subfolder_and_archive(isolated):
    recs = make_cifar_folder(isolated / "flat", n=3)
    for where in (isolated / "flat", isolated / "flat" / "data_batch_1.bin"):
        (x, y), (xt, yt) = cifar10.load_data(path=where)
        assert x.shape == (15, 32, 32, 3) and y.shape == (15, 1) and y.dtype == np.uint8
        assert xt.shape == (3, 32, 32, 3) and yt.shape == (3, 1)
        np.testing.assert_array_equal(y[:, 0], np.concatenate([recs[b][:, 0] for b in cifar10.BATCHES[:5]]))
        np.testing.assert_array_equal(yt[:, 0], recs["test_batch.bin"][:, 0])
        assert x[3, 0, 1, 2] == recs["data_batch_2.bin"][0, 1 + 2048 + 1]

    make_cifar_folder(isolated / "nested" / cifar10.SUBDIR, n=2, seed=10)
    assert cifar10.load_data(path=isolated / "nested")[0][0].shape == (10, 32, 32, 3)

    archive = cifar_tar(isolated / cifar10.ARCHIVE, recs)
    (x2, y2), (xt2, _) = cifar10.load_data(path=archive)
    np.testing.assert_array_equal(x2, x)
    np.testing.assert_array_equal(xt2, xt)


def test_cifar10_archive_missing_member_and_missing_folder(isolated):
    recs = make_cifar_folder(isolated / "flat", n=1)
    del recs["test_batch.bin"]
    with pytest.raises(ValueError, match="lacks"):
        cifar10.load_data(path=cifar_tar(isolated / "partial.tar.gz", recs))
    with pytest.raises(datasets.DatasetNotFoundError, match="test_batch.bin"):
        cifar10.load_data(path=isolated / "nowhere")


# ---------------------------------------------------------------- MNIST-style loaders

def test_mnist_from_folder_gz_plain_and_dotted_names(isolated):
    arrays = make_idx_set(isolated / "a", seed=3, gz=True)
    (x, y), (xt, yt) = mnist.load_data(path=isolated / "a")
    assert x.shape == (6, 28, 28) and x.dtype == np.uint8 and y.shape == (6,) and y.dtype == np.uint8
    assert xt.shape == (4, 28, 28) and yt.shape == (4,)
    for got, want in zip((x, y, xt, yt), arrays):
        np.testing.assert_array_equal(got, want)

    make_idx_set(isolated / "b", seed=4, gz=False)
    os.rename(isolated / "b" / "t10k-images-idx3-ubyte", isolated / "b" / "t10k-images.idx3-ubyte")
    assert fashion_mnist.load_data(path=isolated / "b")[1][1][0] == 4


def test_mnist_checks_shapes_and_counts(isolated):
    make_idx_set(isolated / "a", seed=1)
    write(isolated / "a" / "t10k-labels-idx1-ubyte.gz", idx_bytes(np.zeros(5, np.uint8)), gz=True)
    with pytest.raises(ValueError, match="4 images .* but 5 labels"):
        mnist.load_data(path=isolated / "a")
    write(isolated / "a" / "t10k-labels-idx1-ubyte.gz", idx_bytes(np.zeros(4, np.uint8)), gz=True)
    write(isolated / "a" / "train-images-idx3-ubyte.gz", idx_bytes(np.zeros((6, 27, 28), np.uint8)), gz=True)
    with pytest.raises(ValueError, match=r"x_train .* \(n, 28, 28\); got uint8 \(6, 27, 28\)"):
        mnist.load_data(path=isolated / "a")


def test_mnist_reads_keras_npz_and_refuses_pickles(isolated):
    x = np.zeros((3, 28, 28), np.uint8)
    y = np.array([1, 2, 3], np.uint8)
    np.savez(isolated / "mnist.npz", x_train=x, y_train=y, x_test=x[:1], y_test=y[:1])
    (_, y_train), (x_test, _) = mnist.load_data(path=isolated / "mnist.npz")
    np.testing.assert_array_equal(y_train, y)
    assert x_test.shape == (1, 28, 28)
    np.savez(isolated / "evil.npz", x_train=np.array([None], dtype=object), y_train=y,
             x_test=x, y_test=y)
    with pytest.raises(ValueError):
        mnist.load_data(path=isolated / "evil.npz")


def test_lookup_order_path_then_env_then_home_then_system(isolated, monkeypatch):
    env = isolated / "env"
    monkeypatch.setenv("FASTNN_DATA", str(env))
    make_idx_set(isolated / "explicit", seed=1)
    make_idx_set(env / "mnist", seed=2)
    make_idx_set(isolated / "home" / ".fastnn" / "datasets" / "mnist", seed=3)
    make_idx_set(isolated / "system" / "mnist", seed=4)
    label = lambda **kw: int(mnist.load_data(**kw)[0][1][0])  # noqa: E731
    assert label(path=isolated / "explicit") == 1
    assert label() == 2
    os.remove(env / "mnist" / "t10k-labels-idx1-ubyte.gz")  # an incomplete folder is skipped
    assert label() == 3
    monkeypatch.delenv("FASTNN_DATA")
    assert label() == 3
    os.remove(isolated / "home" / ".fastnn" / "datasets" / "mnist" / "train-images-idx3-ubyte.gz")
    assert label() == 4
    # Fashion-MNIST uses its own folder name, so MNIST's files are never taken for it
    with pytest.raises(datasets.DatasetNotFoundError):
        fashion_mnist.load_data()


def test_explicit_path_does_not_fall_back(isolated):
    make_idx_set(isolated / "home" / ".fastnn" / "datasets" / "mnist", seed=3)
    with pytest.raises(datasets.DatasetNotFoundError, match="train-images-idx3-ubyte.gz"):
        mnist.load_data(path=isolated / "empty")


def test_absent_and_offline_gives_clear_error(isolated):
    with pytest.raises(datasets.DatasetNotFoundError) as info:
        mnist.load_data()
    msg = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    for name in IDX_NAMES:
        assert name + ".gz" in msg
    assert "Downloading http://127.0.0.1:" in msg and "failed" in msg
    cache = isolated / "home" / ".fastnn" / "datasets" / "mnist"
    assert f"Put the files in {cache}" in msg
    assert not cache.exists()


# ---------------------------------------------------------------- downloads

def serve_idx_set(www, name, seed):
    arrays = make_idx_set(www / name, seed=seed, gz=True)
    hashes = {n + ".gz": sha256(www / name / (n + ".gz")) for n in IDX_NAMES}
    return arrays, hashes


def test_download_verifies_caches_and_reuses(isolated, http_root, monkeypatch):
    www, url = http_root
    arrays, hashes = serve_idx_set(www, "mnist", seed=5)
    monkeypatch.setenv("FASTNN_DATASETS_URL", url)
    monkeypatch.setattr(mnist, "FILE_HASHES", hashes)
    (x, y), (xt, yt) = mnist.load_data()
    for got, want in zip((x, y, xt, yt), arrays):
        np.testing.assert_array_equal(got, want)
    cache = isolated / "home" / ".fastnn" / "datasets" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(n + ".gz" for n in IDX_NAMES)
    for n in IDX_NAMES:
        assert sha256(cache / (n + ".gz")) == hashes[n + ".gz"]
    # second call: served from the cache, the server is not needed
    monkeypatch.setenv("FASTNN_DATASETS_URL", closed_port_url())
    np.testing.assert_array_equal(mnist.load_data()[0][0], arrays[0])


def test_download_goes_to_fastnn_data_and_base_url_attribute(isolated, http_root, monkeypatch):
    www, url = http_root
    _, hashes = serve_idx_set(www, "files", seed=6)
    monkeypatch.delenv("FASTNN_DATASETS_URL")
    monkeypatch.setattr(fashion_mnist, "BASE_URL", url + "/files/")
    monkeypatch.setattr(fashion_mnist, "FILE_HASHES", hashes)
    monkeypatch.setenv("FASTNN_DATA", str(isolated / "env"))
    assert fashion_mnist.load_data()[0][1][0] == 6
    assert len(list((isolated / "env" / "fashion-mnist").iterdir())) == 4
    assert not (isolated / "home" / ".fastnn").exists()


def test_download_checksum_mismatch_leaves_nothing(isolated, http_root, monkeypatch):
    www, url = http_root
    _, hashes = serve_idx_set(www, "mnist", seed=7)
    monkeypatch.setenv("FASTNN_DATASETS_URL", url)
    monkeypatch.setattr(mnist, "FILE_HASHES", {k: "0" * 64 for k in hashes})
    with pytest.raises(datasets.DatasetChecksumError, match="has SHA-256 .* expected 0000"):
        mnist.load_data()
    cache = isolated / "home" / ".fastnn" / "datasets" / "mnist"
    assert list(cache.iterdir()) == []
    # a damaged transfer of a later file keeps the verified earlier ones, and nothing else
    monkeypatch.setattr(mnist, "FILE_HASHES", dict(hashes, **{"t10k-images-idx3-ubyte.gz": "1" * 64}))
    with pytest.raises(ValueError, match="discarded"):
        mnist.load_data()
    assert sorted(p.name for p in cache.iterdir()) == ["train-images-idx3-ubyte.gz",
                                                       "train-labels-idx1-ubyte.gz"]
    monkeypatch.setattr(mnist, "FILE_HASHES", hashes)
    assert mnist.load_data()[1][1][0] == 7


def test_download_without_known_hash_is_refused(isolated, http_root, monkeypatch):
    www, url = http_root
    serve_idx_set(www, "mnist", seed=8)
    monkeypatch.setenv("FASTNN_DATASETS_URL", url)
    monkeypatch.setattr(mnist, "FILE_HASHES", {})
    with pytest.raises(ValueError, match="no SHA-256 is known"):
        mnist.load_data()
    assert not (isolated / "home" / ".fastnn").exists()


def test_download_missing_file_on_server(isolated, http_root, monkeypatch):
    www, url = http_root
    _, hashes = serve_idx_set(www, "mnist", seed=9)
    os.remove(www / "mnist" / "t10k-labels-idx1-ubyte.gz")
    monkeypatch.setenv("FASTNN_DATASETS_URL", url)
    monkeypatch.setattr(mnist, "FILE_HASHES", hashes)
    with pytest.raises(datasets.DatasetNotFoundError, match="404"):
        mnist.load_data()
    cache = isolated / "home" / ".fastnn" / "datasets" / "mnist"
    assert not any(p.name.endswith(".part") for p in cache.iterdir())


def test_cifar10_download_extracts_and_removes_archive(isolated, http_root, monkeypatch):
    www, url = http_root
    recs = {b: cifar_records(2, i) for i, b in enumerate(cifar10.BATCHES)}
    (www / "cifar10").mkdir()
    archive = cifar_tar(www / "cifar10" / cifar10.ARCHIVE, recs)
    monkeypatch.setenv("FASTNN_DATASETS_URL", url)
    monkeypatch.setattr(cifar10, "FILE_HASHES", {cifar10.ARCHIVE: sha256(archive)})
    (x, y), (xt, yt) = cifar10.load_data()
    assert x.shape == (10, 32, 32, 3) and y.shape == (10, 1) and yt.shape == (2, 1)
    np.testing.assert_array_equal(yt[:, 0], recs["test_batch.bin"][:, 0])
    cache = isolated / "home" / ".fastnn" / "datasets" / "cifar10"
    assert [p.name for p in cache.iterdir()] == [cifar10.SUBDIR]
    assert sorted(p.name for p in (cache / cifar10.SUBDIR).iterdir()) == sorted(cifar10.BATCHES)
    monkeypatch.setattr(cifar10, "FILE_HASHES", {cifar10.ARCHIVE: "f" * 64})
    np.testing.assert_array_equal(cifar10.load_data()[0][0], x)  # cached: no second download


def test_cifar10_checksum_mismatch_and_server_down(isolated, http_root, monkeypatch):
    www, url = http_root
    (www / "cifar10").mkdir()
    cifar_tar(www / "cifar10" / cifar10.ARCHIVE, {b: cifar_records(1, 0) for b in cifar10.BATCHES})
    monkeypatch.setenv("FASTNN_DATASETS_URL", url)
    with pytest.raises(datasets.DatasetChecksumError):
        cifar10.load_data()
    assert list((isolated / "home" / ".fastnn" / "datasets" / "cifar10").iterdir()) == []
    monkeypatch.setenv("FASTNN_DATASETS_URL", closed_port_url())
    with pytest.raises(datasets.DatasetNotFoundError, match="data_batch_1.bin.*cifar-10-binary.tar.gz"):
        cifar10.load_data()


def test_published_hash_tables_are_complete():
    for module, names in ((mnist, [n + ".gz" for n in IDX_NAMES]),
                          (fashion_mnist, [n + ".gz" for n in IDX_NAMES]),
                          (cifar10, [cifar10.ARCHIVE])):
        assert sorted(module.FILE_HASHES) == sorted(names)
        for h in module.FILE_HASHES.values():
            assert len(h) == 64 and int(h, 16) >= 0


DEBIAN_FASHION = pathlib.Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(not (DEBIAN_FASHION / "train-images-idx3-ubyte.gz").exists(),
                    reason="Debian package dataset-fashion-mnist not installed")
def test_fashion_mnist_from_debian_system_folder(isolated, monkeypatch):
    monkeypatch.setattr(_files, "SYSTEM_DIRS", ("/usr/share/datasets",))
    (x, y), (xt, yt) = fashion_mnist.load_data()
    assert x.shape == (60000, 28, 28) and x.dtype == np.uint8
    assert y.shape == (60000,) and y.dtype == np.uint8
    assert xt.shape == (10000, 28, 28) and yt.shape == (10000,)
    assert np.bincount(y).tolist() == [6000] * 10 and np.bincount(yt).tolist() == [1000] * 10
    # Debian recompressed the files; their content is the canonical one
    for name in IDX_NAMES:
        raw = gzip.decompress((DEBIAN_FASHION / (name + ".gz")).read_bytes())
        assert hashlib.sha256(raw).hexdigest() == fashion_mnist.RAW_HASHES[name]


def test_package_imports_no_other_fastnn_module():
    for path in pathlib.Path(datasets.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for n in names:
                assert not n.startswith("fastnn") or n.startswith("fastnn.datasets"), (path.name, n)
                assert n.split(".")[0] not in ("pickle", "scipy", "pandas"), (path.name, n)


# ---------------------------------------------------------------- toy sets

def linearly_separable(X, y):
    """True if some hyperplane w.x + b puts the classes strictly apart (LP feasibility)."""
    from scipy.optimize import linprog
    s = np.where(y > 0.5, 1.0, -1.0)
    A = -s[:, None] * np.hstack([X, np.ones((len(X), 1))])
    res = linprog(np.zeros(X.shape[1] + 1), A_ub=A, b_ub=-np.ones(len(X)),
                  bounds=[(None, None)] * (X.shape[1] + 1), method="highs")
    assert res.status in (0, 2), res.message
    return res.status == 0


@pytest.mark.parametrize("make", [toy.make_linear_2d, toy.make_linear_3d, toy.make_blobs3,
                                  toy.make_l_shape, toy.make_parabola])
def test_toy_shapes_dtypes_and_determinism(make):
    X, y = make(n=50, seed=1)
    assert X.ndim == 2 and X.shape[0] == 50 and y.shape == (50,)
    assert X.dtype == np.float64 and y.dtype == np.float64
    X2, y2 = make(n=50, seed=1)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    X3, _ = make(n=50, seed=2)
    assert not np.array_equal(X, X3)


@pytest.mark.parametrize("make, dim", [(toy.make_linear_2d, 2), (toy.make_linear_3d, 3)])
def test_linear_sets_are_separable_by_their_plane(make, dim):
    X, y = make(n=300, seed=0, margin=0.05)
    assert X.shape == (300, dim)
    assert 0.3 < y.mean() < 0.7
    np.testing.assert_array_equal(y, (X.sum(axis=1) > dim / 2).astype(float))
    assert np.abs(X.sum(axis=1) - dim / 2).min() / np.sqrt(dim) >= 0.05
    assert linearly_separable(X, y)


def test_linear_set_tiny_n_has_both_classes():
    for seed in range(20):
        _, y = toy.make_linear_2d(n=2, seed=seed)
        assert sorted(y.tolist()) == [0.0, 1.0]


def test_l_shape_is_not_linearly_separable_but_box_separable():
    X, y = toy.make_l_shape(n=200, seed=0)
    np.testing.assert_allclose(X.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(X.std(axis=0), 1, atol=1e-12)
    assert 0.3 < y.mean() < 0.75
    assert not linearly_separable(X, y)
    # the best least-squares line misclassifies some points
    A = np.hstack([X, np.ones((len(X), 1))])
    w = np.linalg.lstsq(A, 2 * y - 1, rcond=None)[0]
    assert np.mean((A @ w > 0) == (y > 0.5)) < 1.0
    # the dropped gap leaves a margin between the classes (0.7 before standardizing)
    gaps = np.linalg.norm(X[y == 0][:, None, :] - X[y == 1][None, :, :], axis=2)
    assert gaps.min() > 0.7 / X.std(axis=0).max() * 0.5
    # class 0 is a corner box that holds no class-1 point
    box = X[y == 0].max(axis=0)
    ones = X[y == 1]
    assert np.all((ones[:, 0] > box[0]) | (ones[:, 1] > box[1]))


def test_blobs3_labels_and_centres():
    X, y = toy.make_blobs3(n=301, seed=0, std=0.3)
    assert sorted(set(y.tolist())) == [0.0, 1.0, 2.0]
    counts = np.bincount(y.astype(int))
    assert counts.max() - counts.min() <= 1
    for k in range(3):
        np.testing.assert_allclose(X[y == k].mean(axis=0), toy.BLOB_CENTERS[k], atol=0.1)
    assert not np.array_equal(y[:3], [0.0, 1.0, 2.0]) or not np.array_equal(y[3:6], [0.0, 1.0, 2.0])


def test_parabola_values():
    X, y = toy.make_parabola(n=500, seed=3)
    assert X.shape == (500, 1)
    x = X[:, 0]
    assert x.min() >= 0 and x.max() <= 1
    np.testing.assert_array_equal(y, -(x - 0.5) ** 2 + 0.25)
    assert y.min() >= 0 and y.max() <= 0.25 and y.max() > 0.249
    Xn, yn = toy.make_parabola(n=2000, seed=3, noise=0.05)
    resid = yn - (-(Xn[:, 0] - 0.5) ** 2 + 0.25)
    assert 0.045 < resid.std() < 0.055


def test_toy_argument_errors():
    with pytest.raises(ValueError, match="n must be at least 1, got 0"):
        toy.make_parabola(n=0)
    with pytest.raises(TypeError, match="n must be an integer, got float"):
        toy.make_linear_2d(n=2.5)
    with pytest.raises(ValueError, match="noise must be >= 0, got -1"):
        toy.make_parabola(noise=-1)
    with pytest.raises(ValueError, match="margin must be < 0.25"):
        toy.make_linear_3d(margin=0.3)
    with pytest.raises(ValueError, match="std must be >= 0"):
        toy.make_blobs3(std=-0.1)
