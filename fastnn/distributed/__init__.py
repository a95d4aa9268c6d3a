"""Data-parallel training on MPI, with Horovod's Keras API (init, rank, size, DistributedOptimizer, callbacks).

    import fastnn
    import fastnn.distributed as fd
    fd.init()                                          # once per process, after `mpiexec -n 4 python train.py`
    x, y = fd.shard(x, y)                              # this rank's rows: x[rank::size], equal counts
    model.compile(optimizer=fd.DistributedOptimizer(fastnn.optimizers.Adam(1e-3 * fd.size())), loss=...)
    model.fit(x, y, batch_size=64, callbacks=[fd.callbacks.BroadcastGlobalVariablesCallback(0)])

How a step runs: every rank computes the gradient of its own batch in the engine; between backward and update the
engine calls a gradient hook that averages the flat gradient buffer over the ranks in one MPI_Iallreduce (made from
C++ with the GIL released: no Python per step), and every rank applies the same update, so the weights stay equal.
With R ranks of batch b each, a step equals one process's step on the R*b rows of those batches (the mean of R
equal-sized batch means is the mean of their union); shard() gives every rank the same number of rows, so the last,
partial batch of an epoch is the same size on every rank too. Sample weights keep this exact: the engine's loss is
the sum of w_i L_i divided by the batch's row count, as in Keras.

Decisions that change the flow are taken together: a non-finite loss on any rank (under TerminateOnNaN) stops every
rank at the same step; fit averages the epoch logs (training and validation) over the ranks before callbacks see
them, so EarlyStopping, ReduceLROnPlateau, ModelCheckpoint(save_best_only) and History see the global values;
progress is printed and files (ModelCheckpoint, CSVLogger, BackupAndRestore) are written by rank 0 alone.

Faults: init() installs a sys.excepthook that aborts the whole job when an exception escapes on any rank (so the
others do not wait forever), and each allreduce gives up after `timeout` seconds. mpiexec (MPICH's Hydra) ends the
job when a rank is killed and forwards Ctrl-C to every rank.

MPI comes from mpi4py (pip install "fastnn-cpp[mpi]": the mpich and mpi4py wheels); the engine does not link MPI:
the addresses of MPI_Iallreduce and MPI_Test are taken from the library mpi4py loaded. MPICH-style integer handles
and Open MPI's pointer handles both work.
"""

import ctypes
import os
import sys
import zlib

import numpy as np

from . import callbacks  # noqa: F401  (fastnn.distributed.callbacks.*)

__all__ = ["init", "shutdown", "is_initialized", "rank", "size", "local_rank", "local_size", "cross_rank",
           "cross_size", "DistributedOptimizer", "Average", "Sum", "shard", "allreduce", "allgather", "broadcast",
           "broadcast_weights", "callbacks", "mpi_spec"]

Average, Sum = "average", "sum"  # DistributedOptimizer's op (Horovod's hvd.Average, hvd.Sum)

_world = None  # the _World of init()


class _World:
    def __init__(self, MPI, comm, timeout):
        self.MPI = MPI
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        local = comm.Split_type(MPI.COMM_TYPE_SHARED, key=self.rank)
        self.local_rank, self.local_size = local.Get_rank(), local.Get_size()
        local.Free()
        cross = comm.Split(self.local_rank, key=self.rank)  # one process per machine: the machines
        self.cross_rank, self.cross_size = cross.Get_rank(), cross.Get_size()
        cross.Free()
        self.timeout = timeout
        lib = ctypes.CDLL(_mpi_library_path(MPI), mode=ctypes.RTLD_GLOBAL)
        self.addresses = {name: ctypes.cast(getattr(lib, name), ctypes.c_void_p).value
                          for name in ("MPI_Iallreduce", "MPI_Test")}
        self.handle_size = MPI._sizeof(MPI.Comm)
        self.in_place = _in_place_value(MPI)

    def spec(self, dtype, op="average"):
        MPI = self.MPI
        datatype = {np.dtype(np.float32): MPI.FLOAT, np.dtype(np.float64): MPI.DOUBLE}[np.dtype(dtype)]
        return {"iallreduce": self.addresses["MPI_Iallreduce"], "test": self.addresses["MPI_Test"],
                "comm": _signed(self.comm.handle, self.handle_size),
                "datatype": _signed(datatype.handle, self.handle_size),
                "op": _signed(MPI.SUM.handle, self.handle_size), "in_place": self.in_place,
                "handle_size": self.handle_size, "size": self.size if op == "average" else 1,
                "timeout": float(self.timeout or 0)}


