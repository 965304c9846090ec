"""The beat sources of the dance, the music's and the partner's: which one steers, and how they blend.

Each source has its own start gate (a `LockGate`, or none: every prediction counts) and its newest prediction,
received on the controller's own clock. A source counts while its gate is open and its newest prediction arrived
within `timeout`. Its weight is the prediction's confidence times the source's weight (the music 1, the partner
`partner_weight`). When both count and their beat rates agree within `spacing` (a fraction), they blend: the
beat rate and the beat phase (a circular mean) are the weighted means, so the robot keeps time with both. When
their rates disagree (another metrical level) the heavier steers alone, and when only one counts it steers alone:
the robot dances on with its partner when the music falls silent, and with the music when the partner stops.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from musmove.robot.gate import LockGate

MUSIC, PARTNER = 'music', 'partner'


@dataclass(frozen=True)
class Prediction:
    """A beat prediction made at `t`: coming beat times [s], tempo [BPM] or None, spread [s], confidence."""

    t: float
    beats: np.ndarray
    tempo: float | None
    std: float
    confidence: float
    received: float  # when it arrived, on the controller's clock [s]

    @property
    def rate(self) -> float:
        """Beats per second: from the tempo, else from the beats' spacing; NaN if neither tells."""
        if self.tempo is not None and math.isfinite(self.tempo) and self.tempo > 0:
            return self.tempo / 60
        spacing = float(np.median(np.diff(np.sort(self.beats)))) if self.beats.size > 1 else math.nan
        return 1 / spacing if spacing > 0 else math.nan

    def offset(self, t: float, rate: float) -> float:
        """Time [s] from the beat of this prediction's lattice (at `rate`) nearest to `t`, to `t`."""
        anchor = float(self.beats[np.argmin(np.abs(self.beats - t))])
        return t - anchor - round((t - anchor) * rate) / rate


@dataclass
class Source:
    gate: LockGate | None
    weight: float
    newest: Prediction | None = None


class BeatSources:
    """The newest prediction of each source and their blend."""

    def __init__(self, gates: Mapping[str, LockGate | None], weights: Mapping[str, float], timeout: float,
                 spacing: float = 0.08) -> None:  # fmt: skip
        """`gates` and `weights` by source name; predictions older than `timeout` [s] count for nothing."""
        self.sources = {name: Source(gate, weights.get(name, 1.0)) for name, gate in gates.items()}
        self.timeout, self.spacing = timeout, spacing

    def predict(self, name: str, prediction: Prediction) -> None:
        """The newest prediction of source `name`."""
        source = self.sources[name]
        if source.gate is not None:
            source.gate.predict(prediction.t, prediction.beats)
        source.newest = prediction

    def observe(self, name: str, beat: float, received: float) -> bool:
        """An OBSERVED beat of source `name`; True if it opened that source's gate."""
        gate = self.sources[name].gate
        return gate is not None and gate.observe(beat, received)

    def counting(self, now: float) -> list[str]:
        """The sources that count at `now`: gate open (or none) and the newest prediction fresh."""
        return [
            name
            for name, s in self.sources.items()
            if s.newest is not None
            and now - s.newest.received <= self.timeout
            and (s.gate is None or s.gate.open)
            and s.newest.confidence * s.weight > 0
        ]

    def close_stale(self, now: float, every: bool = False) -> bool:
        """Close the gate of every source whose predictions went stale at `now` (`every`: of all sources);
        the next lock starts afresh. Returns whether a gate closed."""
        closed = False
        for source in self.sources.values():
            stale = every or source.newest is None or now - source.newest.received > self.timeout
            if stale and source.gate is not None and source.gate.open:
                source.gate.close()
                closed = True
        return closed

    def weight(self, name: str) -> float:
        source = self.sources[name]
        return source.newest.confidence * source.weight if source.newest is not None else 0.0

    def steering(self, now: float) -> tuple[Prediction | None, list[str]]:
        """The prediction that steers at `now` (one source's, or the blend of two) and the sources in it."""
        names = sorted(self.counting(now), key=self.weight, reverse=True)
        if not names:
            return None, []
        newest = [self.sources[n].newest for n in names]
        rates = [p.rate for p in newest]
        if len(names) == 1 or not all(map(math.isfinite, rates)) or abs(rates[1] / rates[0] - 1) > self.spacing:
            return newest[0], names[:1]
        weights = np.array([self.weight(n) for n in names])
        rate = float(np.average(rates, weights=weights))
        t = max(p.t for p in newest)
        angles = [2 * math.pi * p.offset(t, r) * r for p, r in zip(newest, rates, strict=True)]
        mean = np.angle(np.sum(weights * np.exp(1j * np.array(angles))))  # circular: the beat phase
        anchor = t - float(mean) / (2 * math.pi * rate)
        blend = Prediction(
            t=t,
            beats=anchor + np.arange(-1, 4) / rate,
            tempo=60 * rate,
            std=min(p.std for p in newest),
            confidence=max(p.confidence for p in newest),
            received=max(p.received for p in newest),
        )
        return blend, names
