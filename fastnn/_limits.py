"""What a model may be: the one table of limits, and the memory estimate checked before the engine allocates.

Every place that makes or reads a model asks this module: the layer and model constructors, `Model._build`,
`compile`, `fit` / `evaluate` / `predict` / `train_on_batch` (one batch's activations), `save` (which refuses
what `load_model` would refuse) and `load_model` (before anything is built, for Sequential and functional files
alike). The engine mirrors the essential caps (cpp/fastnn/network.cpp, check_alloc) so a direct `fastnn._core`
call cannot bypass them.

A limit is refused with ValueError ("<what>: expected ..., got ..."); a model or batch that would not fit in the
machine's memory with MemoryError saying what ran out and how much it needed.
"""

import functools
import os

MAX_NAME_CHARS = 512  # model and layer names
MAX_LAYERS = 999  # layers of one model, its InputLayer not counted (a file holds at most 1000 entries)
MAX_UNITS = 1 << 24  # units of a layer, features of a sample
MAX_SAMPLE_DIMS = 8  # dimensions of one sample (input_shape)
MAX_METRICS = 64  # metrics (and weighted metrics) of one compile
MAX_PARAMS = (1 << 31) - 1  # parameters of one model (the engine's cap)
MAX_INDEX = (1 << 63) - 1  # the engine's index type (ptrdiff_t): epochs, batch sizes, batch indices
MAX_INT32 = (1 << 31) - 1  # the engine's `int` arguments (Perceptron epochs, layer indices)
MAX_SEED = (1 << 64) - 1  # the engine's seeds are 64-bit
THREADS_PER_CPU = 4  # set_num_threads accepts up to this many threads per logical CPU
OPTIMIZER_SLOTS = 3  # the engine keeps three slot buffers per parameter, whatever the optimizer


def max_threads():
    """The largest thread count set_num_threads accepts: THREADS_PER_CPU per logical CPU."""
    return THREADS_PER_CPU * (os.cpu_count() or 1)


@functools.lru_cache(maxsize=None)  # a fixed fact of the machine, asked before every call into the engine
def physical_memory():
    """Bytes of memory of this machine, or None when the system does not say."""
    try:
        pages, page = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    return pages * page if pages > 0 and page > 0 else None


def human_bytes(n):
    """1.5 GiB, 230.00 MiB, 12 B."""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} TiB"


def check_name(name, what):
    """A non-empty string of at most MAX_NAME_CHARS characters (names are written to model files)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"{what}: expected a non-empty string, got {name!r}")
    if len(name) > MAX_NAME_CHARS:
        raise ValueError(f"{what}: expected at most {MAX_NAME_CHARS} characters, got {len(name)} "
                         f"({name[:20]!r}...)")
    return name


def check_layer_count(n, what):
    if n > MAX_LAYERS:
        raise ValueError(f"{what}: expected at most {MAX_LAYERS} layers, got {n}")


def check_units(n, what):
    if n > MAX_UNITS:
        raise ValueError(f"{what}: expected an integer in [1, {MAX_UNITS}], got {n}")
    return n


def check_params(total, what):
    if total > MAX_PARAMS:
        raise ValueError(f"{what}: expected at most {MAX_PARAMS:,} parameters (fastnn's limit for one model), "
                         f"got {total:,}")


def check_memory(parts, what, hint):
    """Refuses a total of `parts` ([(label, bytes), ...]) above the machine's memory with a MemoryError naming
    each part: a buffer that large may be granted by the kernel and then kill the process when it is touched."""
    limit = physical_memory()
    total = sum(b for _, b in parts)
    if limit is not None and total > limit:
        detail = " + ".join(f"{label} {human_bytes(b)}" for label, b in parts if b)
        raise MemoryError(f"{what} needs {human_bytes(total)} ({detail}), more than this machine's "
                          f"{human_bytes(limit)} of memory; {hint}")


def training_bytes(n_params, itemsize, compiled):
    """[(label, bytes)] of a model's parameter buffers: weights and gradients, plus the optimizer's slots once
    compiled."""
    parts = [("weights", n_params * itemsize), ("gradients", n_params * itemsize)]
    if compiled:
        parts.append(("optimizer state", OPTIMIZER_SLOTS * n_params * itemsize))
    return parts


def activation_values(widths, n_in, rows, training):
    """Values the engine's workspace holds for a batch of `rows` samples through ops of output widths `widths`
    (an upper bound: each op's output, and in training its pre-activation, the backward and small-layer scratch
    buffers of the widest op, the gathered batch and its transposed copy)."""
    per_row = sum(2 * w for w in widths) if training else sum(widths)
    if training:
        widest = max([n_in] + list(widths))
        per_row += 4 * widest + 2 * n_in + 2 * widths[-1] + 4
    return rows * per_row
