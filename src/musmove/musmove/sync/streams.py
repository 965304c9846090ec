"""One input stream of the synchronizer: checked, filtered, latency-corrected and kept for resampling.

A sample is a flat vector whose layout a `Layout` describes: linear blocks (accelerations,
rates, positions) are low-pass filtered and interpolated linearly; quaternion blocks (x, y, z, w)
are interpolated by slerp.
"""

from bisect import bisect_left
from collections import deque
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from musmove.sync.filters import LowPass, PlausibilityGate
from musmove_msgs.msg import StreamStatus

OK, EXTRAPOLATED, GAP, OUTLIER, STALE = (
    StreamStatus.OK,
    StreamStatus.EXTRAPOLATED,
    StreamStatus.GAP,
    StreamStatus.OUTLIER,
    StreamStatus.STALE,
)


@dataclass(frozen=True)
class Layout:
    """Which entries of a sample vector are linear values and which are quaternions."""

    size: int
    quaternions: tuple[int, ...] = ()  # start index of each (x, y, z, w) block
    motion: str = 'position'  # what the first linear entries are: 'position' or 'acceleration'

    @cached_property
    def linear(self) -> np.ndarray:
        mask = np.ones(self.size, dtype=bool)
        for start in self.quaternions:
            mask[start : start + 4] = False
        return np.flatnonzero(mask)


IMU = Layout(10, (6,), 'acceleration')  # acceleration xyz, angular velocity xyz, orientation xyzw


def pose_layout(joints: int) -> Layout:
    """Position xyz then orientation xyzw, per joint."""
    return Layout(7 * joints, tuple(7 * j + 3 for j in range(joints)))


def slerp(q0: np.ndarray, q1: np.ndarray, u: float) -> np.ndarray:
    """Spherical interpolation between unit quaternions (shortest arc), u in [0, 1]."""
    dot = float(np.dot(q0, q1))
    if dot < 0:
        q1, dot = -q1, -dot
    if dot > 0.9995:  # nearly equal: normalised linear interpolation is exact enough
        q = q0 + u * (q1 - q0)
        return q / np.linalg.norm(q)
    theta = np.arccos(dot)
    return (np.sin((1 - u) * theta) * q0 + np.sin(u * theta) * q1) / np.sin(theta)


@dataclass
class Settings:
    """Timing and filtering of one stream (durations in ns)."""

    latency: int = 0  # subtracted from every stamp
    max_gap: int = 100_000_000  # longer spans between samples are gaps
    stale_after: int = 500_000_000  # no sample for this long: stale
    clock_jump: int = 1_000_000_000  # a stamp this far back restarts the stream
    cutoff: float = 0.0  # low-pass cutoff [Hz], 0: none
    limit: float = np.inf  # largest plausible |value|
    max_speed: float = np.inf  # largest plausible change per second
    history: int = 20_000_000_000  # raw samples kept for offset estimation


@dataclass
class Counters:
    accepted: int = 0
    rejected: dict[str, int] = field(default_factory=dict)


