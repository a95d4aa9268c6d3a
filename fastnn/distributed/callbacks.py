"""Horovod's Keras callbacks for fastnn.distributed."""

from ..callbacks import Callback


class BroadcastGlobalVariablesCallback(Callback):
    """At the start of training, sets every rank's weights, optimizer state and learning rate to root_rank's, so
    that all ranks start from the same point (weights initialised with different seeds, or loaded on one rank)."""

    def __init__(self, root_rank, device=""):
        super().__init__()
        if isinstance(root_rank, bool) or not isinstance(root_rank, int) or root_rank < 0:
            raise ValueError(f"root_rank: expected an integer >= 0, got {root_rank!r}")
        self.root_rank = root_rank
        self.broadcast_done = False

    def on_train_begin(self, logs=None):
        from . import broadcast_weights, size
        if self.root_rank >= size():
            raise ValueError(f"root_rank: expected an integer in [0, {size()}), got {self.root_rank}")
        broadcast_weights(self.model, self.root_rank)
        self.broadcast_done = True


class MetricAverageCallback(Callback):
    """Averages the numbers of the epoch logs over the ranks at the end of each epoch (Horovod's callback).

    fastnn's fit already averages the training and validation metrics over the ranks before any callback sees
    them; this callback also averages what earlier callbacks added to the logs (averaging equal values leaves them
    as they are)."""

    def __init__(self, device=""):
        super().__init__()

    def on_epoch_end(self, epoch, logs=None):
        from . import _average_logs
        if logs:
            logs.update(_average_logs(logs))
