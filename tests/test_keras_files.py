"""Keras 3 files written and read by fastnn alone (h5py only): round trips, the suffix rules, and hostile archives.

The interoperability with Keras itself (files made by Keras, files read by Keras) is in test_keras_interop.py.
"""

import io
import json
import os
import struct
import warnings
import zipfile

import numpy as np
import pytest

from _extras import require

h5py = require("h5py")

import fastnn  # noqa: E402
from fastnn import Input, Model, Sequential, load_model  # noqa: E402
from fastnn.errors import ModelFileError  # noqa: E402
from fastnn.layers import Activation, Dense, Dropout, Flatten  # noqa: E402

X = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)


def sequential(dtype="float32"):
    fastnn.utils.set_random_seed(1)
    return Sequential([Dense(5, activation="gelu", input_shape=(4,), kernel_regularizer=fastnn.regularizers.l2(0.01)),
                       Dropout(0.25), Activation("softsign"), Dense(3, activation="softmax", use_bias=False)],
                      name="seq", dtype=dtype)


def functional():
    fastnn.utils.set_random_seed(2)
    x = Input(shape=(4,), name="features")
    h = Dense(6, activation="elu", name="hidden")(x)
    return Model(inputs=x, outputs=Dense(2, name="scores")(h), name="func")


def archive_members(path):
    with zipfile.ZipFile(path) as z:
        return {info.filename: z.read(info.filename) for info in z.infolist()}