class Stream:
    """Samples of one stream on the common clock, after checks, outlier gate and low-pass."""

    RATE_SAMPLES = 16  # intervals to measure the rate before the low-pass is designed

    def __init__(self, name: str, layout: Layout, settings: Settings) -> None:
        self.name, self.layout, self.settings = name, layout, settings
        self.gate = PlausibilityGate(settings.limit, settings.max_speed)
        self.lowpass: LowPass | None = None
        self.times: list[int] = []  # corrected stamps, increasing
        self.values: list[np.ndarray] = []
        self.outliers: deque[int] = deque(maxlen=64)  # corrected stamps of rejected samples
        self.intervals: deque[int] = deque(maxlen=256)
        self.raw: deque[tuple[int, np.ndarray]] = deque()  # (corrected stamp, linear values), for offsets
        self.last_stamp: int | None = None
        self.previous: np.ndarray | None = None  # last stored sample, before filtering
        self.counters = Counters()

    # --- input ----------------------------------------------------------------------
    def add(self, stamp: int, values: np.ndarray) -> str | None:
        """Take one sample stamped `stamp` [ns]; return why it was rejected or reset, or None."""
        if not np.all(np.isfinite(values)):
            return self._reject('non-finite values')
        note = None
        if self.last_stamp is not None:
            step = stamp - self.last_stamp
            if step == 0:
                return self._reject('duplicate stamp')
            if -self.settings.clock_jump <= step < 0:
                return self._reject('out-of-order stamp')
            if step < 0:
                self.restart()
                note = f'clock jumped back {-step / 1e9:.3f} s: stream restarted'
            elif step > self.settings.stale_after:
                self._reset_filters()
                note = f'resumed after {step / 1e9:.3f} s without samples'
            else:
                self.intervals.append(step)
        self.last_stamp = stamp
        time = stamp - self.settings.latency
        if not self.gate.accept(time, values[self.layout.linear]):
            self.outliers.append(time)
            self.counters.rejected['outlier'] = self.counters.rejected.get('outlier', 0) + 1
            return note or 'outlier'
        self._store(time, values)
        return note

    def _store(self, time: int, values: np.ndarray) -> None:
        linear = self.layout.linear
        self.raw.append((time, values[linear]))
        while self.raw and self.raw[0][0] < time - self.settings.history:
            self.raw.popleft()
        if self.previous is not None:  # quaternions q and -q are one rotation: keep the sign continuous for filtering
            for start in self.layout.quaternions:
                block = slice(start, start + 4)
                if np.dot(values[block], self.previous[block]) < 0:
                    values = values.copy()
                    values[block] *= -1
        self.previous = values
        if self.lowpass is None and self.settings.cutoff > 0 and len(self.intervals) >= self.RATE_SAMPLES:
            rate = self.rate()
            if self.settings.cutoff < rate / 2:
                self.lowpass = LowPass(self.settings.cutoff, rate, self.layout.size)
        if self.lowpass is not None:  # every value, quaternions too, so all share the delay taken out
            values = self.lowpass(values)
            for start in self.layout.quaternions:
                values[start : start + 4] /= np.linalg.norm(values[start : start + 4])
            time -= round(self.lowpass.delay * 1e9)
        if self.times and time <= self.times[-1]:  # the first samples once the filter's delay applies
            return
        self.times.append(time)
        self.values.append(values)
        self.counters.accepted += 1

    def _reject(self, cause: str) -> str:
        self.counters.rejected[cause] = self.counters.rejected.get(cause, 0) + 1
        return cause

    def _reset_filters(self) -> None:
        self.gate.reset()
        if self.lowpass is not None:
            self.lowpass.reset()

    def restart(self) -> None:
        """Forget everything but the counters (after a clock jump)."""
        self._reset_filters()
        self.times.clear()
        self.values.clear()
        self.raw.clear()
        self.outliers.clear()
        self.last_stamp = self.previous = None

    def rate(self) -> float:
        """Median sample rate [Hz] over recent intervals (0 before two samples)."""
        return 1e9 / float(np.median(self.intervals)) if self.intervals else 0.0

    # --- output ---------------------------------------------------------------------
    def newest(self) -> int | None:
        return self.times[-1] if self.times else None

    def sample(self, t: int) -> tuple[np.ndarray, int, int]:
        """(values, state, age [ns]) of the stream at time t on the common clock."""
        if not self.times:
            return np.full(self.layout.size, np.nan), STALE, 0
        i = bisect_left(self.times, t)
        if i == len(self.times):  # nothing at or after t: hold the newest, if recent enough
            age = t - self.times[-1]
            state = EXTRAPOLATED if age <= self.settings.max_gap else GAP
            if age > self.settings.stale_after:
                return np.full(self.layout.size, np.nan), STALE, age
            return self.values[-1], state, age
        after = self.times[i]
        if after == t or i == 0:  # exact, or t before the first sample: use the first
            return self.values[i], OK if after == t else GAP, t - after
        before = self.times[i - 1]
        u = (t - before) / (after - before)
        values = (1 - u) * self.values[i - 1] + u * self.values[i]
        for start in self.layout.quaternions:
            block = slice(start, start + 4)
            values[block] = slerp(self.values[i - 1][block], self.values[i][block], u)
        if after - before > self.settings.max_gap:
            state = GAP
        elif any(before < stamp < after for stamp in self.outliers):
            state = OUTLIER
        else:
            state = OK
        return values, state, t - after

    def forget_before(self, t: int) -> None:
        """Drop samples no longer needed for times at or after t (keeps the one before t)."""
        keep = max(bisect_left(self.times, t) - 1, 0)
        if keep > 256:
            del self.times[:keep], self.values[:keep]
