"""The partner's beat from movement: tempo and phase of a dancer's periodic movement, causally.

Dancers move in cycles the music sets; on the dance-melody recordings the strongest cycle of the body's
height is one bar (a waltz dancer rises and falls once every three beats; docs/dance/partner.md). Each
frame, `MovementTracker` takes one value of a movement signal (by default the negated height of the spine,
so that the cycle's peak is the body's lowest point) and computes a recent-weighted Fourier transform of the
last `window` seconds (a Gaussian window reaching back from the newest frame) at candidate cycle rates
between `min_bpm` and `max_bpm` (log-spaced). The strongest rate, weighed by a log-normal continuity prior
about the previous estimate (width `continuity` octaves; its floor lets a real change win), is the cycle
tempo; the phase of that component at the newest frame is the cycle phase (0: at the signal's peak); the
share of the windowed variance it explains is the confidence. Beats are `beats_per_cycle` to a cycle, and the
beat phase at the cycle's peak is `event_phase` (the peak comes that many beats after a beat). A beat is
observed once the frame the previous estimate expected it at has passed. Everything is from the past.
"""

from dataclasses import dataclass

import numpy as np

FLOOR = 0.3  # the continuity prior's floor: a rate far from the last one keeps this share of its power


@dataclass(frozen=True)
class MovementEstimate:
    """The tracker's state after a frame; times in frames from the first frame."""

    frame: int
    cycle_tempo: float  # movement cycles per minute
    cycle_phase: float  # cycles since the signal's last peak, [0, 1)
    tempo: float  # beats per minute: cycle_tempo * beats_per_cycle
    phase: float  # beat phase, [0, 1): 0 on a beat
    next_beat: float  # frame of the next beat after this frame (fractional)
    confidence: float  # [0, 1]: share of the recent movement the cycle explains
    observed: float | None  # frame of a beat that passed within this frame, if any


class MovementTracker:
    """Online cycle tracking at `fps` frames per second from one movement value per frame."""

    def __init__(
        self,
        fps: float,
        beats_per_cycle: int = 1,
        event_phase: float = 0.0,
        window: float = 9.0,
        min_bpm: float = 15.0,
        max_bpm: float = 120.0,
        continuity: float = 0.15,
        rates: int = 300,
    ) -> None:
        if not 0 < min_bpm < max_bpm:
            raise ValueError(f'need 0 < min_bpm < max_bpm, got {min_bpm} and {max_bpm}')
        if beats_per_cycle < 1:
            raise ValueError(f'beats_per_cycle must be at least 1, got {beats_per_cycle}')
        self.fps, self.beats_per_cycle, self.event_phase = fps, beats_per_cycle, event_phase % 1.0
        self.continuity = continuity
        self.rates = np.geomspace(min_bpm, max_bpm, rates) / 60.0  # cycles per second
        self.length = round(1.5 * window * fps)  # frames kept: the window's weight falls to 1 % at its start
        ago = np.arange(self.length)[::-1] / fps  # seconds before the newest frame
        self.weights = np.exp(-0.5 * (ago / (window / 2)) ** 2)
        self.basis = np.exp(2j * np.pi * self.rates[:, None] * ago[None, :]) * self.weights
        self.reset()

    def reset(self) -> None:
        """Forget the past."""
        self.values = np.zeros(self.length)
        self.count = 0
        self.frame = -1
        self.rate: float | None = None
        self.next_beat: float | None = None  # frame of the next beat, as the last estimate expected it
        self.last_observed = -np.inf

    def step(self, value: float) -> MovementEstimate | None:
        """Take the next frame's movement value; the estimate after it (None until a window is in)."""
        self.frame += 1
        self.values[:-1] = self.values[1:]
        self.values[-1] = value
        self.count += 1
        if self.count < self.length:
            return None
        centred = self.values - self.weights @ self.values / self.weights.sum()
        spectrum = self.basis @ centred  # phase at the newest frame: cycles since the component's peak
        power = np.abs(spectrum) ** 2
        score = power
        if self.rate is not None:
            octaves = np.log2(self.rates / self.rate)
            score = power * (FLOOR + (1 - FLOOR) * np.exp(-0.5 * (octaves / self.continuity) ** 2))
        best = int(np.argmax(score))
        self.rate = float(self.rates[best])
        cycle_phase = float(np.angle(spectrum[best]) / (2 * np.pi)) % 1.0
        energy = float(self.weights @ centred**2) * float(self.weights.sum())
        confidence = min(1.0, 2 * float(power[best]) / energy) if energy > 0 else 0.0
        beat_phase = (cycle_phase * self.beats_per_cycle + self.event_phase) % 1.0
        beat_rate = self.rate * self.beats_per_cycle / self.fps  # beats per frame
        observed = None
        due = self.next_beat
        if due is not None and due <= self.frame and due - self.last_observed > 0.5 / beat_rate:
            observed = self.last_observed = due  # the beat the last estimate expected has passed
        self.next_beat = self.frame + (1 - beat_phase) / beat_rate
        return MovementEstimate(
            frame=self.frame,
            cycle_tempo=60 * self.rate,
            cycle_phase=cycle_phase,
            tempo=60 * self.rate * self.beats_per_cycle,
            phase=beat_phase,
            next_beat=self.next_beat,
            confidence=confidence,
            observed=observed,
        )
