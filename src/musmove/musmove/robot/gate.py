"""The start gate of the dance: the robot waits until the beat is locked.

The beat is locked when the newest `count` OBSERVED beats are evenly spaced (every interval within `spacing`,
a fraction, of their median) and the predictions agree with them: each of the newest `count - 1` observed beats
lies within `agreement` seconds of a beat of the newest prediction made at least `horizon` before it (0.1 s:
about the robot's command-to-motion latency, how far ahead the dance acts on a prediction). A tracker still searching
for the tempo (jumping between levels, or settling from a wrong one) fails one test or the other, so the robot
never dances at a wrong tempo while the tracker starts. Once open, the gate stays open until the predictions
go stale; then it closes and the next lock starts the dance afresh.
"""

from collections import deque

import numpy as np
from numpy.typing import ArrayLike


class LockGate:
    """Whether the beat is locked, from the OBSERVED beats and the predictions that came before them."""

    def __init__(
        self, count: int = 4, spacing: float = 0.08, agreement: float = 0.05, horizon: float = 0.1, memory: float = 8.0
    ) -> None:
        """`count` beats (at least 3), `spacing` (fraction of the interval), `agreement` and `horizon` [s];
        predictions are kept for `memory` seconds."""
        if count < 3 or not 0 < spacing < 1 or not agreement > 0:
            raise ValueError('the gate needs count >= 3, spacing in (0, 1) and a positive agreement')
        self.count, self.spacing, self.agreement = count, spacing, agreement
        self.horizon, self.memory = horizon, memory
        self.beats: deque[float] = deque(maxlen=count)
        self.agreed: deque[bool] = deque(maxlen=count - 1)
        self.predictions: deque[tuple[float, np.ndarray]] = deque()
        self.opened: float | None = None  # when the gate opened (the lock), None while closed

    @property
    def open(self) -> bool:
        return self.opened is not None

    def predict(self, t: float, beats: ArrayLike) -> None:
        """A prediction made at time `t`: the coming beat times [s]."""
        self.predictions.append((t, np.asarray(beats, dtype=np.float64)))
        while self.predictions and self.predictions[0][0] < t - self.memory:
            self.predictions.popleft()

    def observe(self, beat: float, now: float) -> bool:
        """An OBSERVED beat at time `beat`, reported at `now`; True if this opened the gate."""
        if self.beats and beat <= self.beats[-1]:
            return False
        before = [times for made, times in self.predictions if made <= beat - self.horizon and times.size]
        self.agreed.append(bool(before) and float(np.min(np.abs(before[-1] - beat))) <= self.agreement)
        self.beats.append(beat)
        if self.open or not self.locked():
            return False
        self.opened = now
        return True

    def locked(self) -> bool:
        """Whether the newest beats are evenly spaced and were predicted."""
        if len(self.beats) < self.count or not all(self.agreed):
            return False
        intervals = np.diff(np.asarray(self.beats))
        median = float(np.median(intervals))
        return median > 0 and bool(np.all(np.abs(intervals - median) <= self.spacing * median))

    def close(self) -> None:
        """Wait for a new lock (the beats went stale)."""
        self.opened = None
        self.beats.clear()
        self.agreed.clear()
