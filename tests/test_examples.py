"""The walk-throughs of examples/ run end to end with --quick: each in a subprocess writing into a
temporary folder, checked by the numbers it prints, the JSON it writes and the PNG files it draws.

Examples 2 and 3 need image data: MNIST or Fashion-MNIST files on disk (CI installs Debian's
dataset-fashion-mnist) or, failing both, scikit-learn for its 8x8 digits; otherwise they are skipped.
"""

import json
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run_example(script, out, *args):
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, os.path.join(EXAMPLES, script), "--quick", "--out", str(out), *args],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=180)
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def number(pattern, text):
    m = re.search(pattern, text)
    assert m, f"{pattern!r} not found in the output:\n{text[-3000:]}"
    return float(m.group(1))


def check_outputs(out, name, figures):
    with open(os.path.join(out, f"{name}.json")) as f:
        results = json.load(f)
    assert results["quick"] is True
    assert sorted(results["figures"]) == sorted(figures)
    for fig in figures:
        path = os.path.join(out, fig)
        assert os.path.getsize(path) > 2000, f"{fig} is suspiciously small"
        with open(path, "rb") as f:
            assert f.read(8) == PNG_MAGIC, f"{fig} is not a PNG file"
    return results


def image_data_available():
    sys.path.insert(0, EXAMPLES)
    try:
        import _common
    finally:
        sys.path.remove(EXAMPLES)
    if _common.idx_files_on_disk("mnist", ("mnist",)):
        return True
    if _common.idx_files_on_disk("fashion-mnist", ("fashion-mnist", "fashion_mnist")):
        return True
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return False
    return True


needs_images = pytest.mark.skipif(not image_data_available(),
                                  reason="no MNIST / Fashion-MNIST files on disk and no scikit-learn")


def test_01_boston(tmp_path):
    text = run_example("01_boston_what_a_network_learns.py", tmp_path)
    linear = number(r"linear model: test MSE ([\d.]+)", text)
    hidden = number(r"hidden-layer model: test MSE ([\d.]+)", text)
    assert 15 < linear < 60  # predicting the mean price gives about 84
    assert 10 < hidden < 60
    assert re.search(r"price = -?\d+\.\d{3} \* CRIM\s+[+-] \d+\.\d{3} \* ZN", text)
    by_hand = number(r"by hand: (-?[\d.]+)", text)
    predicted = number(r"predict: (-?[\d.]+)", text)
    assert by_hand == pytest.approx(predicted, rel=1e-3, abs=1e-3)
    assert "by hand and predict agree" in text
    results = check_outputs(tmp_path, "01_boston", ["01_truth_vs_prediction.png", "01_scatter.png",
                                                    "01_linear_weights.png", "01_training.png", "01_network.png"])
    assert results["test_mse_linear"] == pytest.approx(linear, abs=0.01)
    assert results["agree"] is True


@needs_images
def test_02_mnist_mlp(tmp_path):
    text = run_example("02_mnist_mlp.py", tmp_path)
    accuracy = number(r"test accuracy ([\d.]+)", text)
    assert 0.6 < accuracy <= 1.0  # chance is 0.1
    wrong = number(r"(\d+) of \d+ test images misclassified", text)
    total = number(r"\d+ of (\d+) test images misclassified", text)
    assert wrong == pytest.approx(round((1 - accuracy) * total), abs=1)
    assert len(re.findall(r"^  \S.* (?:0|1)\.\d{3}  \(\d+ images\)$", text, flags=re.M)) == 10
    results = check_outputs(tmp_path, "02_mnist_mlp", ["02_test_images.png", "02_training.png",
                                                       "02_misclassified.png"])
    assert results["dataset"] in ("MNIST", "Fashion-MNIST", "scikit-learn digits (8x8)")


