"""Tests of fastnn.progress (Progbar, resolve_verbose) and of the
ProgbarLogger callback that drives it during fit/evaluate/predict."""

import io
import re
import sys

import pytest

from fastnn import progress
from fastnn.callbacks import CallbackList, ProgbarLogger
from fastnn.progress import Progbar, resolve_verbose

TIME = r"\d+(?:s|ms|us)/step"  # time per step, e.g. "3ms/step"


class TTY(io.StringIO):
    def isatty(self):
        return True


class FakeModel:
    stop_training = False
    history = None


def bar(**kwargs):
    out = io.StringIO()
    kwargs.setdefault("interval", 0)
    return Progbar(file=out, **kwargs), out


# ---------------------------------------------------------- resolve_verbose


@pytest.mark.parametrize("value", [0, 1, 2])
def test_resolve_verbose_passes_levels_through(value):
    assert resolve_verbose(value) == value


def test_resolve_verbose_auto_depends_on_terminal(monkeypatch):
    monkeypatch.setattr(sys, "stdout", TTY())
    assert resolve_verbose("auto") == 1
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert resolve_verbose("auto") == 2


@pytest.mark.parametrize("value", [3, -1, "1", "silent", None, 1.5])
def test_resolve_verbose_rejects_other_values(value):
    with pytest.raises(ValueError, match=r"`verbose` must be one of 0, 1, 2 or 'auto'"):
        resolve_verbose(value)


# ------------------------------------------------------------ Progbar, v=2


def test_verbose_2_prints_one_line_at_the_end():
    pb, out = bar(target=32, verbose=2)
    pb.update(7, [("accuracy", 0.8125), ("loss", 0.4321)])
    pb.update(31, [("accuracy", 0.8125), ("loss", 0.4321)])
    assert out.getvalue() == ""
    pb.update(32, [("accuracy", 0.8125), ("loss", 0.4321)])
    text = out.getvalue()
    assert re.fullmatch(
        rf"32/32 - \d+s - {TIME} - accuracy: 0\.8125 - loss: 0\.4321\n", text
    ), repr(text)


def test_verbose_2_pads_the_count_to_the_target_width():
    pb, out = bar(target=150, verbose=2)
    pb.update(9, [("loss", 1.0)], finalize=True)
    assert out.getvalue().startswith("  9/150 - ")


def test_verbose_0_is_silent():
    pb, out = bar(target=4, verbose=0)
    for step in range(1, 5):
        pb.update(step, [("loss", 0.5)])
    assert out.getvalue() == ""


# ------------------------------------------------------------ Progbar, v=1


def test_verbose_1_draws_in_place_with_eta():
    pb, out = bar(target=32, verbose=1)
    pb.update(7, [("accuracy", 0.8125), ("loss", 0.4321)])
    text = out.getvalue()
    # 7/32 of a 20-wide bar is 4 filled cells
    assert re.fullmatch(
        r"\r 7/32 " + "━" * 4 + "─" * 16 + rf" \d+s {TIME} - accuracy: 0\.8125"
        r" - loss: 0\.4321",
        text,
    ), repr(text)
    assert "\n" not in text


def test_verbose_1_final_line_shows_elapsed_time_and_ends_the_line():
    pb, out = bar(target=32, verbose=1)
    pb.update(16, [("loss", 0.5)])
    pb.update(32, [("loss", 0.25)])
    lines = out.getvalue().split("\r")
    assert lines[0] == ""
    assert len(lines) == 3
    assert lines[1].startswith("16/32 " + "━" * 10 + "─" * 10 + " ")
    assert re.fullmatch(r"32/32 " + "━" * 20 + rf" \d+s {TIME} - loss: 0\.2500\n",
                        lines[2]), repr(lines[2])
    assert out.getvalue().count("\n") == 1


def test_verbose_1_blanks_out_a_longer_previous_line():
    pb, out = bar(target=10, verbose=1)
    pb.update(1, [("phase", "a rather long description")])
    pb.update(2, [("phase", "short")])
    first, second = out.getvalue().split("\r")[1:]
    assert "phase: short" in second
    # the shorter line is padded so no characters of the first remain
    assert len(second) == len(first)
    assert second.rstrip(" ").endswith("phase: short") and second.endswith("  ")


def test_verbose_1_respects_interval_but_always_finalizes():
    pb, out = bar(target=100, verbose=1, interval=3600)
    pb.update(1, [("loss", 1.0)])  # the first update is always drawn
    pb.update(2, [("loss", 1.0)])
    pb.update(3, [("loss", 1.0)])
    assert out.getvalue().count("\r") == 1
    pb.update(100, [("loss", 1.0)])
    assert out.getvalue().count("\r") == 2 and out.getvalue().endswith("\n")


def test_verbose_1_unknown_target():
    pb, out = bar(target=None, verbose=1)
    pb.update(7, [("loss", 0.5)])
    assert re.fullmatch(rf"\r      7/Unknown \d+s {TIME} - loss: 0\.5000",
                        out.getvalue()), repr(out.getvalue())


