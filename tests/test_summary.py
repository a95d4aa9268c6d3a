"""model.summary(): Keras 3's layout (the table its rich console prints for a chain of layers when output is not a
terminal: 76 characters wide, columns split at 45% and 80%), counts and byte sizes."""

import pytest

import fastnn
from fastnn import Input, Model, Sequential
from fastnn.layers import Dense, Dropout, Flatten

# What Keras 3 prints for the issue's example (keras.utils.summary_utils.print_summary, rich table, line length
# min(88, 80 - 4) = 76 when stdout is not a terminal).
KERAS_EXAMPLE = """\
Model: "sequential"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ dense (Dense)                   │ (None, 10)             │            40 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_1 (Dense)                 │ (None, 1)              │            11 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 51 (204.00 B)
 Trainable params: 51 (204.00 B)
 Non-trainable params: 0 (0.00 B)"""


def summary_text(model, **kwargs):
    lines = []
    model.summary(print_fn=lines.append, **kwargs)
    assert len(lines) == 1
    return lines[0]


@pytest.fixture(autouse=True)
def fresh_names():
    fastnn.backend.clear_session()
    yield
    fastnn.backend.clear_session()


def test_issue_example_matches_keras_layout_exactly():
    model = Sequential([Dense(10, input_shape=(3,), activation="relu"), Dense(1)])
    assert summary_text(model, line_length=76) == KERAS_EXAMPLE


def test_default_width_outside_a_terminal_is_keras_76(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    model = Sequential([Dense(10, input_shape=(3,), activation="relu"), Dense(1)])
    model.summary()
    assert capsys.readouterr().out == KERAS_EXAMPLE + "\n"


def test_float64_byte_sizes_and_thousands_separators():
    model = Sequential([Dense(1000, input_shape=(784,)), Dense(10)], dtype="float64")
    text = summary_text(model, line_length=76)
    total = 784 * 1000 + 1000 + 1000 * 10 + 10
    assert "│ dense (Dense)                   │ (None, 1000)           │       785,000 │" in text
    assert f" Total params: {total:,} ({total * 8 / 1024 / 1024:.2f} MB)" in text
    assert f" Trainable params: {total:,} ({total * 8 / 1024 / 1024:.2f} MB)" in text


def test_functional_summary_lists_the_input_layer():
    x = Input(shape=(2,))
    h = Dense(3, activation="relu")(x)
    model = Model(inputs=x, outputs=Dense(1)(h), name="net")
    lines = summary_text(model, line_length=76).splitlines()
    assert lines[0] == 'Model: "net"'
    assert lines[4] == "│ input_layer (InputLayer)        │ (None, 2)              │             0 │"
    assert lines[6].startswith("│ dense (Dense)") and lines[6].endswith("│             9 │")
    assert lines[8].startswith("│ dense_1 (Dense)") and lines[8].endswith("│             4 │")
    assert " Total params: 13 (52.00 B)" in lines


def test_unbuilt_model_shows_question_marks_like_keras():
    model = Sequential([Dense(4), Dense(1)])
    text = summary_text(model, line_length=76)
    assert "│ dense (Dense)                   │ ?                      │   0 (unbuilt) │" in text
    assert " Total params: 0 (0.00 B)" in text


def test_layers_without_weights_and_flatten():
    model = Sequential([Flatten(input_shape=(4, 4)), Dense(8), Dropout(0.5), Dense(2)])
    text = summary_text(model, line_length=76)
    assert "│ flatten (Flatten)               │ (None, 16)             │             0 │" in text
    assert "│ dropout (Dropout)               │ (None, 8)              │             0 │" in text
    assert " Total params: 154 (616.00 B)" in text


def test_other_line_lengths_keep_every_line_that_wide():
    model = Sequential([Dense(10, input_shape=(3,)), Dense(1)])
    for width in (50, 60, 88, 100):
        table = summary_text(model, line_length=width).splitlines()[1:8]
        assert {len(line) for line in table} == {width}


def test_long_names_wrap_inside_their_column():
    model = Sequential([Dense(2, input_shape=(1,), name="a_very_long_layer_name_that_overflows_the_column")])
    lines = summary_text(model, line_length=76).splitlines()
    assert lines[4] == "│ a_very_long_layer_name_that_ov… │ (None, 2)              │             4 │"
    assert lines[5] == "│ (Dense)                         │                        │               │"
