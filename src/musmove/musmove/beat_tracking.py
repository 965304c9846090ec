"""A causal beat tracker: forward filtering in a beat-period state space, with predicted beats.

The hidden state is (period, position): the beat period in frames and the frames since the last
beat. Each frame the position advances by one; at the end of a beat the period may change to a
near one (tempo drift). A beat activation a in [0, 1] (a model's output, or a normalised onset
strength) is observed with likelihood a in the beat states (position 0) and (1 - a) / (L - 1)
elsewhere (L: `observation_lambda`), as in the bar-pointer models of Whiteley et al. (2006) and
Krebs et al. (2015). The filtered posterior gives, at every frame and from the past only, the
tempo, the phase, the time to the next beat and its spread; beats are reported once `lookahead`
frames of evidence after them are in, and never while the music is silent.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Estimate:
    """The tracker's state after a frame; times in frames from the first frame."""

    frame: int
    tempo: float  # beats per minute
    phase: float  # cycles since the last beat, [0, 1)
    next_beat: float  # frame of the next beat after the end of this frame (fractional)
    next_beat_std: float  # frames
    period_std: float  # frames
    confidence: float  # [0, 1]
    observed: float | None  # frame of a beat confirmed by this frame, if any


class BeatTracker:
    """Online beat tracking at `fps` frames per second from one activation value per frame."""

    FIT_BEATS = 8  # recent observed beats a line is fitted through to predict the next ones

    def __init__(
        self,
        fps: float,
        min_bpm: float = 55.0,
        max_bpm: float = 215.0,
        tempo_change: float = 100.0,
        observation_lambda: int = 16,
        lookahead: int = 4,
        prior_bpm: float = 120.0,
        prior_octaves: float = 1.0,
        min_confidence: float = 0.3,
    ) -> None:
        self.fps, self.lookahead, self.min_confidence = fps, lookahead, min_confidence
        self.periods = np.arange(round(60 * fps / max_bpm), round(60 * fps / min_bpm) + 1)
        self.first = np.concatenate([[0], np.cumsum(self.periods)[:-1]])  # state of position 0 per period
        self.last = self.first + self.periods - 1
        self.period = np.repeat(self.periods, self.periods).astype(np.float64)
        self.position = np.arange(self.period.size) - np.repeat(self.first, self.periods)
        ratio = self.periods[None, :] / self.periods[:, None]  # tempo change at a beat: period i -> j
        transition = np.exp(-tempo_change * np.abs(ratio - 1))
        self.transition = transition / transition.sum(axis=1, keepdims=True)
        self.beat = self.position == 0
        self.observation_lambda = observation_lambda
        octaves = np.log2(60 * fps / self.periods / prior_bpm)
        self.prior = np.repeat(np.exp(-0.5 * (octaves / prior_octaves) ** 2), self.periods)
        self.reset()

    def reset(self) -> None:
        """Forget the past: tempo prior, uniform phase."""
        self.belief = self.prior / self.prior.sum()
        self.frame = -1
        self.last_observed = -np.inf
        self.observed: list[float] = []
        self.salience_fast = self.salience_slow = 0.0

    def step(self, activation: float) -> Estimate:
        """Take the next frame's beat activation (in [0, 1]); return the estimate after it."""
        self.frame += 1
        moved = np.empty_like(self.belief)
        moved[1:] = self.belief[:-1]  # position + 1 within each period block
        moved[self.first] = self.belief[self.last] @ self.transition  # a beat ends: maybe a new period
        a = float(np.clip(activation, 1e-6, 1 - 1e-6))
        likelihood = np.where(self.beat, a, (1 - a) / (self.observation_lambda - 1))
        belief = moved * likelihood
        self.belief = belief / belief.sum()
        self.salience_fast += (a - self.salience_fast) / (1.0 * self.fps)
        self.salience_slow += (a - self.salience_slow) / (20.0 * self.fps)
        return self._estimate()

    def _estimate(self) -> Estimate:
        best = int(np.argmax(self.belief))
        period, position = self.period[best], self.position[best]
        near = np.abs(self.period - period) <= 0.1 * period
        weights = self.belief * near
        weights /= weights.sum()
        to_next = self.period - self.position  # frames to the next beat, per state
        offset = (to_next - (period - position) + period / 2) % period - period / 2  # wrapped about the MAP
        mean = (period - position) + float(weights @ offset)
        std = float(np.sqrt(weights @ (offset - weights @ offset) ** 2))
        period_std = float(np.sqrt(weights @ (self.period - weights @ self.period) ** 2))
        concentration = float(weights[np.abs(offset) <= max(1.0, 0.05 * period)].sum())
        activity = self.salience_fast / max(self.salience_slow, 1e-3)
        confidence = concentration * float(np.tanh(2 * activity)) if self.salience_slow > 1e-3 else 0.0
        observed = None
        beat_frame = self.frame - position
        if (
            position >= self.lookahead
            and beat_frame - self.last_observed > 0.6 * period
            and confidence >= self.min_confidence
            and position < period - 1  # not about to wrap: the MAP has settled on this beat
        ):
            observed = self.last_observed = float(beat_frame)
            self.observed = [*self.observed[-(self.FIT_BEATS - 1) :], observed]
        next_beat, period = self.frame + mean, float(weights @ self.period)
        if fit := self._fit(period):  # the recent beats pin the phase and tempo finer than a frame
            start, period, residual = fit
            next_beat = start + period * np.ceil((self.frame - start) / period + 1e-9)
            std = min(std, residual)
        if next_beat <= self.frame + 1:  # within the frame just heard: the next one is still to come
            next_beat += period
        return Estimate(
            frame=self.frame,
            tempo=60 * self.fps / period,
            phase=float(1 - (next_beat - self.frame) / period) % 1.0,
            next_beat=float(next_beat),
            next_beat_std=std,
            period_std=period_std,
            confidence=confidence,
            observed=observed,
        )

    def _fit(self, period: float) -> tuple[float, float, float] | None:
        """(first beat, period, rms residual) of a line through the recent beats, if they agree with `period`."""
        beats = np.array(self.observed)
        if len(beats) < 4 or self.frame - beats[-1] > 1.5 * period:
            return None
        counts = np.round((beats - beats[0]) / period)
        if len(np.unique(counts)) < len(counts):
            return None
        slope, start = np.polyfit(counts, beats, 1)
        residual = float(np.sqrt(np.mean((start + slope * counts - beats) ** 2)))
        if abs(slope / period - 1) > 0.1 or residual > 0.1 * period:
            return None
        return float(start), float(slope), max(residual, 0.5)

    def predictions(self, estimate: Estimate, count: int) -> list[tuple[float, float]]:
        """The next `count` beats as (frame, std in frames): spread grows with the horizon."""
        period = 60 * self.fps / estimate.tempo
        return [
            (estimate.next_beat + k * period, float(np.hypot(estimate.next_beat_std, k * estimate.period_std)))
            for k in range(count)
        ]


class OnsetNormalizer:
    """Onset strength to a beat activation in [0, 1]: divided by a slowly decaying running peak."""

    def __init__(self, fps: float, decay_seconds: float = 10.0, floor: float = 1e-3) -> None:
        self.decay = np.exp(-1.0 / (decay_seconds * fps))
        self.peak, self.floor = 0.0, floor

    def __call__(self, onset: float) -> float:
        self.peak = max(onset, self.peak * self.decay, self.floor)
        return float(np.clip(onset / self.peak, 0.0, 1.0))
