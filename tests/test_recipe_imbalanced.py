"""Recipe: TensorFlow/Keras's "Classification on imbalanced data" guide, written as the guide writes it with only
the imports changed (`keras` -> `fastnn`), on a generated fraud-like data set (2% positives). It checks what the
guide shows: the metrics list (confusion counts, precision, recall, ROC AUC and PR AUC) named as given,
an initial output bias from the class ratio, class weights, early stopping on val_prc with the best weights
restored, and confusion counts that sum to the test size and agree with predict()."""

import numpy as np

import fastnn as keras  # the guide's `import keras` / `from tensorflow import keras`


def make_data(n=12000, d=20, seed=0):
    rng = np.random.default_rng(seed)
    labels = (rng.uniform(size=n) < 0.02).astype(np.float64)
    features = rng.normal(size=(n, d))
    features[:, :4] += labels[:, None] * np.array([1.5, -1.2, 1.0, 0.8])  # a few informative features
    features[:, 4] = np.exp(features[:, 4])  # a skewed one, standardized below as the guide does
    return features, labels


def test_imbalanced_classification_guide():
    keras.utils.set_random_seed(42)
    features, labels = make_data()
    # Split and normalize (the guide: train/val/test, StandardScaler, clip to [-5, 5])
    n = len(labels)
    train_features, val_features, test_features = features[:int(.64 * n)], features[int(.64 * n):int(.8 * n)], \
        features[int(.8 * n):]
    train_labels, val_labels, test_labels = labels[:int(.64 * n)], labels[int(.64 * n):int(.8 * n)], \
        labels[int(.8 * n):]
    mean, std = train_features.mean(axis=0), train_features.std(axis=0)
    train_features = np.clip((train_features - mean) / std, -5, 5)
    val_features = np.clip((val_features - mean) / std, -5, 5)
    test_features = np.clip((test_features - mean) / std, -5, 5)

    neg, pos = np.bincount(train_labels.astype(int))
    total = neg + pos

    METRICS = [
        keras.metrics.BinaryCrossentropy(name='cross entropy'),  # same as model's loss
        keras.metrics.MeanSquaredError(name='Brier score'),
        keras.metrics.TruePositives(name='tp'),
        keras.metrics.FalsePositives(name='fp'),
        keras.metrics.TrueNegatives(name='tn'),
        keras.metrics.FalseNegatives(name='fn'),
        keras.metrics.BinaryAccuracy(name='accuracy'),
        keras.metrics.Precision(name='precision'),
        keras.metrics.Recall(name='recall'),
        keras.metrics.AUC(name='auc'),
        keras.metrics.AUC(name='prc', curve='PR'),  # precision-recall curve
    ]

    def make_model(metrics=METRICS, output_bias=None):
        if output_bias is not None:
            output_bias = keras.initializers.Constant(output_bias)
        model = keras.Sequential([
            keras.layers.Dense(16, activation='relu', input_shape=(train_features.shape[-1],)),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(1, activation='sigmoid', bias_initializer=output_bias),
        ])
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=1e-3),
            loss=keras.losses.BinaryCrossentropy(),
            metrics=metrics)
        return model

    EPOCHS = 100
    BATCH_SIZE = 256
    early_stopping = keras.callbacks.EarlyStopping(
        monitor='val_prc', verbose=0, patience=10, mode='max', restore_best_weights=True)

    # The guide's careful initial bias: the first predictions are near the base rate, the initial loss near
    # the entropy of the labels rather than ln 2.
    initial_bias = np.log([pos / neg])
    model = make_model(output_bias=initial_bias)
    results = model.evaluate(train_features, train_labels, batch_size=BATCH_SIZE, verbose=0)
    p0 = pos / total
    assert abs(results[0] - (-p0 * np.log(p0) - (1 - p0) * np.log(1 - p0))) < 0.05

    # Class weights (the guide's formula), early stopping on the PR AUC of the validation data.
    weight_for_0 = (1 / neg) * (total / 2.0)
    weight_for_1 = (1 / pos) * (total / 2.0)
    class_weight = {0: weight_for_0, 1: weight_for_1}
    weighted_model = make_model(output_bias=initial_bias)
    weighted_history = weighted_model.fit(
        train_features, train_labels, batch_size=BATCH_SIZE, epochs=EPOCHS, callbacks=[early_stopping],
        validation_data=(val_features, val_labels), class_weight=class_weight, verbose=0)
    history = weighted_history.history
    for name in ('loss', 'cross entropy', 'Brier score', 'tp', 'fp', 'tn', 'fn', 'accuracy', 'precision', 'recall',
                 'auc', 'prc'):
        assert name in history and 'val_' + name in history
    # training counts are per epoch over the whole training set (unweighted metrics, as in Keras 3)
    assert history['tp'][0] + history['fp'][0] + history['tn'][0] + history['fn'][0] == len(train_labels)
    best = int(np.argmax(history['val_prc']))
    assert early_stopping.stopped_epoch == 0 or early_stopping.stopped_epoch == best + 10
    # restore_best_weights: the model now has the best epoch's val_prc
    val_results = weighted_model.evaluate(val_features, val_labels, batch_size=BATCH_SIZE, verbose=0,
                                          return_dict=True)
    assert abs(val_results['prc'] - history['val_prc'][best]) < 1e-6

    # Evaluate on the test set and check the confusion matrix against predict(), as the guide's plot_cm does.
    results = weighted_model.evaluate(test_features, test_labels, batch_size=BATCH_SIZE, verbose=0)
    logs = dict(zip(weighted_model.metrics_names, results))
    test_predictions = weighted_model.predict(test_features, batch_size=BATCH_SIZE, verbose=0)
    predicted = test_predictions[:, 0] > 0.5
    actual = test_labels == 1
    assert logs['tp'] + logs['fp'] + logs['tn'] + logs['fn'] == len(test_labels)
    assert logs['tp'] == np.sum(predicted & actual) and logs['fp'] == np.sum(predicted & ~actual)
    assert logs['tn'] == np.sum(~predicted & ~actual) and logs['fn'] == np.sum(~predicted & actual)
    assert abs(logs['recall'] - logs['tp'] / (logs['tp'] + logs['fn'])) < 1e-12
    # the class-weighted model finds most of the rare positives, and ranks them well
    assert logs['recall'] > 0.6
    assert logs['auc'] > 0.85 and logs['prc'] > 5 * p0
