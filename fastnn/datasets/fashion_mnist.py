"""Fashion-MNIST (Zalando), as ``keras.datasets.fashion_mnist``, read from its IDX files.

Debian's package ``dataset-fashion-mnist`` installs the four ``.gz`` files under
``/usr/share/datasets/fashion-mnist/``; they are found there without a download. (Debian
recompressed them, so their gzip bytes differ from the canonical archives below, while the
decompressed content is identical: ``RAW_HASHES``.)
"""

from fastnn.datasets._idx_dataset import load_idx_dataset

# Keras's mirror of https://github.com/zalandoresearch/fashion-mnist (same files as upstream).
BASE_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"

# SHA-256 of the canonical gzipped files, as published with Fashion-MNIST and used by Keras.
FILE_HASHES = {
    "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
}

# SHA-256 of the decompressed IDX files (checked against Debian's copy in the tests).
RAW_HASHES = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def load_data(path=None):
    """Load the Fashion-MNIST dataset: 28x28 grey images of 10 kinds of clothing.

    Labels: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt,
    7 Sneaker, 8 Bag, 9 Ankle boot (``CLASS_NAMES``).

    Args:
        path: ``None`` to search the usual places (see ``fastnn.datasets``), a folder holding
            the four IDX files (gzipped or not), or a Keras-style ``.npz`` (read without pickle).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: ``x`` uint8 of shape ``(60000, 28, 28)`` and
        ``(10000, 28, 28)``, ``y`` uint8 of shape ``(60000,)`` and ``(10000,)``.

    Raises:
        DatasetNotFoundError (a ``FileNotFoundError``) when the files are absent and cannot be
        downloaded; ``ValueError`` when a file is damaged or a download fails its checksum.

    License: the copyright of Fashion-MNIST is held by Zalando SE; MIT license.
    """
    return load_idx_dataset("Fashion-MNIST", "fashion-mnist", path, BASE_URL, FILE_HASHES,
                            ("fashion-mnist", "fashion_mnist"))
