"""MNIST handwritten digits, as ``keras.datasets.mnist``, read from the original IDX files."""

from fastnn.datasets._idx_dataset import load_idx_dataset

# TensorFlow's mirror of the IDX files of http://yann.lecun.com/exdb/mnist/
BASE_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"

# SHA-256 of the canonical gzipped files (the same bytes on every MNIST mirror).
FILE_HASHES = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}


def load_data(path=None):
    """Load the MNIST dataset of handwritten digits (LeCun, Cortes and Burges).

    60,000 training and 10,000 test images of 28x28 grey levels, labels 0-9.

    Args:
        path: ``None`` to search the usual places (see ``fastnn.datasets``), a folder holding
            the four IDX files (gzipped or not), or a Keras ``mnist.npz`` (read without pickle).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: ``x`` uint8 of shape ``(60000, 28, 28)`` and
        ``(10000, 28, 28)`` with values 0-255, ``y`` uint8 of shape ``(60000,)`` and ``(10000,)``.

    Raises:
        DatasetNotFoundError (a ``FileNotFoundError``) when the files are absent and cannot be
        downloaded; ``ValueError`` when a file is damaged or a download fails its checksum.
    """
    return load_idx_dataset("MNIST", "mnist", path, BASE_URL, FILE_HASHES, ("mnist",))
