"""Model summaries in Keras 3's layout: the layer table (Layer (type), Output Shape, Param #) drawn with box
characters as Keras prints it with rich, then the total / trainable / non-trainable parameter counts."""

import shutil
import textwrap

import numpy as np

from ._validation import check_int
from .layers import InputLayer


def print_summary(model, line_length=None, positions=None, print_fn=None):
    """Prints `model`'s summary (Model.summary's work)."""
    if line_length is None:
        line_length = min(88, shutil.get_terminal_size().columns - 4)
    line_length = check_int(line_length, "line_length", 20)
    positions = positions or (0.45, 0.80, 1.0)
    if len(positions) != 3:
        raise ValueError(f"positions: expected 3 column ends such as [0.45, 0.8, 1.0], got {positions!r}")
    print_fn = print_fn or print
    print_fn(summary_text(model, line_length, positions))


def summary_rows(model):
    """One (name (type), output shape, param count) row per layer, the InputLayer included."""
    rows = []
    for layer in model.layers:
        if isinstance(layer, InputLayer):
            shape, params = layer.shape, "0"
        elif layer._input_size is None:
            shape, params = "?", "0 (unbuilt)"
        else:
            shape, params = layer.output_shape, f"{layer.count_params():,}"
        rows.append((f"{layer.name} ({type(layer).__name__})", str(shape), params))
    return rows


def summary_text(model, line_length, positions):
    total, fixed = _param_counts(model)
    item = np.dtype(model.dtype).itemsize
    lines = [f'Model: "{model.name}"']
    lines += _table(("Layer (type)", "Output Shape", "Param #"), summary_rows(model),
                    _column_widths(line_length, positions))
    lines.append(f" Total params: {total:,} ({_human_bytes(total * item)})")
    lines.append(f" Trainable params: {total - fixed:,} ({_human_bytes((total - fixed) * item)})")
    lines.append(f" Non-trainable params: {fixed:,} ({_human_bytes(fixed * item)})")
    return "\n".join(lines)


def _param_counts(model):
    """(total, non-trainable) parameter counts from the engine's tensor specs (moving statistics, adapted
    Normalization state and frozen weights are non-trainable)."""
    if not model.built:
        return 0, 0
    net = model._net
    specs = net.param_specs()
    ids = [k for i in range(model._first, model._last + 1) for k in net.op_info(i)["params"]]
    return sum(specs[k]["size"] for k in ids), sum(specs[k]["size"] for k in ids if not specs[k]["trainable"])


def _column_widths(line_length, positions):
    """Keras's column widths (line_length split at `positions`), shrunk as its rich table shrinks them to fit
    line_length with borders: the excess is taken from the columns in equal shares, first column first."""
    widths, current = [], 0
    for pos in positions:
        width = int(pos * line_length) - current if pos <= 1 else int(pos) - current
        if width < 4:
            raise ValueError(f"line_length: {line_length} is too narrow to print the summary")
        widths.append(width + 2)  # one space of padding on each side
        current += width
    excess = sum(widths) - (line_length - len(widths) - 1)
    for i in range(len(widths)):
        if excess <= 0:
            break
        cut = min(widths[i] - 3, round(excess / (len(widths) - i)))
        widths[i] -= cut
        excess -= cut
    return widths


def _fit_cell(text, width):
    """The lines of one cell: words wrapped to `width`, a word too long cut with an ellipsis (as rich does)."""
    lines = textwrap.wrap(text, width, break_long_words=False) or [""]
    return [line if len(line) <= width else line[:width - 1] + "…" for line in lines]


def _table(header, rows, widths):
    """A box-drawn table in the style Keras prints with rich: heavy header, a rule between rows."""
    def rule(left, mid, right, fill):
        return left + mid.join(fill * w for w in widths) + right

    def row(cells, sep, right_align=(False, False, True)):
        fitted = [_fit_cell(c, w - 2) for c, w in zip(cells, widths)]
        out = []
        for k in range(max(len(f) for f in fitted)):
            parts = [(f[k] if k < len(f) else "") for f in fitted]
            parts = [p.rjust(w - 2) if r else p.ljust(w - 2) for p, w, r in zip(parts, widths, right_align)]
            out.append(sep + sep.join(f" {p} " for p in parts) + sep)
        return out

    lines = [rule("┏", "┳", "┓", "━")] + row(header, "┃") + [rule("┡", "╇", "┩", "━")]
    for k, cells in enumerate(rows):
        if k:
            lines.append(rule("├", "┼", "┤", "─"))
        lines += row(cells, "│")
    lines.append(rule("└", "┴", "┘", "─"))
    return lines


def _human_bytes(n):
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}"
        n /= 1024
