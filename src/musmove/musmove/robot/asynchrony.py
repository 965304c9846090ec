"""Timing of robot movement: events in joint states, their asynchrony to beats, and latency.

A movement event is a velocity reversal of a joint: a minimum (velocity from negative to
positive), a maximum, or either. Its time is interpolated linearly between the samples around the
zero crossing of the velocity, so it is far finer than the sampling interval. Asynchrony is
event time minus beat time: negative means early, as in the CoordinationMetrics message.
"""

from dataclasses import dataclass

import numpy as np
from scipy.signal import correlate


def detect_events(
    times: np.ndarray,
    positions: np.ndarray,
    kind: str = 'min',
    velocities: np.ndarray | None = None,
    prominence: float = 0.0,
) -> np.ndarray:
    """Times [s] of the velocity reversals of one joint.

    Args:
        times, positions: (n,) samples of the joint, times increasing.
        kind: 'min', 'max' or 'both'.
        velocities: measured velocities; default: the gradient of the positions.
        prominence: an extremum counts only if the joint moved at least this much since the
            previous extremum of the other kind, which ignores jitter at a standstill.
    """
    if kind not in ('min', 'max', 'both'):
        raise ValueError(f"kind must be 'min', 'max' or 'both', got {kind!r}")
    t, x = np.asarray(times, dtype=np.float64), np.asarray(positions, dtype=np.float64)
    v = np.gradient(x, t) if velocities is None else np.asarray(velocities, dtype=np.float64)
    rising = (v[:-1] < 0) & (v[1:] >= 0)
    falling = (v[:-1] > 0) & (v[1:] <= 0)
    i = np.flatnonzero(rising | falling)
    fraction = v[i] / (v[i] - v[i + 1])
    when = t[i] + fraction * (t[i + 1] - t[i])
    value = x[i] + fraction * (x[i + 1] - x[i])
    is_min = rising[i]
    keep: list[int] = []  # alternating extrema, each at least `prominence` from the one before
    for k in range(len(i)):
        if keep and is_min[keep[-1]] == is_min[k]:
            if (value[k] < value[keep[-1]]) == is_min[k]:
                keep[-1] = k  # a more extreme one of the same kind
        elif not keep or abs(value[k] - value[keep[-1]]) >= prominence:
            keep.append(k)
    chosen = np.asarray(keep, dtype=np.int64)
    if kind != 'both':
        chosen = chosen[is_min[chosen] == (kind == 'min')]
    return when[chosen]


@dataclass(frozen=True)
class Asynchrony:
    """Event-minus-beat times [s] of the beats that had an event within the tolerance."""

    asynchronies: np.ndarray
    missed: int

    @property
    def matched(self) -> int:
        return len(self.asynchronies)

    @property
    def mean(self) -> float:
        return float(np.mean(self.asynchronies)) if self.matched else float('nan')

    @property
    def sd(self) -> float:
        return float(np.std(self.asynchronies)) if self.matched else float('nan')

    @property
    def mean_absolute(self) -> float:
        return float(np.mean(np.abs(self.asynchronies))) if self.matched else float('nan')

    def __str__(self) -> str:
        return (
            f'mean {self.mean * 1e3:+.1f} ms, SD {self.sd * 1e3:.1f} ms, mean absolute '
            f'{self.mean_absolute * 1e3:.1f} ms ({self.matched} matched, {self.missed} missed)'
        )


def asynchrony(events: np.ndarray, beats: np.ndarray, tolerance: float | None = None) -> Asynchrony:
    """Match each beat to its nearest event within `tolerance` [s] (default: a quarter of the median beat interval)."""
    events, beats = np.sort(np.asarray(events, dtype=np.float64)), np.asarray(beats, dtype=np.float64)
    if tolerance is None:
        tolerance = 0.25 * float(np.median(np.diff(beats))) if len(beats) > 1 else 0.1
    if len(events) == 0:
        return Asynchrony(np.empty(0), len(beats))
    after = np.minimum(np.searchsorted(events, beats), len(events) - 1)
    before = np.maximum(after - 1, 0)
    nearest = np.where(np.abs(events[before] - beats) <= np.abs(events[after] - beats), before, after)
    difference = events[nearest] - beats
    close = np.abs(difference) <= tolerance
    return Asynchrony(difference[close], int(np.count_nonzero(~close)))


def estimate_latency(
    command_times: np.ndarray,
    commanded: np.ndarray,
    times: np.ndarray,
    measured: np.ndarray,
    max_lag: float = 0.25,
) -> float:
    """Command-to-motion latency [s]: the lag that best aligns measured with commanded joint velocities.

    `commanded` (sent at `command_times`) and `measured` (stamped `times`) are (n,) or
    (n, joints) positions, resampled to the median interval of the measurements over the time
    both cover. The velocities' normalised cross-correlation, summed over joints, peaks at the
    latency, refined by a parabola through the peak and its neighbours.
    """
    step = float(np.median(np.diff(times)))
    grid = np.arange(max(command_times[0], times[0]), min(command_times[-1], times[-1]), step)

    def velocity(t: np.ndarray, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64).reshape(len(t), -1)
        v = np.gradient(np.column_stack([np.interp(grid, t, column) for column in x.T]), step, axis=0)
        return (v - v.mean(axis=0)) / np.maximum(v.std(axis=0), 1e-12)

    a, b = velocity(command_times, commanded), velocity(times, measured)
    lags = np.arange(-len(grid) + 1, len(grid))
    score = sum(correlate(b[:, j], a[:, j], mode='full', method='fft') for j in range(a.shape[1]))
    score = score / (len(grid) - np.abs(lags))  # per overlapping sample
    window = np.abs(lags) <= round(max_lag / step)
    best = np.flatnonzero(window)[np.argmax(score[window])]
    shift = 0.0
    if 0 < best < len(score) - 1:
        left, centre, right = score[best - 1 : best + 2]
        curvature = left - 2 * centre + right
        shift = 0.5 * (left - right) / curvature if curvature < 0 else 0.0
    return float((lags[best] + shift) * step)
