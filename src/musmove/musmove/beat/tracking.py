"""A causal beat tracker: forward filtering in a beat-period state space, with predicted beats.

The hidden state is (period, position): the beat period in frames and the frames since the last
beat. Each frame the position advances by one; at the end of a beat the period may change to a
near one (tempo drift). A beat activation a in [0, 1] (a model's output, or a normalised onset
strength) is observed with likelihood max(a, `min_beat_likelihood`) in the beat states (position 0)
and (1 - a) / (L - 1) elsewhere (L: `observation_lambda`), as in the bar-pointer models of Whiteley
et al. (2006) and Krebs et al. (2015); the floor keeps silence from ruling out beat states, which
would favour the slowest tempi after a pause. A log-normal tempo prior (`prior_bpm`, `prior_octaves`: fitted to
the train-split annotations of Groove MIDI and ASAP by `musmove.beat.tempo_prior`) starts the filter and, raised
to `prior_weight`, weighs the belief at every beat: a standing penalty on tempi far from it, so that strong
off-beats or sparse passages do not carry the filter to twice or half the tempo once it has locked. The defaults
of `observation_lambda` and the floor were chosen on the validation split (mean F-measure of 32 performances
with the CRNN); `prior_weight` too (0.3 of 0, 0.3, 0.5, 1, 2: best F-measure and CMLt, fewest octave errors over
the first 60 s of its 48 Groove and 47 ASAP files; `bench/beat_tracker_validation.py`). How far the tempo may
drift at a beat (`tempo_change`) is decided on the evidence: two filters run side by side, a supple one (30) and
a stiff one (60), and the one that predicted the recent activations better (log-likelihood forgotten over
`memory`, 10 s) gives the estimate. Alone, the stiff one does better on real songs and worse on rubato piano; on
the validation data the pair is close to the better of the two on each (the README's figures).
The filtered posterior gives, at every frame and from the past only, the tempo, the phase, the time
to the next beat and its spread; beats are reported once `lookahead` frames of evidence after them
are in, and never while the music is silent. A reported beat's time is refined below a frame by the
peak of the activation about it (a parabola through three frames). The predictions follow a line through the
recent reported beats; two lines are fitted, one evenly and one with each beat weighing `fit_decay` 0.5 times
the next newer one, and the one that predicted the recent observed beats better (squared errors forgotten over
`FIT_MEMORY` beats) predicts, as the filters are chosen: the even line where the tempo holds and the beats
scatter (POP909), the weighted one after a change (after the period steps by 10 % its predictions are back
within 15 ms by the 5th beat rather than the 10th: median of 8 Groove validation performances,
`bench/perturbation.py --core`). Chosen on the validation split with `bench/live_tuning.py` (README of `bench/`).
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from musmove.beat.tempo_prior import LEARNED


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


class TempoFilter:
    """The forward filter of one tempo drift: the (period, position) states, their belief and its update."""

    def __init__(
        self,
        fps: float,
        min_bpm: float,
        max_bpm: float,
        tempo_change: float,
        observation_lambda: int,
        prior_bpm: float,
        prior_octaves: float,
        min_beat_likelihood: float,
        prior_weight: float,
    ) -> None:
        self.tempo_change, self.observation_lambda = tempo_change, observation_lambda
        self.min_beat_likelihood = min_beat_likelihood
        self.periods = np.arange(round(60 * fps / max_bpm), round(60 * fps / min_bpm) + 1)
        self.first = np.concatenate([[0], np.cumsum(self.periods)[:-1]])  # state of position 0 per period
        self.last = self.first + self.periods - 1
        self.period = np.repeat(self.periods, self.periods).astype(np.float64)
        self.position = np.arange(self.period.size) - np.repeat(self.first, self.periods)
        octaves = np.log2(60 * fps / self.periods / prior_bpm)
        tempo_prior = np.exp(-0.5 * (octaves / prior_octaves) ** 2)  # per period
        ratio = self.periods[None, :] / self.periods[:, None]  # tempo change at a beat: period i -> j
        transition = np.exp(-tempo_change * np.abs(ratio - 1))
        # Row-stochastic drift, then the prior as a penalty at every beat (the filter renormalises its belief).
        self.transition = transition / transition.sum(axis=1, keepdims=True) * tempo_prior[None, :] ** prior_weight
        self.beat = self.position == 0
        self.prior = np.repeat(tempo_prior, self.periods)
        self.reset()

    def reset(self) -> None:
        self.belief = self.prior / self.prior.sum()

    def step(self, a: float, evidence: np.ndarray | None) -> float:
        """Take activation `a` (clipped into (0, 1)); return the log-likelihood of it given the past."""
        moved = np.empty_like(self.belief)
        moved[1:] = self.belief[:-1]  # position + 1 within each period block
        moved[self.first] = self.belief[self.last] @ self.transition  # a beat ends: maybe a new period
        if evidence is not None:
            moved[self.first] *= evidence
        likelihood = np.where(self.beat, max(a, self.min_beat_likelihood), (1 - a) / (self.observation_lambda - 1))
        belief = moved * likelihood
        total = float(belief.sum())
        self.belief = belief / total
        return float(np.log(total))


class BeatTracker:
    """Online beat tracking at `fps` frames per second from one activation value per frame.

    With several `tempo_change` values one `TempoFilter` runs per value, and each frame the one whose past
    activations were likeliest, forgotten over `memory` s, gives the estimate: the drift is chosen on the
    evidence, not by the kind of music.
    """

    FIT_BEATS = 8  # recent observed beats a line is fitted through to predict the next ones
    FIT_MEMORY = 8.0  # beats over which each line's errors in predicting the observed beats are forgotten

    def __init__(
        self,
        fps: float,
        min_bpm: float = 55.0,
        max_bpm: float = 215.0,
        tempo_change: float | Sequence[float] = (30.0, 60.0),
        observation_lambda: int = 8,
        lookahead: int = 4,
        prior_bpm: float = LEARNED['prior_bpm'],
        prior_octaves: float = LEARNED['prior_octaves'],
        min_confidence: float = 0.3,
        min_beat_likelihood: float = 0.02,
        prior_weight: float = 0.3,
        memory: float = 10.0,
        fit_decay: float | Sequence[float] = (1.0, 0.5),
    ) -> None:
        self.fit_decays = np.atleast_1d(np.asarray(fit_decay, dtype=float))
        if not np.all((self.fit_decays > 0) & (self.fit_decays <= 1)):
            raise ValueError(f'every fit_decay must be in (0, 1], not {fit_decay}')
        self.fps, self.lookahead, self.min_confidence = fps, lookahead, min_confidence
        self.filters = [
            TempoFilter(fps, min_bpm, max_bpm, change, observation_lambda, prior_bpm, prior_octaves,
                        min_beat_likelihood, prior_weight)
            for change in np.atleast_1d(tempo_change).astype(float)
        ]  # fmt: skip
        self.forget = float(np.exp(-1.0 / (memory * fps)))
        self.reset()

    def reset(self) -> None:
        """Forget the past: tempo prior, uniform phase."""
        for tempo_filter in self.filters:
            tempo_filter.reset()
        self.evidence_of = np.zeros(len(self.filters))  # forgotten log-likelihood per filter
        self.filter = self.filters[0]  # the one that gives the estimate
        self.frame = -1
        self.last_observed = -np.inf
        self.recent = np.zeros(self.lookahead + 3)  # the latest activations, newest last
        self.observed: list[float] = []
        self.fit_errors = np.zeros(len(self.fit_decays))  # forgotten squared error of each line's next beat
        self.fit_decay = float(self.fit_decays[0])  # the one the predictions use
        self.salience_fast = self.salience_slow = 0.0
        self.evidence: np.ndarray | None = None  # another modality's tempo, weighing each beat's period

    def tempo_evidence(self, bpm: float | None, octaves: float = 0.1, floor: float = 0.05) -> None:
        """Weigh every period chosen at a beat by another modality's tempo `bpm` (a partner's movement
        beats): a log-normal of width `octaves` about it, never below `floor`, until the next call; None: none."""
        if bpm is None or not np.isfinite(bpm) or bpm <= 0:
            self.evidence = None
            return
        distance = np.log2(60 * self.fps / self.filter.periods / bpm) / octaves
        self.evidence = floor + (1 - floor) * np.exp(-0.5 * distance**2)

    def step(self, activation: float) -> Estimate:
        """Take the next frame's beat activation (in [0, 1]); return the estimate after it."""
        self.frame += 1
        a = float(np.clip(activation, 1e-6, 1 - 1e-6))
        self.recent[:-1] = self.recent[1:]
        self.recent[-1] = a
        log_likelihood = [tempo_filter.step(a, self.evidence) for tempo_filter in self.filters]
        self.evidence_of = self.forget * self.evidence_of + log_likelihood
        self.filter = self.filters[int(np.argmax(self.evidence_of))]
        self.salience_fast += (a - self.salience_fast) / (1.0 * self.fps)
        self.salience_slow += (a - self.salience_slow) / (20.0 * self.fps)
        return self._estimate()

    def _estimate(self) -> Estimate:
        belief, state_period, state_position = self.filter.belief, self.filter.period, self.filter.position
        best = int(np.argmax(belief))
        period, position = state_period[best], state_position[best]
        near = np.abs(state_period - period) <= 0.1 * period
        weights = belief * near
        weights /= weights.sum()
        to_next = state_period - state_position  # frames to the next beat, per state
        offset = (to_next - (period - position) + period / 2) % period - period / 2  # wrapped about the MAP
        mean = (period - position) + float(weights @ offset)
        std = float(np.sqrt(weights @ (offset - weights @ offset) ** 2))
        period_std = float(np.sqrt(weights @ (state_period - weights @ state_period) ** 2))
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
            observed = self.last_observed = beat_frame + self._peak_offset(int(position))
        next_beat, period = self.frame + mean, float(weights @ state_period)
        if observed is not None:
            self._choose_fit(observed, period)
            self.observed = [*self.observed[-(self.FIT_BEATS - 1) :], observed]
        if fit := self._fit(period, self.fit_decay):  # the recent beats pin the phase and tempo finer than a frame
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

    def _peak_offset(self, position: int) -> float:
        """Where the activation peaks about the beat `position` frames ago, in frames from it ([-1, 1])."""
        beat = len(self.recent) - 1 - position  # its index in `recent`
        if not 2 <= beat <= len(self.recent) - 3:
            return 0.0
        around = self.recent[beat - 2 : beat + 3]  # the beat's frame and two either side
        top = 1 + int(np.argmax(around[1:4]))  # the highest of beat - 1, beat, beat + 1
        left, centre, right = around[top - 1 : top + 2]
        curvature = left - 2 * centre + right
        shift = 0.5 * (left - right) / curvature if curvature < 0 else 0.0
        return float(np.clip(top - 2 + shift, -1.0, 1.0))

    def _choose_fit(self, beat: float, period: float) -> None:
        """Score each `fit_decay`'s line on the new observed `beat` (what it predicted from the beats before), and
        let the one with the smaller recent error predict: the even line where the tempo holds and the beats
        scatter, the one weighted to the newest beats after a change."""
        errors = []
        for decay in self.fit_decays:
            if not (fit := self._fit(period, decay)):
                return
            start, slope, _ = fit
            errors.append(beat - start - slope * np.round((beat - start) / slope))
        self.fit_errors = np.exp(-1.0 / self.FIT_MEMORY) * self.fit_errors + np.square(errors)
        self.fit_decay = float(self.fit_decays[int(np.argmin(self.fit_errors))])

    def _fit(self, period: float, decay: float) -> tuple[float, float, float] | None:
        """(first beat, period, rms residual) of a line through the longest run of recent beats (4 or more) that
        agrees with `period` (slope within 10 %, rms residual within 5 % of it): beats from before a change of tempo
        or level are left behind at once, not only once 8 newer ones are in (the bundled Groove performance: the
        robot's start gate opened at 4.1 s rather than 6.6 s with the default models; 10 % let a stray early beat
        bend the line)."""
        recent = np.array(self.observed)
        if len(recent) < 4 or self.frame - recent[-1] > 1.5 * period:
            return None
        for first in range(len(recent) - 3):
            if fit := self._line(recent[first:], period, decay):
                return fit
        return None

    @staticmethod
    def _line(beats: np.ndarray, period: float, decay: float) -> tuple[float, float, float] | None:
        """`_fit` on `beats` alone: least squares weighted by `decay` per beat of age (1: evenly; below 1 the
        newest weigh most, so that a change of tempo or phase moves the line within a few beats)."""
        counts = np.round((beats - beats[0]) / period)
        if np.any(np.diff(counts) <= 0):  # two beats a period apart or less: no line through them
            return None
        weights = decay ** np.arange(len(beats) - 1, -1, -1.0)
        weights /= weights.sum()
        mean_count, mean_beat = float(weights @ counts), float(weights @ beats)
        centred = weights * (counts - mean_count)  # closed form (np.polyfit costs 10x more per frame)
        slope = float(centred @ (beats - mean_beat) / (centred @ (counts - mean_count)))
        start = mean_beat - slope * mean_count
        residual = float(np.sqrt(np.mean((start + slope * counts - beats) ** 2)))
        if abs(slope / period - 1) > 0.1 or residual > 0.05 * period:
            return None
        return start, slope, max(residual, 0.5)

    def predictions(self, estimate: Estimate, count: int) -> list[tuple[float, float]]:
        """The next `count` beats as (frame, std in frames): spread grows with the horizon."""
        period = 60 * self.fps / estimate.tempo
        return [
            (estimate.next_beat + k * period, float(np.hypot(estimate.next_beat_std, k * estimate.period_std)))
            for k in range(count)
        ]


