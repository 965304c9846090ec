"""Causal per-stream filters: a stateful low-pass, a physical plausibility gate, a running normaliser."""

import numpy as np
from scipy.signal import butter, group_delay, sos2tf, sosfilt_zi


class LowPass:
    """Butterworth low-pass applied sample by sample, its state kept between calls.

    The state starts at the steady state of the first sample, so there is no start-up transient.
    `delay` is the filter's group delay at low frequency [s]: subtract it from the stamps of the
    output to put the filtered signal back on the time of the input.
    """

    def __init__(self, cutoff: float, rate: float, channels: int, order: int = 2) -> None:
        if not 0 < cutoff < rate / 2:
            raise ValueError(f'cutoff {cutoff} Hz must lie between 0 and half the sample rate ({rate / 2:.1f} Hz)')
        self.sos = butter(order, cutoff, fs=rate, output='sos')
        b, a = sos2tf(self.sos)
        self.delay = float(group_delay((b, a), w=[1e-3])[1][0]) / rate
        self.channels = channels
        self.state: np.ndarray | None = None

    def __call__(self, sample: np.ndarray) -> np.ndarray:
        """Filter one sample (1-D, `channels` values): the biquads of `sos` in transposed direct form II.

        Written out rather than calling `sosfilt` per sample, whose argument handling costs ten
        times the arithmetic; the result is the same (tested).
        """
        if self.state is None:
            self.state = sosfilt_zi(self.sos)[:, :, None] * sample[None, None, :]
        x = sample
        for (b0, b1, b2, _, a1, a2), z in zip(self.sos, self.state, strict=True):
            y = b0 * x + z[0]
            z[0] = b1 * x - a1 * y + z[1]
            z[1] = b2 * x - a2 * y
            x = y
        return x

    def reset(self) -> None:
        """Start again from the next sample (after a gap or a clock jump)."""
        self.state = None


class PlausibilityGate:
    """Reject samples that a real sensor cannot produce.

    A sample is an outlier when any |value| exceeds `limit` (an IMU's range), or when it moved
    from the last accepted sample faster than `max_speed` per second (a mocap marker swap or
    glitch). After `reacquire` rejections in a row the next sample is accepted as a new start,
    so a stream that really moved is not lost.
    """

    def __init__(self, limit: float = np.inf, max_speed: float = np.inf, reacquire: int = 5) -> None:
        self.limit, self.max_speed, self.reacquire = limit, max_speed, reacquire
        self.last: tuple[int, np.ndarray] | None = None
        self.rejected = 0

    def accept(self, stamp_ns: int, values: np.ndarray) -> bool:
        outlier = bool(np.max(np.abs(values)) > self.limit)
        if not outlier and self.last is not None and np.isfinite(self.max_speed):
            last_stamp, last_values = self.last
            seconds = max(stamp_ns - last_stamp, 1) / 1e9
            outlier = bool(np.max(np.abs(values - last_values)) > self.max_speed * seconds)
        if outlier and self.rejected < self.reacquire:
            self.rejected += 1
            return False
        self.rejected = 0
        self.last = (stamp_ns, values)
        return True

    def reset(self) -> None:
        self.last, self.rejected = None, 0


class RunningNormalizer:
    """Causal z-score with exponentially weighted mean and variance (time constant in samples)."""

    def __init__(self, time_constant: float) -> None:
        self.alpha = 1.0 / max(time_constant, 1.0)
        self.mean: np.ndarray | None = None
        self.variance: np.ndarray | None = None

    def __call__(self, values: np.ndarray) -> np.ndarray:
        if self.mean is None:
            self.mean, self.variance = values.astype(np.float64), np.zeros(values.shape)
        else:
            delta = values - self.mean
            self.mean = self.mean + self.alpha * delta
            self.variance = (1 - self.alpha) * (self.variance + self.alpha * delta * delta)
        return ((values - self.mean) / np.sqrt(self.variance + 1e-12)).astype(values.dtype)
