"""Known beats steer the motion directly: the command phase runs from beat to beat, landing on each.

In known music the tracker runs ahead of playback and its predictions carry the coming observed beats
(time_std 0): filtering them through the oscillator only adds lag. While predictions are that precise
(time_std at most `max_std`), each control step the command phase (the phase one latency ahead) heads for
the next beat of the newest prediction at the rate that closes the remaining phase in the remaining time,
so it reaches the next beat phase exactly at the beat's time. The rate stays within `slack` of the
oscillator's frequency, so the phase never jumps or runs backwards, and a beat time that moves (a prediction
replaced by the observed beat) only bends the motion; the limiter downstream keeps every command within the
joint limits, as ever. The schedule writes the phase back into the oscillator, which keeps its own tempo: when
no precise prediction came for `hold` beats, or no predicted beat lies ahead, the oscillator carries on from
there without a jump.
"""

import math

import numpy as np
from numpy.typing import ArrayLike

from musmove.robot.oscillator import Oscillator


class BeatSchedule:
    """The command phase scheduled from precise predictions; the oscillator is the fallback."""

    def __init__(self, max_std: float = 0.0, slack: float = 0.5, hold: float = 1.5) -> None:
        """`max_std` [s]: the largest spread of a prediction that steers directly (negative: none does);
        `slack`: the largest change of the phase rate, a fraction of the frequency, in (0, 1);
        `hold` [beats]: how long after the newest precise prediction the schedule still steers."""
        if not 0 < slack < 1 or not hold > 0:
            raise ValueError('the schedule needs a slack in (0, 1) and a positive hold')
        self.max_std, self.slack, self.hold = max_std, slack, hold
        self.beats = np.empty(0)  # the newest prediction's beat times [s], sorted
        self.rate = math.nan  # its beat rate [Hz]
        self.precise = -math.inf  # when the newest precise prediction was made

    def predict(self, t: float, beats: ArrayLike, tempo: float | None, std: float) -> None:
        """A prediction made at `t` that steers: beat times [s], tempo [BPM], spread [s]."""
        times = np.atleast_1d(np.asarray(beats, dtype=np.float64))
        self.beats = np.sort(times[np.isfinite(times)])
        spacing = float(np.median(np.diff(self.beats))) if self.beats.size > 1 else math.nan
        self.rate = tempo / 60 if tempo is not None and tempo > 0 else 1 / spacing if spacing > 0 else math.nan
        if 0 <= std <= self.max_std:
            self.precise = t

    def active(self, t: float, osc: Oscillator) -> bool:
        """Whether precise predictions steer the command phase at time `t`."""
        return self.max_std >= 0 and osc.locked and t - self.precise <= self.hold / osc.frequency

    def command_phase(self, phase: float, start: float, dt: float, osc: Oscillator) -> float | None:
        """The command phase `dt` after command time `start` (at phase `phase`), or None: no beat ahead."""
        ahead = self.beats[self.beats > start + 1e-9]
        if not ahead.size:
            return None
        _, spacing = osc.fold(self.rate) if math.isfinite(self.rate) else (osc.frequency, 1.0)
        f, beat = osc.frequency, float(ahead[0])
        target = spacing * round((phase + f * (beat - start)) / spacing)  # the beat phase the motion heads for
        rate = (target - phase) / (beat - start)
        low, high = (1 - self.slack) * f, (1 + self.slack) * f
        if beat - start <= dt and low <= rate <= high:  # the beat falls in this step: on it, then on at f
            after = spacing / (ahead[1] - beat) if ahead.size > 1 else f
            return target + float(np.clip(after, low, high)) * (start + dt - beat)
        return phase + float(np.clip(rate, low, high)) * dt