@needs_images
def test_03_inside(tmp_path):
    text = run_example("03_inside_the_network.py", tmp_path)
    single = number(r"single layer: test accuracy ([\d.]+)", text)
    hidden = number(r"10 hidden units: test accuracy ([\d.]+)", text)
    assert 0.5 < single <= 1.0
    assert 0.3 < hidden <= 1.0
    results = check_outputs(tmp_path, "03_inside", ["03_templates.png", "03_confusion_matrix.png",
                                                    "03_confusion_examples.png", "03_hidden_filters.png"])
    confusion = results["confusion"]
    assert len(confusion) == 10 and all(len(row) == 10 for row in confusion)
    correct = sum(confusion[i][i] for i in range(10))
    assert correct / sum(map(sum, confusion)) == pytest.approx(single, abs=1e-3)


def test_04_geometry(tmp_path):
    text = run_example("04_geometry_of_neurons.py", tmp_path)
    assert number(r"perceptron: training accuracy ([\d.]+)", text) == 1.0  # separable: the rule converges
    assert number(r"sigmoid neuron: training accuracy ([\d.]+)", text) > 0.9
    assert number(r"3-feature neuron: training accuracy ([\d.]+)", text) > 0.9
    assert number(r"softmax: training accuracy ([\d.]+)", text) > 0.9
    single = number(r"single neuron: training accuracy ([\d.]+)", text)
    linear3 = number(r"3 linear hidden units: training accuracy ([\d.]+)", text)
    assert single < 1.0 and linear3 < 1.0  # no line separates the L-shaped set
    assert 0.0 <= number(r"3 relu hidden units: training accuracy ([\d.]+)", text) <= 1.0
    variance = number(r"predicting the mean everywhere gives MSE ([\d.e+-]+)", text)
    mse_linear = number(r"linear unit: MSE ([\d.e+-]+)", text)
    mse_400 = number(r"400 relu units: MSE ([\d.e+-]+)", text)
    assert mse_linear > 0.5 * variance  # a line cannot follow the parabola
    assert mse_400 < mse_linear
    check_outputs(tmp_path, "04_geometry", ["04_perceptron.png", "04_sigmoid_neuron.png", "04_plane_3d.png",
                                            "04_softmax_lines.png", "04_l_shape.png", "04_hidden_space.png",
                                            "04_regression.png", "04_relu_decomposition.png"])


def test_05_advertising(tmp_path):
    text = run_example("05_advertising.py", tmp_path)
    assert "Total params: 51" in text
    assert re.search(r"parameters: 40 \(.*\) \+ 11 \(.*\) = 51", text)
    rows = re.findall(r"^ +[\d.]+ +[\d.]+ +[\d.]+ +([\d.]+) +(-?[\d.]+)$", text, flags=re.M)
    assert len(rows) == 10
    assert [float(t) for t, _ in rows[:3]] == [22.1, 10.4, 9.3]  # the book's first three markets
    mse = number(r"training MSE ([\d.]+)", text)
    assert 0 < mse < 50  # the first epoch's MSE is in the thousands
    results = check_outputs(tmp_path, "05_advertising", ["05_advertising_fit.png", "05_network.png"])
    assert results["params"] == 51 and results["layer_params"] == [40, 11]
    assert results["first_ten"] == pytest.approx([float(p) for _, p in rows], abs=0.006)


def test_image_fallback_without_files(monkeypatch):
    """With no IDX files on disk, --quick falls back to scikit-learn's 8x8 digits (or says what to install)."""
    sys.path.insert(0, EXAMPLES)
    try:
        import _common
    finally:
        sys.path.remove(EXAMPLES)
    monkeypatch.setattr(_common, "idx_files_on_disk", lambda name, folders: False)
    try:
        import sklearn  # noqa: F401
    except ImportError:
        with pytest.raises(SystemExit, match="dataset-fashion-mnist"):
            _common.load_images("auto", quick=True)
        return
    data = _common.load_images("auto", quick=True)
    assert data.name.startswith("scikit-learn digits")
    assert data.image_shape == (8, 8)
    assert data.x_train.shape[1] == 64 and data.x_train.dtype.name == "float32"
    assert 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0
    assert set(data.y_test.tolist()) == set(range(10))
    assert "scikit-learn" in data.note