def test_colour_on_a_terminal():
    out = TTY()
    pb = Progbar(target=4, verbose=1, interval=0, file=out)
    pb.update(2, [("loss", 0.5)])
    text = out.getvalue()
    assert "\x1b[1m2/4\x1b[0m" in text
    assert "\x1b[32m" + "━" * 10 + "\x1b[0m" in text
    assert "\x1b[37m" + "━" * 10 + "\x1b[0m" in text
    assert "─" not in text


def test_default_stream_is_sys_stdout_at_write_time(capsys):
    pb = Progbar(target=3, verbose=2)
    pb.update(3, [("loss", 0.5)])
    assert capsys.readouterr().out.startswith("3/3 - ")


def test_add_advances_by_n():
    pb, out = bar(target=10, verbose=2)
    pb.add(4)
    pb.add(6, [("loss", 0.5)])
    assert out.getvalue().startswith("10/10 - ")


# -------------------------------------------------------- metric formatting


@pytest.mark.parametrize(
    "value, shown",
    [
        (0.4321, "0.4321"),
        (0.43216, "0.4322"),
        (1234.5, "1234.5000"),
        (-0.5, "-0.5000"),
        (0.0011, "0.0011"),
        (0.001, "1.0000e-03"),
        (0.000123456, "1.2346e-04"),
        (-0.0005, "-5.0000e-04"),
        (0.0, "0.0000e+00"),
        (float("nan"), "nan"),
        (float("inf"), "inf"),
    ],
)
@pytest.mark.parametrize("verbose", [1, 2])
def test_metric_values_are_formatted_as_keras(value, shown, verbose):
    pb, out = bar(target=1, verbose=verbose)
    pb.update(1, [("m", value)])
    assert f" - m: {shown}" in out.getvalue()
    assert out.getvalue().rstrip(" \n").endswith(shown)


def test_non_numeric_values_are_shown_as_text():
    pb, out = bar(target=1, verbose=2)
    pb.update(1, [("note", "warmup")])
    assert out.getvalue().endswith(" - note: warmup\n")


def test_stateless_values_are_averaged_stateful_shown_as_given():
    pb, out = bar(target=4, verbose=1)
    pb.update(1, [("loss", 1.0)])
    pb.update(2, [("loss", 3.0)])
    assert out.getvalue().endswith("loss: 2.0000")
    pb, out = bar(target=4, verbose=1, stateful_metrics=["loss"])
    pb.update(1, [("loss", 1.0)])
    pb.update(2, [("loss", 3.0)])
    assert out.getvalue().endswith("loss: 3.0000")


def test_metrics_keep_first_seen_order():
    pb, out = bar(target=2, verbose=2)
    pb.update(1, [("loss", 1.0), ("accuracy", 0.5)])
    pb.update(2, {"val_loss": 2.0, "loss": 1.0, "accuracy": 0.5})
    assert re.search(r"- loss: .* - accuracy: .* - val_loss: ", out.getvalue())


@pytest.mark.parametrize(
    "seconds, text",
    [(0, " 0s/step"), (2.4, " 2s/step"), (0.0031, " 3ms/step"),
     (0.000012, " 12us/step")],
)
def test_time_per_step_format(seconds, text):
    assert progress._format_time(seconds, "step") == text


@pytest.mark.parametrize(
    "seconds, text", [(5.7, "5s"), (75, "1:15"), (3725, "1:02:05")]
)
def test_eta_format(seconds, text):
    assert progress._format_eta(seconds) == text


def test_step_duration_leaves_out_the_first_step(monkeypatch):
    clock = iter([100.0, 110.0, 111.0, 112.0])  # start, then three updates
    monkeypatch.setattr(progress.time, "time", lambda: next(clock))
    pb, out = bar(target=3, verbose=2)
    pb.update(1)
    pb.update(2)
    pb.update(3)
    # the slow first step (10 s) is left out: 1 s/step, 12 s elapsed
    assert out.getvalue() == "3/3 - 12s - 1s/step\n"


def test_verbose_1_shows_eta_while_running_and_elapsed_at_the_end(monkeypatch):
    clock = iter([100.0, 110.0, 111.0, 112.0])
    monkeypatch.setattr(progress.time, "time", lambda: next(clock))
    pb, out = bar(target=3, verbose=1, width=3)
    pb.update(1)
    pb.update(2)
    pb.update(3)
    # step 1 took 10 s (ETA 20 s); then 1 s/step: ETA 1 s; 12 s in all
    assert out.getvalue().split("\r")[1:] == [
        "1/3 ━── 20s 10s/step",
        "2/3 ━━─ 1s 1s/step  ",  # padded over "20s 10s"
        "3/3 ━━━ 12s 1s/step\n",
    ]