class BarTracker:
    """Downbeats among the observed beats: the bar length and bar start the downbeat activation favours.

    For each meter (beats per bar) it keeps a running mean of the downbeat activation at each slot (beat
    count modulo the meter); the meter whose best slot stands out most from its others wins, if its contrast
    (best - mean of the others) / best reaches `min_contrast`, and that slot is the downbeat. Until then the
    position in the bar is unknown (0).
    """

    def __init__(self, meters: tuple[int, ...] = (3, 4), memory: int = 8, min_contrast: float = 0.4) -> None:
        self.meters, self.rate, self.min_contrast = meters, 1.0 / memory, min_contrast
        self.reset()

    def reset(self) -> None:
        self.slots = {meter: np.zeros(meter) for meter in self.meters}
        self.count = 0

    def observe(self, downbeat: float) -> int:
        """Take the downbeat activation at the next observed beat; return that beat's position in the bar."""
        for meter, slots in self.slots.items():
            slots[self.count % meter] += self.rate * (downbeat - slots[self.count % meter])
        self.count += 1
        return self.position(self.count - 1)

    def position(self, beat: int) -> int:
        """1-based position in the bar of beat number `beat` (counted from 0), or 0 while the meter is unknown."""
        if self.count < 2 * max(self.meters):
            return 0
        contrast = {
            m: 1 - (s.sum() - s.max()) / (m - 1) / s.max() if s.max() > 1e-3 else 0.0 for m, s in self.slots.items()
        }
        meter = max(contrast, key=contrast.get)
        if contrast[meter] < self.min_contrast:
            return 0
        return (beat - int(np.argmax(self.slots[meter]))) % meter + 1