def _signed(value, nbytes):
    """A handle's value as the signed integer of its C type (MPICH's handles are ints above 2^31)."""
    value = int(value)
    bits = 8 * nbytes
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >= 1 << (bits - 1) else value


def _in_place_value(MPI):
    # mpi4py's IN_PLACE is an int subclass holding MPI_IN_PLACE's address ((void *) -1 in MPICH, 1 in Open MPI).
    return _signed(int(MPI.IN_PLACE), ctypes.sizeof(ctypes.c_void_p))


def _mpi_library_path(MPI):
    """The path of the MPI library mpi4py's extension loaded (read from the process's memory map)."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "libmpi" in line and "/" in line}
    except OSError:
        paths = set()
    for p in sorted(paths):
        if os.path.basename(p).startswith(("libmpi.so", "libmpi_abi.so", "libmpich.so")):
            return p
    import ctypes.util
    found = ctypes.util.find_library("mpi")
    if found is None:
        raise RuntimeError("fastnn.distributed: cannot find the MPI library that mpi4py loaded (libmpi.so)")
    return found


def init(comm=None, timeout=300.0, abort_on_error=True):
    """Starts distributed training on `comm` (default MPI.COMM_WORLD); call it once per process.

    timeout: seconds a training step may wait for the other ranks before this rank stops with a RuntimeError
        (None or 0: no limit); it must exceed the longest work one rank does alone between two steps (rank 0
        writing a checkpoint, validation).
    abort_on_error: an exception that escapes the script on any rank aborts the whole MPI job (MPI_Abort) instead
        of leaving the other ranks waiting for it.
    """
    global _world
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError("fastnn.distributed needs mpi4py and an MPI library: pip install \"fastnn-cpp[mpi]\" "
                          "(the mpich and mpi4py wheels), then launch with mpiexec -n 4 python train.py") from e
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or
                                not timeout >= 0):
        raise ValueError(f"timeout: expected a number of seconds >= 0 or None, got {timeout!r}")
    if _world is not None:
        return
    base = MPI.COMM_WORLD if comm is None else comm
    dup = base.Dup()  # fastnn's collectives never mix with the user's on the same communicator
    dup.Set_errhandler(MPI.ERRORS_RETURN)
    _world = _World(MPI, dup, timeout)
    if abort_on_error and _world.size > 1:
        _install_excepthook()


def shutdown():
    """Forgets the communicator (models compiled with a DistributedOptimizer keep their hook: recompile them)."""
    global _world
    if _world is not None:
        try:
            _world.comm.Free()
        except Exception:
            pass
    _world = None


def is_initialized():
    return _world is not None


def _require(what):
    if _world is None:
        raise ValueError(f"{what}: fastnn.distributed.init() has not been called")
    return _world


def rank():
    """This process's rank in the communicator (0 .. size()-1)."""
    return _require("rank()").rank


def size():
    """The number of processes."""
    return _require("size()").size


def local_rank():
    """This process's rank among the processes on the same machine."""
    return _require("local_rank()").local_rank


def local_size():
    """The number of processes on this machine."""
    return _require("local_size()").local_size


def cross_rank():
    """The rank of this process's machine among the machines (Horovod's cross_rank)."""
    return _require("cross_rank()").cross_rank


def cross_size():
    """The number of machines (Horovod's cross_size)."""
    return _require("cross_size()").cross_size


def mpi_spec(dtype, op=Average):
    """The integers the engine's allreduce hook is built from (function addresses and MPI handles); with op=Sum
    the buffer is summed, with Average divided by size() too."""
    return _require("mpi_spec()").spec(dtype, op)