@pytest.mark.parametrize(
    "kwargs, name",
    [({"target": -1}, "target"), ({"target": 2.5}, "target"),
     ({"target": 3, "verbose": 3}, "verbose"), ({"target": 3, "width": 0}, "width")],
)
def test_progbar_argument_errors(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        Progbar(**kwargs)


# ------------------------------------------------------------ ProgbarLogger


def fit_like(verbose, epochs, steps, batch_logs=None, epoch_logs=None):
    cbs = CallbackList(None, add_history=True, add_progbar=verbose != 0,
                       model=FakeModel(), verbose=verbose, epochs=epochs,
                       steps=steps)
    cbs.on_train_begin()
    for epoch in range(epochs):
        cbs.on_epoch_begin(epoch)
        if cbs._progbar is not None:
            cbs._progbar.progbar.interval = 0
        if cbs.needs_batch_hooks():
            for batch, logs in (batch_logs or []):
                cbs.on_train_batch_end(batch, dict(logs))
        cbs.on_epoch_end(epoch, dict(epoch_logs or {"loss": 0.5}))
    cbs.on_train_end()
    return cbs


def test_progbar_logger_verbose_2_one_line_per_epoch(capsys):
    fit_like(2, epochs=3, steps=4,
             epoch_logs={"loss": 0.25, "accuracy": 0.875, "val_loss": 0.5})
    lines = capsys.readouterr().out.splitlines()
    assert lines[0::2] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    for line in lines[1::2]:
        assert re.fullmatch(rf"4/4 - \d+s - {TIME} - accuracy: 0\.8750 - "
                            r"loss: 0\.2500 - val_loss: 0\.5000", line), line
    assert len(lines) == 6


def test_progbar_logger_single_epoch_prints_no_epoch_header(capsys):
    fit_like(2, epochs=1, steps=4)
    out = capsys.readouterr().out
    assert "Epoch" not in out and out.startswith("4/4 - ")


def test_progbar_logger_verbose_1_shows_running_means_as_given(capsys):
    batch_logs = [(1, {"loss": 1.0}), (3, {"loss": 3.0})]
    fit_like(1, epochs=1, steps=8, batch_logs=batch_logs,
             epoch_logs={"loss": 2.5, "val_loss": 4.0})
    draws = capsys.readouterr().out.split("\r")[1:]
    assert len(draws) == 3
    assert draws[0].startswith("2/8 ") and draws[0].endswith("loss: 1.0000")
    # the engine's running mean is shown, not an average of running means
    assert draws[1].startswith("4/8 ") and draws[1].endswith("loss: 3.0000")
    assert draws[2].startswith("8/8 " + "━" * 20)
    assert draws[2].endswith("loss: 2.5000 - val_loss: 4.0000\n")


def test_progbar_logger_silent_with_verbose_0(capsys):
    cbs = fit_like(0, epochs=2, steps=4)
    assert capsys.readouterr().out == ""
    assert not any(isinstance(cb, ProgbarLogger) for cb in cbs)


def test_progbar_logger_auto_verbose_is_resolved(monkeypatch):
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    logger = ProgbarLogger()
    logger.set_params({"verbose": "auto", "epochs": 1, "steps": 3})
    assert logger.verbose == 2


def test_validation_is_silent_in_fit_but_evaluate_shows_a_bar(capsys):
    cbs = CallbackList(None, add_progbar=True, model=FakeModel(), verbose=2,
                       epochs=1, steps=5)
    cbs.on_train_begin()
    cbs.on_epoch_begin(0)
    cbs.on_test_begin()
    cbs.on_test_batch_end(0, {"loss": 9.0})
    cbs.on_test_end({"loss": 9.0})
    cbs.on_epoch_end(0, {"loss": 1.0, "val_loss": 9.0})
    cbs.on_train_end()
    assert capsys.readouterr().out.count("\n") == 1

    evaluate = CallbackList(None, add_progbar=True, model=FakeModel(),
                            verbose=2, epochs=1, steps=3)
    evaluate.on_test_begin()
    evaluate.on_test_end({"loss": 0.75})
    assert re.fullmatch(rf"3/3 - \d+s - {TIME} - loss: 0\.7500\n",
                        capsys.readouterr().out)


def test_predict_bar_shows_steps_only(capsys):
    cbs = CallbackList(None, add_progbar=True, model=FakeModel(), verbose=1,
                       epochs=1, steps=2)
    assert cbs.needs_batch_hooks("predict")
    cbs.on_predict_begin()
    cbs.on_predict_batch_end(0, {"outputs": [[0.1, 0.9]]})
    cbs.on_predict_batch_end(1, {"outputs": [[0.3, 0.7]]})
    cbs.on_predict_end()
    out = capsys.readouterr().out
    assert "outputs" not in out
    assert re.search(rf"\r2/2 " + "━" * 20 + rf" \d+s {TIME}\n$", out), repr(out)


def test_unknown_steps_take_the_count_seen(capsys):
    cbs = CallbackList(None, add_progbar=True, model=FakeModel(), verbose=1,
                       epochs=1, steps=None)
    cbs.on_train_begin()
    cbs.on_epoch_begin(0)
    cbs.on_train_batch_end(5, {"loss": 0.5})
    cbs.on_epoch_end(0, {"loss": 0.5})
    out = capsys.readouterr().out
    assert "      6/Unknown" in out
    assert re.search(r"\r6/6 " + "━" * 20, out)