class OnsetNormalizer:
    """Onset strength to a beat activation in [0, 1]: divided by a slowly decaying running peak."""

    def __init__(self, fps: float, decay_seconds: float = 10.0, floor: float = 1e-3) -> None:
        self.decay = np.exp(-1.0 / (decay_seconds * fps))
        self.peak, self.floor = 0.0, floor

    def __call__(self, onset: float) -> float:
        self.peak = max(onset, self.peak * self.decay, self.floor)
        return float(np.clip(onset / self.peak, 0.0, 1.0))


def decode_offline(
    activation: np.ndarray,
    fps: float,
    min_bpm: float = 55.0,
    max_bpm: float = 215.0,
    gate: float = 0.3,
    **options: float,
) -> np.ndarray:
    """Beat frames of the most likely state sequence given all the activations: the offline (non-causal) mode.

    Viterbi decoding, in the log domain, of `BeatTracker`'s model (same states, transitions, observations and
    tempo prior with a uniform phase; `options` go to `BeatTracker`) over the music: from the first to the last
    frame whose activation reaches `gate` times the activation's own maximum (no beats in leading silence or a
    ringing tail, whatever the model's scale: on real recordings its peaks reach only 0.4-0.7). No beats at all
    when the activation never rises above 1e-3. A beat is a frame where the path is at position 0; a beat implied
    before the music's first frame is left out. Of several `tempo_change` values the first (supple) one is used:
    the likeliest path of all would favour the stiffest filter whether it fits or not, and with the whole music
    in view the supple one did better on validation (ASAP 54.3 against 51.6 for the pair, Groove 76.3 and 77.9).
    """
    activation = np.asarray(activation, dtype=np.float64)
    peak = float(activation.max(initial=0.0))
    if peak < 1e-3:
        return np.zeros(0, dtype=np.intp)
    active = np.flatnonzero(activation >= gate * peak)
    model = BeatTracker(fps, min_bpm, max_bpm, **options).filters[0]
    return active[0] + _viterbi(model, activation[active[0] : active[-1] + 1])


