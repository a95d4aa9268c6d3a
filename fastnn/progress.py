"""Progress output for fit/evaluate/predict: the Keras 3 progress bar.

`Progbar` draws the bar Keras 3 draws. With `verbose=1` one line is redrawn in
place with "\\r":

     7/32 ━━━━━━━━━━━━━━━━━━━━ 0s 3ms/step - accuracy: 0.8125 - loss: 0.4321

showing the ETA while running and the elapsed time once finished (then a
newline). With `verbose=2` a single line is printed when the bar finishes:

    32/32 - 0s - 3ms/step - accuracy: 0.8125 - loss: 0.4321

Metric values are shown with 4 decimals, or in scientific notation when their
magnitude is at most 1e-3, as Keras does. On a terminal (or in Jupyter) the
bar is coloured with Keras's ANSI codes; elsewhere the remaining part of the
bar is drawn with a lighter glyph so that progress stays visible without
colour.

`resolve_verbose` turns fit's `verbose` argument into 0, 1 or 2.
The `ProgbarLogger` callback that drives a Progbar lives in fastnn.callbacks.
"""

import math
import numbers
import sys
import time

__all__ = ["Progbar", "resolve_verbose"]

_BOLD = "\x1b[1m"
_GREEN = "\x1b[32m"
_GREY = "\x1b[37m"
_RESET = "\x1b[0m"


def resolve_verbose(verbose):
    """Returns 0, 1 or 2 for `verbose` in {0, 1, 2, "auto"}.

    "auto" means 1 (an animated bar) when standard output is a terminal and 2
    (one line per epoch) otherwise, so logs and notebooks are not flooded.
    """
    if isinstance(verbose, str):
        if verbose == "auto":
            isatty = getattr(sys.stdout, "isatty", None)
            try:
                return 1 if isatty is not None and isatty() else 2
            except ValueError:  # a closed stream
                return 2
    elif isinstance(verbose, numbers.Integral) and int(verbose) in (0, 1, 2):
        return int(verbose)
    raise ValueError(
        "Argument `verbose` must be one of 0, 1, 2 or 'auto'. "
        f"Received: verbose={verbose!r}"
    )


