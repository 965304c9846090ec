"""Latency offsets between modalities, estimated by cross-correlating their event envelopes.

An event (a clap, a drum hit, the impact that ends a stroke) shows as an onset in audio and as a
peak of acceleration in an IMU and in the mocap joints. Each stream is reduced to an envelope
that peaks at such events; the lag that best aligns two envelopes is their relative offset.
"""

import numpy as np
from scipy.signal import correlate, savgol_filter


def motion_envelope(
    times: np.ndarray, values: np.ndarray, kind: str, window: float = 0.2
) -> tuple[np.ndarray, np.ndarray]:
    """(times, envelope) of a movement stream: its acceleration magnitude about the median.

    Args:
        times: (n,) sample times [s], increasing.
        values: (n, 3) accelerations (kind 'acceleration'), or positions of one joint (kind
            'position'), differentiated twice by a quadratic Savitzky-Golay filter of about
            `window` seconds on a uniform grid at the median sampling interval.
    """
    if kind == 'position':
        step = float(np.median(np.diff(times)))
        grid = np.arange(times[0], times[-1], step)
        frames = max(3, round(window / step) // 2 * 2 + 1)
        if len(grid) <= frames:
            return grid, np.zeros(len(grid))
        uniform = np.column_stack([np.interp(grid, times, column) for column in values.T])
        times, values = grid, savgol_filter(uniform, frames, 2, deriv=2, delta=step, axis=0)
    elif kind != 'acceleration':
        raise ValueError(f"kind must be 'acceleration' or 'position', got {kind!r}")
    return times, np.linalg.norm(values - np.median(values, axis=0), axis=1)


def on_grid(times: np.ndarray, envelope: np.ndarray, start: float, step: float, count: int) -> np.ndarray:
    """The envelope on a uniform grid: the largest value in each cell, empty cells interpolated."""
    cells = np.floor((times - start) / step).astype(np.int64)
    inside = (cells >= 0) & (cells < count)
    grid = np.full(count, -np.inf)
    np.maximum.at(grid, cells[inside], envelope[inside])
    filled = np.isfinite(grid)
    if filled.sum() < 2:
        return np.zeros(count)
    centres = np.arange(count)
    return np.interp(centres, centres[filled], grid[filled])


def estimate_lag(
    reference: tuple[np.ndarray, np.ndarray],
    other: tuple[np.ndarray, np.ndarray],
    max_lag: float,
    step: float = 0.005,
) -> tuple[float, float]:
    """Lag [s] of `other` behind `reference`, and the normalised correlation at that lag.

    Both are (times, envelope) pairs on the same clock. A positive lag means the events of
    `other` appear later: its latency offset is that much larger than the reference's. The
    peak is refined by a parabola through its neighbours, so the lag is finer than `step`.
    Returns (nan, 0.0) when the streams do not overlap by more than twice `max_lag`.
    """
    start = max(reference[0][0], other[0][0])
    stop = min(reference[0][-1], other[0][-1])
    count = int((stop - start) / step)
    span = round(max_lag / step)
    if count <= 2 * span + 2:
        return float('nan'), 0.0
    a = on_grid(*reference, start, step, count)
    b = on_grid(*other, start, step, count)
    a, b = a - a.mean(), b - b.mean()
    norm = np.sqrt(np.dot(a, a) * np.dot(b, b))
    if norm == 0:
        return float('nan'), 0.0
    full = correlate(b, a, mode='full', method='fft') / norm  # index count - 1 is lag 0
    lags = np.arange(-span, span + 1)
    window = full[count - 1 - span : count + span]
    peak = int(np.argmax(window))
    shift = 0.0
    if 0 < peak < len(window) - 1:
        left, centre, right = window[peak - 1 : peak + 2]
        curvature = left - 2 * centre + right
        shift = 0.5 * (left - right) / curvature if curvature < 0 else 0.0
    return float((lags[peak] + shift) * step), float(window[peak])