def _chief():
    """True unless distributed training runs and this is not rank 0 (who prints and writes files)."""
    return _world is None or _world.rank == 0


def DistributedOptimizer(optimizer, name=None, op=Average):
    """Marks `optimizer` (a fastnn optimizer or its name) so that models compiled with it average (op=Average) or
    sum (op=Sum) their gradients over the ranks at every step, in the engine between backward and update; returns
    the optimizer. As with Horovod, scale the learning rate with size() yourself if you keep the per-rank batch."""
    from .. import optimizers
    _require("DistributedOptimizer")
    if op not in (Average, Sum):
        raise ValueError(f"op: expected fastnn.distributed.Average or Sum, got {op!r}")
    opt = optimizers.get(optimizer)
    opt._distributed = op
    return opt


def _install_hook(net, op=Average):
    """Called by Optimizer._attach: the engine network averages its gradients over the ranks."""
    if _world is None:
        raise ValueError("DistributedOptimizer: fastnn.distributed.init() has not been called in this process")
    net.set_mpi_grad_hook(_world.spec(np.dtype(net.dtype), op))


def shard(*arrays, rank=None, size=None):
    """This rank's share of each array: rows rank, rank+size, rank+2*size, ... of the first n - n % size rows, so
    every rank gets n // size rows (the n % size last rows are left out: equal counts keep the ranks' steps in
    lockstep and the averaged gradient exact). With shuffle=False and batch b per rank, step k of the R ranks sees
    exactly rows [k*R*b, (k+1)*R*b) of the whole data: one process with batch R*b takes the same steps.
    Returns one array, or a tuple for several."""
    if rank is None or size is None:
        w = _require("shard")
        rank = w.rank if rank is None else rank
        size = w.size if size is None else size
    r, s = rank, size
    if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1:
        raise ValueError(f"size: expected an integer >= 1, got {s!r}")
    if isinstance(r, bool) or not isinstance(r, (int, np.integer)) or not 0 <= r < s:
        raise ValueError(f"rank: expected an integer in [0, {s}), got {r!r}")
    if not arrays:
        raise ValueError("shard: expected at least one array")
    out = []
    n = None
    for k, a in enumerate(arrays):
        a = a if hasattr(a, "shape") else np.asarray(a)
        if n is None:
            n = len(a)
        elif len(a) != n:
            raise ValueError(f"shard: expected arrays of the same length, got {n} and {len(a)} (array {k})")
        if n < s:
            raise ValueError(f"shard: {n} rows cannot give each of {s} ranks at least one")
        end = n - n % s
        out.append(a.iloc[r:end:s] if hasattr(a, "iloc") else a[r:end:s])
    return out[0] if len(out) == 1 else tuple(out)


def allreduce(value, average=True, name=None):
    """The sum (or average) of `value` (a number or NumPy array) over the ranks; every rank gets the result."""
    w = _require("allreduce")
    v = np.asarray(value)
    if v.dtype.kind not in "biuf":
        raise ValueError(f"allreduce: expected numbers, got an array of {v.dtype}")
    a = np.array(v, dtype=np.float32 if v.dtype == np.float32 else np.float64, order="C", copy=True)
    w.comm.Allreduce(w.MPI.IN_PLACE, a, op=w.MPI.SUM)
    if average:
        a /= w.size
    return a.item() if a.ndim == 0 else a


def allgather(value, name=None):
    """The ranks' arrays (or numbers) concatenated along the first axis, in rank order, on every rank."""
    w = _require("allgather")
    parts = w.comm.allgather(np.atleast_1d(np.asarray(value)))
    return np.concatenate(parts, axis=0)


def broadcast(value, root_rank, name=None):
    """Rank root_rank's `value` (any picklable object; NumPy arrays are sent as buffers) on every rank."""
    w = _require("broadcast")
    if isinstance(value, np.ndarray):
        meta = w.comm.bcast((value.shape, value.dtype.str) if w.rank == root_rank else None, root=root_rank)
        buf = np.ascontiguousarray(value) if w.rank == root_rank else np.empty(meta[0], np.dtype(meta[1]))
        w.comm.Bcast(buf, root=root_rank)
        return buf
    return w.comm.bcast(value, root=root_rank)