def _format_value(value):
    """Formats a metric value as Keras's progress bar does."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return f" {value}"
    if abs(value) > 1e-3:
        return f" {value:.4f}"
    return f" {value:.4e}"


def _format_time(time_per_unit, unit_name):
    """" 3ms/step", " 12us/step" or " 2s/step", as Keras."""
    if time_per_unit >= 1 or time_per_unit == 0:
        return f" {time_per_unit:.0f}s/{unit_name}"
    if time_per_unit >= 1e-3:
        return f" {time_per_unit * 1e3:.0f}ms/{unit_name}"
    return f" {time_per_unit * 1e6:.0f}us/{unit_name}"


def _format_eta(eta):
    if eta > 3600:
        return "%d:%02d:%02d" % (eta // 3600, (eta % 3600) // 60, eta % 60)
    if eta > 60:
        return "%d:%02d" % (eta // 60, eta % 60)
    return "%ds" % eta


class Progbar:
    """Displays a progress bar (Keras 3's `keras.utils.Progbar`).

    Args:
        target: Total number of steps expected, None if unknown.
        width: Progress bar width on screen, in characters.
        verbose: 0 (silent), 1 (animated bar) or 2 (one line when finished).
        interval: Minimum time in seconds between two redraws with verbose=1.
        stateful_metrics: Names of metrics shown as given. Other metrics are
            averaged over the steps by the progress bar before display, as in
            Keras. (fit's `ProgbarLogger` declares every logged name stateful,
            because the engine already reports running means.)
        unit_name: Display name for step counts ("step" or "sample").
        file: Stream written to; `None` (the default) means `sys.stdout` as it
            is when writing, so redirections made later are honoured.
    """

    def __init__(
        self,
        target,
        width=20,
        verbose=1,
        interval=0.05,
        stateful_metrics=None,
        unit_name="step",
        file=None,
    ):
        if target is not None and (
            not isinstance(target, numbers.Integral) or target < 0
        ):
            raise ValueError(
                "Argument `target` must be a non-negative integer or None. "
                f"Received: target={target!r}"
            )
        if not isinstance(width, numbers.Integral) or width < 1:
            raise ValueError(
                "Argument `width` must be a positive integer. "
                f"Received: width={width!r}"
            )
        if isinstance(verbose, bool) or verbose not in (0, 1, 2):
            raise ValueError(
                "Argument `verbose` must be 0, 1 or 2. "
                f"Received: verbose={verbose!r}"
            )
        self.target = None if target is None else int(target)
        self.width = int(width)
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        self.stateful_metrics = set(stateful_metrics or ())
        self.file = file

        self._seen_so_far = 0
        # name -> [weighted sum, weight]; the order is first-seen order
        self._values = {}
        self._values_order = []
        self._start = time.time()
        self._last_update = 0.0
        self._time_after_first_step = None
        self._prev_total_width = 0

    def _stream(self):
        return self.file if self.file is not None else sys.stdout

    def _use_color(self):
        if "ipykernel" in sys.modules:
            return True
        isatty = getattr(self._stream(), "isatty", None)
        try:
            return bool(isatty is not None and isatty())
        except ValueError:
            return False

    def _write(self, text):
        stream = self._stream()
        stream.write(text)
        flush = getattr(stream, "flush", None)
        if flush is not None:
            flush()

    def update(self, current, values=None, finalize=None):
        """Updates the progress bar.

        Args:
            current: Index of the current step (1-based count of steps done).
            values: Iterable of `(name, value)` pairs, or a dict. Names in
                `stateful_metrics` are shown as given, the others are
                averaged over the steps seen.
            finalize: Whether this is the last update. `None` means
                `current >= target`.
        """
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        if isinstance(values, dict):
            values = values.items()

        for name, value in values or ():
            if name not in self._values_order:
                self._values_order.append(name)
            if name in self.stateful_metrics or finalize:
                self._values[name] = [value, 1]
            else:
                # Weight a stateless value by the number of steps it covers.
                weight = max(current - self._seen_so_far, 1)
                try:
                    weighted = float(value) * weight
                except (TypeError, ValueError):
                    self._values[name] = [value, 1]
                    continue
                if name in self._values and isinstance(
                    self._values[name][0], float
                ):
                    self._values[name][0] += weighted
                    self._values[name][1] += weight
                else:
                    self._values[name] = [weighted, weight]
        self._seen_so_far = current

        now = time.time()
        time_per_unit = self._estimate_step_duration(current, now)

        if self.verbose == 1:
            if now - self._last_update < self.interval and not finalize:
                return
            self._draw(current, now, time_per_unit, finalize)
        elif self.verbose == 2 and finalize:
            if self.target:
                digits = int(math.log10(self.target)) + 1
                count = f"%{digits}d/%d" % (current, self.target)
            else:
                count = f"{current}/Unknown"
            line = f"{count} - {now - self._start:.0f}s -"
            line += _format_time(time_per_unit, self.unit_name)
            line += self._format_metrics()
            self._write(line + "\n")
        self._last_update = now

    def _draw(self, current, now, time_per_unit, finalize):
        """Redraws the verbose=1 line in place."""
        color = self._use_color()
        parts = []  # (text, ansi style or None)
        if self.target:
            digits = int(math.log10(self.target)) + 1
            parts.append((f"%{digits}d/%d" % (current, self.target), _BOLD))
            parts.append((" ", None))
            done = min(int(self.width * current / self.target), self.width)
            if done > 0:
                parts.append(("━" * done, _GREEN))
            parts.append((("━" if color else "─") * (self.width - done), _GREY))
        else:
            parts.append(("%7d/Unknown" % current, None))

        parts.append((" ", None))
        if self.target and not finalize:
            parts.append((_format_eta(time_per_unit * (self.target - current)), _BOLD))
        else:
            parts.append((f"{now - self._start:.0f}s", _BOLD))
        parts.append((_format_time(time_per_unit, self.unit_name), None))
        parts.append((self._format_metrics(), None))

        plain = "".join(text for text, _ in parts)
        if color:
            shown = "".join(
                f"{style}{text}{_RESET}" if style and text else text
                for text, style in parts
            )
        else:
            shown = plain
        message = "\r" + shown
        # Blank out what is left of a longer previous line.
        if self._prev_total_width > len(plain):
            message += " " * (self._prev_total_width - len(plain))
        if finalize:
            message += "\n"
        self._write(message)
        self._prev_total_width = len(plain)

    def _format_metrics(self):
        text = ""
        for name in self._values_order:
            total, count = self._values[name]
            if isinstance(total, float) and count > 1:
                total = total / count
            text += f" - {name}:" + _format_value(total)
        return text

    def add(self, n, values=None):
        """Advances the bar by `n` steps."""
        self.update(self._seen_so_far + n, values)

    def _estimate_step_duration(self, current, now):
        """Seconds per step; the first step (often slow) is left out once
        more steps are done, as Keras does."""
        if not current:
            return 0
        if self._time_after_first_step is not None and current > 1:
            time_per_unit = (now - self._time_after_first_step) / (current - 1)
        else:
            time_per_unit = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return time_per_unit