def write_archive(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("make", [sequential, functional])
def test_keras_archive_round_trip_is_bitwise(tmp_path, make, dtype):
    model = make() if make is functional else make(dtype)
    model.compile(optimizer=fastnn.optimizers.Adam(learning_rate=0.005), loss="mse", metrics=["mae"])
    model.save(tmp_path / "m.keras")
    members = archive_members(tmp_path / "m.keras")
    assert sorted(members) == ["config.json", "metadata.json", "model.weights.h5"]
    assert json.loads(members["metadata.json"])["keras_version"].startswith("3.")
    loaded = load_model(tmp_path / "m.keras")
    assert type(loaded) is type(model) and loaded.name == model.name and loaded.dtype == model.dtype
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    assert type(loaded.optimizer).__name__ == "Adam"
    assert loaded.optimizer.learning_rate == pytest.approx(0.005)
    assert loaded.loss.engine_name == "mse" and loaded.metrics_names[-1] == "mae"
    loaded.fit(X, np.zeros((16, model.output_shape[-1])), epochs=1, verbose=0)  # compiled: trains on


def test_keras_weights_file_layout_and_round_trip(tmp_path):
    model = sequential()
    model.save_weights(tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "w.weights.h5", "r") as f:
        # Keras 3's layout: layers by snake_cased class name, variables numbered, the model's own vars group.
        assert f["layers/dense/vars/0"].shape == (4, 5) and f["layers/dense/vars/1"].shape == (5,)
        assert f["layers/dense_1/vars/0"].shape == (5, 3) and "1" not in f["layers/dense_1/vars"]
        assert len(f["layers/dropout/vars"]) == 0 and len(f["layers/activation/vars"]) == 0
        assert f["vars"].attrs["name"] == "seq" and f["layers/dense/vars"].attrs["name"] == model.layers[0].name
    other = sequential()
    other.set_weights([w + 1 for w in other.get_weights()])
    other.load_weights(tmp_path / "w.weights.h5")
    for a, b in zip(other.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    third = sequential()
    third.set_weights([w * 0 for w in third.get_weights()])
    model.save(tmp_path / "m.keras")
    third.load_weights(tmp_path / "m.keras")  # a .keras archive holds the weights too, as in Keras
    np.testing.assert_array_equal(third.predict(X, verbose=0), model.predict(X, verbose=0))


def test_functional_archive_names_input_and_chain(tmp_path):
    model = functional()
    model.save(tmp_path / "f.keras")
    config = json.loads(archive_members(tmp_path / "f.keras")["config.json"])
    assert config["class_name"] == "Functional"
    assert config["config"]["input_layers"] == ["features", 0, 0]
    assert config["config"]["output_layers"] == ["scores", 0, 0]
    hidden = config["config"]["layers"][1]
    assert hidden["inbound_nodes"][0]["args"][0]["config"]["keras_history"] == ["features", 0, 0]
    with zipfile.ZipFile(tmp_path / "f.keras") as z, h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as f:
        assert "layers/input_layer/vars" in f and f["layers/dense/vars/0"].shape == (4, 6)


def test_flatten_first_keeps_the_sample_shape(tmp_path):
    model = Sequential([Flatten(input_shape=(2, 2)), Dense(3, activation="relu"), Dense(1)])
    model.save(tmp_path / "m.keras")
    config = json.loads(archive_members(tmp_path / "m.keras")["config.json"])
    assert config["config"]["layers"][0]["config"]["batch_shape"] == [None, 2, 2]
    loaded = load_model(tmp_path / "m.keras")
    x = X.reshape(-1, 2, 2)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_suffixes_choose_the_format_and_unknown_ones_are_refused(tmp_path):
    model = sequential()
    model.save(tmp_path / "m.fnn")
    assert (tmp_path / "m.fnn").read_bytes()[8:9] == b"{"  # safetensors
    model.save(tmp_path / "m.keras")
    assert (tmp_path / "m.keras").read_bytes()[:4] == b"PK\x03\x04"
    model.save_weights(tmp_path / "w.weights.h5")
    assert (tmp_path / "w.weights.h5").read_bytes()[:8] == b"\x89HDF\r\n\x1a\n"
    with pytest.raises(ValueError, match=r"legacy HDF5.*'\.keras'.*'\.fnn'"):
        model.save(tmp_path / "m.h5")
    with pytest.raises(ValueError, match=r"save_weights"):
        model.save(tmp_path / "m.weights.h5")
    with pytest.raises(ValueError, match=r"'\.keras'.*'\.fnn'.*got"):
        model.save(tmp_path / "m.model")
    with pytest.raises(ValueError, match=r"'\.weights\.h5'.*'\.fnn'"):
        model.save_weights(tmp_path / "w.keras")
    with pytest.raises(ValueError, match=r"'\.keras'.*'\.fnn'"):  # refused when made, not after an epoch
        fastnn.callbacks.ModelCheckpoint(str(tmp_path / "ckpt-{epoch}"))
    with pytest.raises(ValueError, match=r"'\.weights\.h5'"):
        fastnn.callbacks.ModelCheckpoint(str(tmp_path / "ckpt.keras"), save_weights_only=True)
    assert sorted(os.listdir(tmp_path)) == ["m.fnn", "m.keras", "w.weights.h5"]
    with pytest.raises(ModelFileError, match="load_weights"):
        load_model(tmp_path / "w.weights.h5")


def test_activation_without_a_keras_twin_cannot_be_saved_as_keras(tmp_path):
    model = Sequential([Dense(2, activation="step", input_shape=(3,))])
    with pytest.raises(ValueError, match="'step' has no Keras 3 equivalent"):
        model.save(tmp_path / "m.keras")
    assert not os.listdir(tmp_path)  # nothing half-written


def test_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    model = sequential()
    model.save(tmp_path / "m.keras")
    before = (tmp_path / "m.keras").read_bytes()
    from fastnn import saving_keras

    def boom(*args):
        raise OSError("disk full")
    monkeypatch.setattr(saving_keras, "_h5_bytes", boom)
    with pytest.raises(OSError, match="disk full"):
        functional().save(tmp_path / "m.keras")
    assert (tmp_path / "m.keras").read_bytes() == before
    assert os.listdir(tmp_path) == ["m.keras"]


# ----------------------------------------------------------------------------- hostile and damaged archives


@pytest.fixture
def good(tmp_path):
    model = sequential()
    model.compile(optimizer="adam", loss="mse")
    model.save(tmp_path / "good.keras")
    return archive_members(tmp_path / "good.keras")


def rejected(path, match):
    with pytest.raises(ModelFileError, match=match) as info:
        load_model(path)
    assert str(path) in str(info.value)
    return info.value


def with_config(members, edit):
    config = json.loads(members["config.json"])
    edit(config)
    return dict(members, **{"config.json": json.dumps(config)})


def layer_config(config, index):
    return config["config"]["layers"][index]


def patch_central_size(data, name, file_size):
    """The archive with the central directory's uncompressed size of `name` replaced (a forged declaration)."""
    data = bytearray(data)
    pos = data.find(b"PK\x01\x02")
    while pos >= 0:
        name_len = struct.unpack_from("<H", data, pos + 28)[0]
        if bytes(data[pos + 46:pos + 46 + name_len]) == name.encode():
            struct.pack_into("<I", data, pos + 24, file_size)
            return bytes(data)
        pos = data.find(b"PK\x01\x02", pos + 4)
    raise AssertionError(name)


def test_zip_bombs_are_refused_from_their_declared_sizes(tmp_path, good):
    path = write_archive(tmp_path / "a.keras", good)
    forged = patch_central_size(path.read_bytes(), "config.json", 0xFFFFFFF0)
    (tmp_path / "b.keras").write_bytes(forged)
    rejected(tmp_path / "b.keras", "config.json.*declares 4294967280 bytes, above the limit")
    # Deflated data claiming more than DEFLATE can expand to.
    path = write_archive(tmp_path / "c.keras", good, compression=zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(path) as z:
        compressed = z.getinfo("config.json").compress_size
    forged = patch_central_size(path.read_bytes(), "config.json", compressed * 5000)
    (tmp_path / "d.keras").write_bytes(forged)
    rejected(tmp_path / "d.keras", "decompression bomb")
    # A weights member larger than the config's weights can need is refused before it is read.
    padded = write_archive(tmp_path / "e.keras", dict(good, **{"model.weights.h5": good["model.weights.h5"] +
                                                             b"\0" * (4 << 20)}))
    rejected(padded, "model.weights.h5.*declares.*above the limit")
    # A real deflated archive reads.
    np.testing.assert_array_equal(load_model(path).predict(X, verbose=0), sequential().predict(X, verbose=0))


def test_archive_members_are_a_closed_list(tmp_path, good):
    rejected(write_archive(tmp_path / "t.keras", dict(good, **{"../../evil.py": b"x"})), "path traversal")
    rejected(write_archive(tmp_path / "a.keras", dict(good, **{"/etc/passwd": b"x"})), "path traversal")
    rejected(write_archive(tmp_path / "u.keras", dict(good, **{"extra.bin": b"x"})), "unexpected archive member")
    rejected(write_archive(tmp_path / "s.keras", dict(good, **{"assets/vocab.txt": b"x"})), "assets")
    missing = dict(good)
    del missing["model.weights.h5"]
    rejected(write_archive(tmp_path / "m.keras", missing), "no model.weights.h5")
    (tmp_path / "cut.keras").write_bytes(write_archive(tmp_path / "full.keras", good).read_bytes()[:-200])
    rejected(tmp_path / "cut.keras", "zip")


def test_damaged_members_are_refused(tmp_path, good):
    rejected(write_archive(tmp_path / "h.keras", dict(good, **{"model.weights.h5": b"not hdf5 at all"})),
             "not an HDF5 file")
    rejected(write_archive(tmp_path / "j.keras", dict(good, **{"config.json": b"{nope"})), "config.json is not valid")
    rejected(write_archive(tmp_path / "d.keras", dict(good, **{"config.json": b"[" * 100 + b"]" * 100})), "nested")
    rejected(write_archive(tmp_path / "v.keras", dict(good, **{"metadata.json": b'{"keras_version": "2.15.0"}'})),
             "Keras 3")
    path = write_archive(tmp_path / "crc.keras", good)
    data = bytearray(path.read_bytes())
    at = data.find(b'"units"')
    data[at + 1] = ord("U")  # one byte changed inside the stored config.json: the CRC no longer matches
    (tmp_path / "crc2.keras").write_bytes(bytes(data))
    rejected(tmp_path / "crc2.keras", "cannot be read|CRC")


@pytest.mark.parametrize("edit, match", [
    (lambda c: layer_config(c, 1).update(class_name="Lambda"), 'class "Lambda" is not one fastnn reads'),
    (lambda c: layer_config(c, 1).update(module="my_package.layers"), "not a Keras built-in"),
    (lambda c: layer_config(c, 1).update(registered_name="Custom>Dense"), "custom object"),
    (lambda c: layer_config(c, 1)["config"].update(units=2 ** 40), "units must be an integer"),
    (lambda c: layer_config(c, 1)["config"].update(kernel_constraint={"class_name": "NonNeg"}), "kernel_constraint"),
    (lambda c: layer_config(c, 1)["config"].update(activation="mish"), "activation \"mish\" is not one fastnn has"),
    (lambda c: layer_config(c, 1)["config"].update(activation={"module": "x", "class_name": "f"}), "built-in name"),
    (lambda c: layer_config(c, 0)["config"].update(batch_shape=[None, 2 ** 40]), "batch_shape"),
    (lambda c: layer_config(c, 1)["config"].update(dtype="mixed_float16"), "dtype"),
    (lambda c: c.update(class_name="MyModel"), 'class "MyModel"'),
    (lambda c: c["compile_config"]["optimizer"].update(module="evil.optimizers"), "not a Keras built-in"),
    (lambda c: c["compile_config"].update(loss={"module": "os", "class_name": "function", "config": "system"}),
     "function \"system\" from \"os\" is not a Keras built-in"),
    (lambda c: c["compile_config"].update(metrics=[{"module": "keras.metrics", "class_name": "AUC",
                                                    "registered_name": "my>AUC"}]), "custom object"),
    (lambda c: layer_config(c, 1)["config"].update(brand_new_option=3), "unknown setting 'brand_new_option'"),
])
def test_configs_outside_the_closed_lists_are_refused(tmp_path, good, edit, match):
    rejected(write_archive(tmp_path / "x.keras", with_config(good, edit)), match)


@pytest.mark.parametrize("edit, match", [
    (lambda c: c["compile_config"].update(metrics=[{"module": "keras.metrics", "class_name": "MeanIoU",
                                                    "config": {"num_classes": 2}}]),
     'class "MeanIoU" is not one fastnn reads'),
    (lambda c: c["compile_config"].update(loss="kl_divergence_of_nothing"), "loss"),
    (lambda c: c["compile_config"]["optimizer"]["config"].update(use_ema=True), "use_ema=true is not supported"),
])
def test_compile_settings_fastnn_lacks_leave_the_model_uncompiled(tmp_path, good, edit, match):
    path = write_archive(tmp_path / "x.keras", with_config(good, edit))
    with pytest.warns(UserWarning, match=f"loaded uncompiled.*{match}"):
        model = load_model(path)
    assert not model.compiled
    np.testing.assert_array_equal(model.predict(X, verbose=0), sequential().predict(X, verbose=0))
    assert load_model(path, compile=False).compiled is False


def test_keras_function_objects_for_losses_and_metrics_are_read(tmp_path, good):
    def edit(c):
        c["compile_config"].update(loss={"module": "keras.losses", "class_name": "function",
                                         "config": "mean_squared_error", "registered_name": "function"},
                                   metrics=[{"module": "keras.metrics", "class_name": "function", "config": "mae",
                                             "registered_name": "function"}])
    model = load_model(write_archive(tmp_path / "f.keras", with_config(good, edit)))
    assert model.loss.engine_name == "mse" and model.metrics_names == ["loss", "mae"]


def test_weights_are_checked_against_the_config(tmp_path, good):
    def rewrite(edit):
        buffer = io.BytesIO(good["model.weights.h5"])
        out = io.BytesIO()
        with h5py.File(buffer, "r") as src, h5py.File(out, "w") as dst:
            for key in src:
                src.copy(key, dst)
            edit(dst)
        return dict(good, **{"model.weights.h5": out.getvalue()})

    def replace(path, value):
        def edit(f):
            del f[path]
            f[path] = value
        return edit

    cases = [
        (replace("layers/dense/vars/0", np.zeros((4, 6), np.float32)), r"shape \(4, 6\).*implies \(4, 5\)"),
        (replace("layers/dense/vars/0", np.zeros((4, 5), np.int32)), "dtype int32"),
        (replace("layers/dense/vars/1", np.full(5, np.nan, np.float32)), "NaN"),
        (lambda f: f.__delitem__("layers/dense_1/vars/0"), "holds"),
        (lambda f: f.__delitem__("layers/dense"), "no group"),
        (lambda f: f["layers/dense/vars"].create_dataset("2", data=np.zeros(1, np.float32)), "holds"),
    ]
    for i, (edit, match) in enumerate(cases):
        rejected(write_archive(tmp_path / f"w{i}.keras", rewrite(edit)), match)

    def soft(f):
        f["elsewhere"] = f["layers/dense/vars/0"][()]
        del f["layers/dense/vars/0"]
        f["layers/dense/vars/0"] = h5py.SoftLink("/elsewhere")
    rejected(write_archive(tmp_path / "soft.keras", rewrite(soft)), "SoftLink")

    def external(f):
        del f["layers/dense/vars/0"]
        (tmp_path / "secret.bin").write_bytes(np.ones(20, np.float32).tobytes())
        f["layers/dense/vars"].create_dataset("0", shape=(4, 5), dtype=np.float32,
                                               external=[(str(tmp_path / "secret.bin"), 0, 80)])
    rejected(write_archive(tmp_path / "ext.keras", rewrite(external)), "outside the file")


def test_a_failed_load_weights_changes_nothing(tmp_path, good):
    model = sequential()
    model.save_weights(tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "w.weights.h5", "a") as f:
        del f["layers/dense_1/vars/0"]
        f["layers/dense_1/vars/0"] = np.zeros((5, 4), np.float32)
    target = sequential()
    target.set_weights([w + 3 for w in target.get_weights()])
    before = target.get_weights()
    with pytest.raises(ModelFileError, match="shape"):
        target.load_weights(tmp_path / "w.weights.h5")
    for a, b in zip(target.get_weights(), before):
        np.testing.assert_array_equal(a, b)  # the first layer, read fine, was not set either
    other = functional()  # another architecture: refused by shape
    with pytest.raises(ModelFileError, match=r"shape \(4, 5\).*implies \(4, 6\)"):
        other.load_weights(write_archive(tmp_path / "good.keras", good))


def test_mutated_configs_and_bytes_give_a_model_or_model_file_error(tmp_path, good):
    """A small deterministic fuzz: random values put anywhere in config.json, random bytes changed in the weights
    file; every outcome is a model or a ModelFileError, never another exception."""
    import random
    rng = random.Random(0)
    config = json.loads(good["config.json"])
    values = [None, -1, 0, 2 ** 70, 1e308, "x", [], {}, 1.5, True, "relu", [None, 4], {"class_name": "Lambda"},
              "__main__", [[["a"]]], {"module": "os", "class_name": "system"}]

    def paths(node, path=()):
        yield path
        children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in children:
            yield from paths(child, path + (key,))
    every = [p for p in paths(config) if p]
    outcomes = {"model": 0, "refused": 0}
    for i in range(120):
        mutated = json.loads(json.dumps(config))
        for _ in range(rng.randint(1, 3)):
            path = rng.choice(every)
            try:
                node = mutated
                for key in path[:-1]:
                    node = node[key]
                node[path[-1]] = rng.choice(values)
            except (KeyError, IndexError, TypeError):
                pass
        members = dict(good, **{"config.json": json.dumps(mutated)})
        if i % 4 == 0:
            weights = bytearray(good["model.weights.h5"])
            for _ in range(rng.randint(1, 10)):
                weights[rng.randrange(8, len(weights))] = rng.randrange(256)
            members["model.weights.h5"] = bytes(weights)
        path = write_archive(tmp_path / f"fuzz{i}.keras", members)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                load_model(path)
            outcomes["model"] += 1
        except ModelFileError:
            outcomes["refused"] += 1
    assert outcomes["refused"] > 60 and outcomes["model"] > 5, outcomes



def normalization_model(dtype="float32"):
    from fastnn import layers as L
    fastnn.utils.set_random_seed(7)
    norm = L.Normalization()
    norm.adapt(X * 3 + 1)
    model = Sequential([L.Input(shape=(4,)), norm, L.Dense(6, activation="tanh"), L.BatchNormalization(momentum=0.5),
                        L.LayerNormalization(epsilon=1e-2, center=False), L.Rescaling(0.5, offset=0.25),
                        L.UnitNormalization(), L.Normalization(mean=[0.1] * 6, variance=[2.0] * 6, invert=True),
                        L.BatchNormalization(scale=False), L.Dense(2)], name="norms", dtype=dtype)
    model.compile(optimizer="adam", loss="mse")
    model.fit(X, X[:, :2], epochs=3, verbose=0)  # the moving statistics move away from 0 and 1
    return model


def test_normalization_layers_round_trip_with_their_state(tmp_path):
    model = normalization_model()
    model.save(tmp_path / "n.keras")
    loaded = load_model(tmp_path / "n.keras")
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    with zipfile.ZipFile(tmp_path / "n.keras") as z, h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as f:
        assert f["layers/normalization/vars/2"].dtype.kind == "i"  # Keras's count is an integer
        assert len(f["layers/normalization_1/vars"]) == 0  # mean and variance given: in the config
        assert [f[f"layers/batch_normalization/vars/{k}"].shape for k in range(4)] == [(6,)] * 4
        assert len(f["layers/batch_normalization_1/vars"]) == 3  # no gamma



# ----------------------------------------------------------------------------- every layer kind, nested models


def every_layer_model(dtype="float32"):
    """One model with each layer kind fastnn has (the rows of saving_keras.LAYERS), trained a little."""
    from fastnn import layers as L
    fastnn.utils.set_random_seed(5)
    inner = Sequential([L.Dense(6, activation="tanh", input_shape=(4,)), L.PReLU(alpha_initializer="ones")],
                       name="inner")
    model = Sequential([inner, L.ReLU(max_value=3.0, negative_slope=0.1, threshold=0.2), L.LeakyReLU(0.25),
                        L.ELU(alpha=0.7), L.GaussianNoise(0.1), L.GaussianDropout(0.2), L.AlphaDropout(0.1),
                        L.Identity(), L.Dense(3), L.Softmax()], name="every", dtype=dtype)
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    model.fit(X, np.eye(3)[np.argmax(X[:, :3], axis=1)], epochs=2, verbose=0)
    return model


def test_every_layer_kind_and_nested_models_round_trip(tmp_path):
    model = every_layer_model()
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    assert [type(l).__name__ for l in loaded.layers] == [type(l).__name__ for l in model.layers]
    assert [type(l).__name__ for l in loaded.layers[0].layers] == ["Dense", "PReLU"]
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    relu = loaded.layers[1]
    assert (relu.max_value, relu.negative_slope, relu.threshold) == (3.0, 0.1, 0.2)
    with zipfile.ZipFile(tmp_path / "m.keras") as z, h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as f:
        # A nested model keeps its own layers inside its group, as Keras writes it.
        assert f["layers/sequential/layers/dense/vars/0"].shape == (4, 6)
        assert f["layers/sequential/layers/p_re_lu/vars/0"].shape == (6,)
        assert f["layers/sequential/vars"].attrs["name"] == "inner"