def broadcast_weights(model, root_rank=0):
    """Sets every rank's weights, optimizer state and learning rate to rank root_rank's."""
    w = _require("broadcast_weights")
    weights = [broadcast(np.ascontiguousarray(a), root_rank) for a in model.get_weights()]
    model.set_weights(weights)
    net = model._net
    if getattr(model, "_engine_compiled", False):
        state = net.get_optimizer_state()
        state["slots"] = [broadcast(np.ascontiguousarray(s), root_rank) for s in state["slots"]]
        head = w.comm.bcast((state["iterations"], state["u_product"], float(net.learning_rate)), root=root_rank)
        state["iterations"], state["u_product"] = head[0], head[1]
        net.set_optimizer_state(state)
        net.learning_rate = head[2]


def _reduce(values, op="average"):
    """values (float64) averaged or maxed over the ranks through the engine's allreduce, which gives up after the
    init() timeout: the collectives fit makes between steps cannot hang on a lost peer either."""
    from .. import _core
    w = _world
    buf = np.ascontiguousarray(np.array(values, dtype=np.float64).ravel())
    spec = w.spec(np.float64)
    if op == "max":
        spec["op"], spec["size"] = _signed(w.MPI.MAX.handle, w.handle_size), 1
    _core.mpi_average(spec, buf)
    return buf


def _same_everywhere(values):
    """True on every rank when every rank passed the same integers (max of v equals -max of -v)."""
    v = np.array(values, dtype=np.float64)
    m = _reduce(np.concatenate([v, -v]), "max")
    return bool(np.array_equal(m[:len(v)], -m[len(v):]))


def _average_logs(logs):
    """A logs dict with its numbers averaged over the ranks (every rank must hold the same keys)."""
    w = _world
    if w is None or w.size == 1:
        return logs
    keys = sorted(k for k, v in logs.items() if isinstance(v, (int, float, np.number)) and not isinstance(v, bool))
    if not _same_everywhere([len(keys), zlib.crc32("\0".join(keys).encode())]):
        raise RuntimeError(f"distributed training: the ranks' epoch logs differ in their keys (here {keys}); every "
                           "rank must run the same callbacks and validation")
    out = dict(logs)
    if keys:
        out.update(zip(keys, _reduce([float(logs[k]) for k in keys]).tolist()))
    return out


def _merge_epoch_logs(net):
    """The epoch's [loss, metrics...] over every rank. The loss is the ranks' mean (every rank trains on as many
    samples); the metrics come from the ranks' metric states summed (engine accumulators: sums of weighted values,
    confusion counts, AUC's threshold histograms), so AUC, precision or F1 are exactly those of the whole data."""
    w = _world
    values = net.epoch_logs()
    if w is None or w.size == 1:
        return values
    state = np.asarray(net.epoch_metric_state(), dtype=np.float64)
    merged = _reduce(np.concatenate([[values[0]], state]))
    return [float(merged[0])] + list(net.metric_results(merged[1:] * w.size))


def _check_fit(n, batch_size):
    """Every rank must run the same number of steps per epoch, or the allreduce would wait for ever."""
    w = _world
    if w is None or w.size == 1:
        return
    if not _same_everywhere([n, batch_size]):
        raise ValueError("distributed fit: every rank must train on the same number of samples with the same "
                         f"batch_size (this rank: {n} samples, batch_size {batch_size}); use "
                         "fastnn.distributed.shard(x, y)")


def _install_excepthook():
    previous = sys.excepthook

    def hook(kind, value, tb):
        try:
            previous(kind, value, tb)
            sys.stderr.write(f"fastnn.distributed: rank {_world.rank} stopped with {kind.__name__}: aborting the "
                             "MPI job so that the other ranks stop too\n")
            sys.stderr.flush()
        finally:
            _world.MPI.COMM_WORLD.Abort(1)

    sys.excepthook = hook