def _viterbi(model: TempoFilter, activation: np.ndarray) -> np.ndarray:
    """Beat frames of the most likely path through `model`'s states given `activation`."""
    a = np.clip(activation, 1e-6, 1 - 1e-6)
    log_beat = np.log(np.maximum(a, model.min_beat_likelihood))
    log_other = np.log((1 - a) / (model.observation_lambda - 1))
    log_transition = np.log(model.transition)
    blocks = np.arange(len(model.periods))
    score = np.log(model.prior / model.prior.sum()) + np.where(model.beat, log_beat[0], log_other[0])
    pointers = np.zeros((len(a), len(blocks)), dtype=np.intp)  # best previous period into each beat state
    for t in range(1, len(a)):
        into = score[model.last, None] + log_transition  # (from period i, to period j)
        pointers[t] = np.argmax(into, axis=0)
        score = np.concatenate([[0.0], score[:-1]])  # position + 1 within each period block
        score[model.first] = into[pointers[t], blocks]
        score += np.where(model.beat, log_beat[t], log_other[t])
    best = int(np.argmax(score))
    block = int(np.searchsorted(model.first, best, side='right')) - 1
    beats, frame = [], len(a) - 1 - (best - int(model.first[block]))
    while frame >= 0:  # from beat to beat: the period before each beat is the one its pointer came from
        beats.append(frame)
        block = int(pointers[frame, block])
        frame = frame - int(model.periods[block]) if frame > 0 else -1
    return np.array(beats[::-1], dtype=np.intp)
