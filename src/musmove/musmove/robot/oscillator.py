"""An adaptive phase oscillator that follows predicted beats, with feed-forward of actuation latency.

The phase counts beats (an integer phase is a beat) and advances at the frequency f [Hz]. Each
beat prediction (the time of a coming beat, its spread, a confidence and the tempo) defines a
target phase ramp that reaches an integer at the predicted time and rises at the predicted beat
rate. At every control step the oscillator steers towards it:

    dphase/dt = f + clip(k_phase w e, +-max_phase_rate)
    df/dt     = clip(w (k_freq (f_beat - f) + k_int e), +-max_freq_rate)

with e the phase error to the nearest beat and w = confidence * std0^2 / (std0^2 + std^2) the
weight of the prediction. The correction rates are bounded, so the phase never jumps, and a
prediction older than `timeout` stops steering: the oscillator then free-runs at its last
frequency. Tempi are folded by octaves into [min_bpm, max_bpm], to the octave nearest the current
frequency, so a tracker that flips between 120 and 240 BPM leaves the motion undisturbed; when the
folded rate is half the beat rate, every beat is a half cycle and either half may lock.

Commands are computed at `command_phase`, the phase `latency` seconds ahead: a robot that moves
`latency` after its command then shows the oscillator's phase at the time it moves.
"""

import math

import numpy as np
from numpy.typing import ArrayLike


class Oscillator:
    """Beat phase and frequency integrated at the control rate, steered by beat predictions."""

    def __init__(
        self,
        bpm: float = 120.0,
        min_bpm: float = 50.0,
        max_bpm: float = 150.0,
        latency: float = 0.0,
        phase_gain: float = 10.0,
        frequency_gain: float = 2.0,
        integral_gain: float = 1.0,
        max_phase_rate: float = 0.6,
        max_frequency_rate: float = 0.5,
        reference_std: float = 0.03,
        timeout: float = 0.5,
    ) -> None:
        """Start free-running at `bpm`; the first prediction sets phase and frequency at once.

        Args:
            min_bpm, max_bpm: range of the oscillator's beat rate (at least an octave wide).
            latency: command-to-motion latency of the robot [s], compensated in `command_phase`.
            phase_gain, frequency_gain [1/s], integral_gain [1/s^2]: loop gains at weight 1.
            max_phase_rate: largest phase correction [beats/s], on top of the frequency.
            max_frequency_rate: largest frequency change [Hz/s].
            reference_std: prediction spread [s] at which a prediction has half weight.
            timeout: age [s] after which the newest prediction no longer steers.
        """
        if max_bpm < 2 * min_bpm or min_bpm <= 0:
            raise ValueError('the tempo range must span at least an octave')
        self.min_frequency, self.max_frequency = min_bpm / 60, max_bpm / 60
        self.latency, self.timeout, self.reference_std = latency, timeout, reference_std
        self.phase_gain, self.frequency_gain, self.integral_gain = phase_gain, frequency_gain, integral_gain
        self.max_phase_rate, self.max_frequency_rate = max_phase_rate, max_frequency_rate
        self.phase = 0.0
        self.frequency = float(np.clip(bpm / 60, self.min_frequency, self.max_frequency))
        self.rate = self.frequency  # the phase rate of the last step: the frequency plus the correction [Hz]
        self.time: float | None = None
        self.updated = -math.inf  # time of the newest prediction
        self.locked = False  # a prediction has set the phase
        # The steering target: a beat time, the folded beat rate, the lattice of beat phases, a weight.
        self._anchor, self._rate, self._spacing, self._weight = 0.0, self.frequency, 1.0, 0.0

    @property
    def bpm(self) -> float:
        """The oscillator's beat rate [beats per minute]."""
        return 60 * self.frequency

    @property
    def command_phase(self) -> float:
        """The phase `latency` seconds ahead: where the commanded motion must be now."""
        return self.phase + self.frequency * self.latency

    def stale(self, t: float) -> bool:
        """True when no prediction newer than `timeout` steers the oscillator at time `t`."""
        return t - self.updated > self.timeout

    def fold(self, frequency: float) -> tuple[float, float]:
        """(oscillator frequency, beat spacing in cycles) for a beat rate, an octave near the current one."""
        octave = round(math.log2(frequency / self.frequency))
        while frequency / 2**octave > self.max_frequency:
            octave += 1
        while frequency / 2**octave < self.min_frequency:
            octave -= 1
        return frequency / 2**octave, min(1.0, 2.0**-octave)

    def update(
        self,
        t: float,
        beats: ArrayLike,
        tempo: float | None = None,
        std: float = 0.0,
        confidence: float = 1.0,
    ) -> bool:
        """Take a prediction made at time `t`: coming beat times [s], tempo [BPM], spread [s], confidence.

        The beat nearest to `t` anchors the phase. Without a tempo the rate comes from the spacing
        of the beats, or stays the same for a single beat. Returns False if the prediction was unusable.
        """
        times = np.atleast_1d(np.asarray(beats, dtype=np.float64))
        times = times[np.isfinite(times)]
        weight = float(np.clip(confidence, 0.0, 1.0)) * self.reference_std**2 / (self.reference_std**2 + std**2)
        if times.size == 0 or not math.isfinite(t) or not weight > 0:
            return False
        rate = tempo / 60 if tempo is not None and math.isfinite(tempo) and tempo > 0 else math.nan
        if math.isnan(rate) and times.size > 1:
            spacing = float(np.median(np.diff(np.sort(times))))
            rate = 1 / spacing if spacing > 0 else math.nan
        if not self.min_frequency / 64 <= rate <= self.max_frequency * 64:
            rate = math.nan  # absurd (or missing): steer the phase only
        self._rate, self._spacing = self.fold(rate) if math.isfinite(rate) else (self.frequency, 1.0)
        self._anchor = float(times[np.argmin(np.abs(times - t))])
        self._weight, self.updated = weight, t
        if self.time is None:
            self.time = t
        if not self.locked:
            self.frequency, self.phase, self.locked = self._rate, self._target(self.time), True
        return True

    def _target(self, t: float) -> float:
        """The phase the newest prediction asks for at time `t` (modulo the beat spacing)."""
        return (t - self._anchor) * self._rate

    def error(self) -> float:
        """Phase error [cycles] now (at `time`) to the newest prediction's nearest beat: target - phase."""
        difference = self._target(self.time if self.time is not None else self.updated) - self.phase
        return difference - self._spacing * round(difference / self._spacing)

    def advance(self, t: float) -> float:
        """Integrate up to time `t`; returns the phase."""
        if self.time is None:
            self.time = t
        dt = t - self.time
        if not dt > 0:
            return self.phase
        correction = 0.0
        if not self.stale(t):
            error, w = self.error(), self._weight
            correction = float(np.clip(self.phase_gain * w * error, -self.max_phase_rate, self.max_phase_rate))
            drift = w * (self.frequency_gain * (self._rate - self.frequency) + self.integral_gain * error)
            change = float(np.clip(drift, -self.max_frequency_rate, self.max_frequency_rate))
            self.frequency = float(np.clip(self.frequency + change * dt, self.min_frequency, self.max_frequency))
        self.rate = self.frequency + correction
        self.phase += self.rate * dt
        self.time = t
        return self.phase
