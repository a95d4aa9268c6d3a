"""Learning-rate schedules: the engine's values against the NumPy reference (Keras 3's formulas), one schedule
value per optimizer step inside the engine, optimizer.iterations / learning_rate, saving, the callbacks that set
the learning rate (refused with a schedule, as Keras 3 refuses them), and bad arguments."""

import numpy as np
import pytest

import fastnn
from fastnn import _core, layers, optimizers
from fastnn.optimizers import schedules
from conftest import assert_close
import reference as ref

SCHEDULES = [
    schedules.ExponentialDecay(0.1, decay_steps=7, decay_rate=0.5),
    schedules.ExponentialDecay(0.1, decay_steps=7, decay_rate=0.5, staircase=True),
    schedules.InverseTimeDecay(0.2, decay_steps=3, decay_rate=0.7),
    schedules.InverseTimeDecay(0.2, decay_steps=3, decay_rate=0.7, staircase=True),
    schedules.PiecewiseConstantDecay([5, 12], [0.3, 0.1, 0.01]),
    schedules.PolynomialDecay(0.1, decay_steps=20),
    schedules.PolynomialDecay(0.1, decay_steps=9, end_learning_rate=0.01, power=0.5, cycle=True),
    schedules.CosineDecay(0.1, decay_steps=25),
    schedules.CosineDecay(0.1, decay_steps=25, alpha=0.1),
    schedules.CosineDecay(0.0, decay_steps=20, warmup_target=0.2, warmup_steps=10),
    schedules.CosineDecayRestarts(0.1, first_decay_steps=6),
    schedules.CosineDecayRestarts(0.1, first_decay_steps=5, t_mul=1.0, m_mul=0.5, alpha=0.05),
    schedules.CosineDecayRestarts(0.1, first_decay_steps=4, t_mul=1.5, m_mul=0.8),
]
STEPS = list(range(0, 60)) + [99.0, 1000.0]


@pytest.mark.parametrize("schedule", SCHEDULES, ids=[repr(s) for s in SCHEDULES])
def test_schedule_values_match_the_reference(schedule):
    cfg = schedules.serialize(schedule)
    got = np.array(_core.schedule_values(cfg, STEPS))
    expected = np.array([ref.schedule(cfg["class_name"], cfg["config"], t) for t in STEPS])
    assert_close(got, expected, "float64", "forward")
    # calling the schedule gives the same values, as float32 (Keras's dtype)
    called = schedule(np.array(STEPS))
    assert called.dtype == np.float32 and called.shape == (len(STEPS),)
    np.testing.assert_allclose(called, expected, rtol=1e-6, atol=1e-30)  # float32 (subnormals at 1e-44)
    assert isinstance(schedule(3), np.float32)


@pytest.mark.parametrize("schedule", SCHEDULES[:6:2] + SCHEDULES[9:11], ids=repr)
def test_sgd_takes_the_schedule_value_at_each_step(schedule):
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(30, 4))
    w0 = rng.normal(size=4)
    cfg = {"schedule": schedules.serialize(schedule)}
    got = _core.optimizer_trajectory("sgd", cfg, w0, grads)
    w, expected = w0.copy(), []
    c = schedules.serialize(schedule)
    for t, g in enumerate(grads):  # Keras: the rate at `iterations` before the update
        w = w - ref.schedule(c["class_name"], c["config"], t) * g
        expected.append(w.copy())
    assert_close(got, np.array(expected), "float64", "trajectory")


def test_adam_with_a_schedule_scales_each_step():
    rng = np.random.default_rng(1)
    grads = rng.normal(size=(12, 3))
    w0 = rng.normal(size=3)
    schedule = schedules.ExponentialDecay(0.01, decay_steps=2, decay_rate=0.5)
    got = _core.optimizer_trajectory("adam", {"schedule": schedules.serialize(schedule)}, w0, grads)
    opt = ref.make_optimizer("adam", {"learning_rate": 0.01})
    params, expected = [w0.copy()], []
    for t, g in enumerate(grads):
        opt.learning_rate = 0.01 * 0.5 ** (t / 2)
        opt.step(params, [g])
        expected.append(params[0].copy())
    assert_close(got, np.array(expected), "float64", "trajectory")


def small_model(opt, seed=0):
    fastnn.utils.set_random_seed(seed)
    model = fastnn.Sequential([layers.Dense(4, activation="tanh", input_shape=(3,)), layers.Dense(1)],
                              dtype="float64")
    model.compile(optimizer=opt, loss="mse")
    return model


def data(n=40):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(n, 3))
    return x, x @ np.array([[1.0], [-2.0], [0.5]])


