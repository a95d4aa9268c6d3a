"""Model summaries in Keras 3's layout: the layer table (Layer (type), Output Shape, Param #) drawn with box
characters as Keras prints it with rich, then the total / trainable / non-trainable parameter counts."""

import shutil
import textwrap

import numpy as np

from . import dtype_policies
from ._validation import check_int
from .layers import InputLayer


def print_summary(model, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False):
    """Prints `model`'s summary (Model.summary's work). expand_nested: the layers of nested models too, indented
    under theirs; show_trainable: a "Trainable" column (Y, N, or - for a layer without weights), as Keras does."""
    columns = 4 if show_trainable else 3
    if line_length is None:
        line_length = min(88 + (12 if show_trainable else 0), shutil.get_terminal_size().columns - 4)
    line_length = check_int(line_length, "line_length", 20, maximum=1000)  # (10**9 would build gigabytes of text)
    positions = list(positions or (0.45, 0.80, 1.0))
    if len(positions) != 3:
        raise ValueError(f"positions: expected 3 column ends such as [0.45, 0.8, 1.0], got {positions!r}")
    if show_trainable:
        positions = [p * 0.90 for p in positions] + [1.0]
    print_fn = print_fn or print
    print_fn(summary_text(model, line_length, positions[:columns], bool(expand_nested), bool(show_trainable)))


def layer_type(layer):
    """The type Keras shows for a layer: a functional model is "Functional"."""
    name = type(layer).__name__
    return "Functional" if name == "Model" else name


def summary_rows(model, expand_nested=False, show_trainable=False, level=0):
    """One (name (type), output shape, param count[, trainable]) row per layer, the InputLayer included; with
    expand_nested, a nested model's rows follow its own, indented."""
    rows = []
    prefix = "   " * level + "└ " if level else ""
    for layer in model.layers:
        if isinstance(layer, InputLayer):
            shape, params = layer.shape, "0"
        elif layer._input_size is None:
            shape, params = "?", "0 (unbuilt)"
        else:
            shape, params = layer.output_shape, f"{layer.count_params():,}"
        row = (f"{prefix}{layer.name} ({layer_type(layer)})", str(shape), params)
        if show_trainable:
            has_weights = layer._input_size is not None and layer.count_params() > 0
            row += (("Y" if layer.trainable else "N") if has_weights else "-",)
        rows.append(row)
        if expand_nested and hasattr(layer, "_chain"):
            rows += summary_rows(layer, expand_nested, show_trainable, level + 1)
    return rows


def param_counts(model):
    """(trainable, non-trainable) parameter counts, from the engine's tensor specs and the trainable flags."""
    if not model.built:
        return 0, 0
    sizes = [int(spec["size"]) for spec in model._net.param_specs()]
    counts = [0, 0]
    for k, layer in enumerate(model._op_layers):
        flags = layer._trainable_flags()
        for p, flag in zip(model._net.op_info(model._first + k)["params"], flags):
            counts[not (model.trainable and flag)] += sizes[p]
    return counts[0], counts[1]


def summary_text(model, line_length, positions, expand_nested=False, show_trainable=False):
    trainable, frozen = param_counts(model)
    itemsize = np.dtype(model.dtype).itemsize
    header = ("Layer (type)", "Output Shape", "Param #") + (("Trainable",) if show_trainable else ())
    lines = [f'Model: "{model.name}"']
    lines += _table(header, summary_rows(model, expand_nested, show_trainable), _column_widths(line_length, positions),
                    ("left", "left", "right", "center"))
    lines.append(f" Total params: {trainable + frozen:,} ({_human_bytes((trainable + frozen) * itemsize)})")
    lines.append(f" Trainable params: {trainable:,} ({_human_bytes(trainable * itemsize)})")
    lines.append(f" Non-trainable params: {frozen:,} ({_human_bytes(frozen * itemsize)})")
    lines += _policy_lines(model)
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


def _leaf_layers(model):
    """The layers of `model`, nested models' layers in place of the nested models."""
    for layer in model.layers:
        if hasattr(layer, "layers"):
            yield from _leaf_layers(layer)
        else:
            yield layer


def _policy_lines(model):
    """A line naming the dtype policies when any layer's is not its model's plain dtype (mixed_bfloat16)."""
    names = sorted({layer.dtype_policy.name for layer in _leaf_layers(model) if not isinstance(layer, InputLayer)})
    if not any(dtype_policies.DTypePolicy(n).is_mixed for n in names):
        return []
    how = f"bfloat16 products on {dtype_policies.bf16_isa()}" if dtype_policies.bf16_available() \
        else "float32 products: no bfloat16 on this machine"
    return [f" Dtype policy: {', '.join(names)} ({how})"]


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


def _table(header, rows, widths, alignment=("left", "left", "right")):
    """A box-drawn table in the style Keras prints with rich: heavy header, a rule between rows."""
    def rule(left, mid, right, fill):
        return left + mid.join(fill * w for w in widths) + right

    def align(text, width, how):
        return text.rjust(width) if how == "right" else text.center(width) if how == "center" else text.ljust(width)

    def row(cells, sep):
        fitted = [_fit_cell(c, w - 2) for c, w in zip(cells, widths)]
        out = []
        for k in range(max(len(f) for f in fitted)):
            parts = [(f[k] if k < len(f) else "") for f in fitted]
            parts = [align(p, w - 2, a) for p, w, a in zip(parts, widths, alignment)]
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
