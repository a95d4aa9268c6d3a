"""fastnn.wrappers: scikit-learn estimators around fastnn models (Keras 3's keras.wrappers names).

Importing this package imports scikit-learn (pip install "fastnn-cpp[sklearn]"); `import fastnn` does not.
"""

from fastnn.wrappers.sklearn_wrapper import SKLearnClassifier, SKLearnRegressor, SKLearnTransformer

__all__ = ["SKLearnClassifier", "SKLearnRegressor", "SKLearnTransformer"]