def test_fit_with_a_schedule_equals_per_step_rates_and_reports_iterations():
    x, y = data()
    schedule = schedules.PiecewiseConstantDecay([3, 7], [0.1, 0.05, 0.01])
    model = small_model(optimizers.SGD(learning_rate=schedule))
    assert model.optimizer.learning_rate == pytest.approx(0.1)
    model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)  # 10 steps
    assert model.optimizer.iterations == 10
    assert model.optimizer.learning_rate == pytest.approx(0.01)  # the rate of step 10
    # the same run one step at a time with the rate set by hand
    manual = small_model(optimizers.SGD(learning_rate=0.1))
    for t in range(10):
        manual.optimizer.learning_rate = float(schedule(t))
        b = (t % 5) * 8
        manual.train_on_batch(x[b:b + 8], y[b:b + 8])
    for a, e in zip(model.get_weights(), manual.get_weights()):
        np.testing.assert_allclose(a, e, rtol=1e-6, atol=1e-9)


def test_schedule_is_saved_with_the_model_and_training_resumes_on_it(tmp_path):
    x, y = data()
    schedule = schedules.CosineDecay(0.05, decay_steps=30, warmup_target=0.1, warmup_steps=5)
    model = small_model(optimizers.Adam(learning_rate=schedule))
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    path = tmp_path / "m.fastnn"
    model.save(path)
    loaded = fastnn.models.load_model(path)
    assert isinstance(loaded.optimizer._schedule, schedules.CosineDecay)
    assert loaded.optimizer._schedule.get_config() == schedule.get_config()
    assert loaded.optimizer.iterations == 5
    assert loaded.optimizer.learning_rate == pytest.approx(float(schedule(5)))
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    loaded.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, e in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, e, rtol=1e-12)
    assert optimizers.get(loaded.optimizer).get_config()["learning_rate"]["class_name"] == "CosineDecay"


def test_setting_the_rate_of_a_scheduled_optimizer_raises_typeerror_as_keras():
    opt = optimizers.SGD(learning_rate=schedules.ExponentialDecay(0.1, 10, 0.9))
    with pytest.raises(TypeError, match="not settable"):
        opt.learning_rate = 0.5
    x, y = data()
    model = small_model(opt)
    for cb in (fastnn.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5),
               fastnn.callbacks.ReduceLROnPlateau(monitor="loss", patience=0, min_delta=1e9)):
        with pytest.raises(TypeError, match="not settable"):
            model.fit(x, y, epochs=3, verbose=0, callbacks=[cb])


def test_schedule_round_trips_through_get_config():
    for s in SCHEDULES:
        clone = schedules.deserialize(schedules.serialize(s))
        assert type(clone) is type(s) and clone.get_config() == s.get_config()
        assert type(s).from_config(s.get_config()).get_config() == s.get_config()


@pytest.mark.parametrize("make, match", [
    (lambda: schedules.ExponentialDecay(0.1, decay_steps=0, decay_rate=0.9), "decay_steps"),
    (lambda: schedules.InverseTimeDecay(0.1, decay_steps=-2, decay_rate=0.9), "decay_steps"),
    (lambda: schedules.PolynomialDecay(0.1, decay_steps=0), "decay_steps"),
    (lambda: schedules.CosineDecay(0.1, decay_steps=0), "decay_steps"),
    (lambda: schedules.CosineDecay(0.1, decay_steps=5, warmup_steps=-1, warmup_target=0.2), "warmup_steps"),
    (lambda: schedules.CosineDecayRestarts(0.1, first_decay_steps=0), "first_decay_steps"),
    (lambda: schedules.CosineDecayRestarts(0.1, first_decay_steps=5, t_mul=0), "t_mul"),
    (lambda: schedules.PiecewiseConstantDecay([10], [0.1]), "boundaries"),
    (lambda: schedules.PiecewiseConstantDecay([10, 5], [0.1, 0.2, 0.3]), "boundaries"),
    (lambda: schedules.ExponentialDecay(float("nan"), 10, 0.9), "initial_learning_rate"),
    (lambda: schedules.ExponentialDecay(0.1, 10, "fast"), "decay_rate"),
    (lambda: schedules.deserialize({"class_name": "os.system", "config": {}}), "os.system"),
    (lambda: schedules.deserialize({"class_name": "ExponentialDecay", "config": {"evil": 1}}), "ExponentialDecay"),
    (lambda: optimizers.Adam(learning_rate=lambda step: 0.1), "learning_rate"),
])
def test_bad_schedule_arguments_are_refused_by_name(make, match):
    with pytest.raises(ValueError, match=match):
        make()
