"""The causal beat tracker on the bundled real drum performance (Groove MIDI, 120 BPM click)."""

import mir_eval
import numpy as np
import pytest

from musmove.beat.features import AudioFeatures
from musmove.beat.tracking import BarTracker, BeatTracker, OnsetNormalizer
from musmove.sources.audio import load_audio

RATE, HOP = 22050, 512
FPS = RATE / HOP


@pytest.fixture(scope='module')
def activations(groove_wav) -> np.ndarray:
    """Normalised spectral-flux onset strength of the performance, frame by frame (the DSP fallback)."""
    audio = load_audio(groove_wav, RATE)[:, 0]
    features, normalize = AudioFeatures(HOP), OnsetNormalizer(FPS)
    return np.array([normalize(features(audio[i : i + HOP])[1]) for i in range(0, len(audio) - HOP + 1, HOP)])


def track(activations: np.ndarray) -> tuple[BeatTracker, list]:
    tracker = BeatTracker(FPS)
    return tracker, [tracker.step(a) for a in activations]


def test_beats_of_a_real_performance(activations):
    _, estimates = track(activations)
    observed = np.array([e.observed for e in estimates if e.observed is not None]) / FPS
    reference = np.arange(0, len(activations) / FPS, 0.5)  # the click the drummer played to: 120 BPM from 0
    f_measure = mir_eval.beat.f_measure(mir_eval.beat.trim_beats(reference), mir_eval.beat.trim_beats(observed))
    assert f_measure > 0.8
    assert [e for e in estimates if e.observed is not None][-1].tempo == pytest.approx(120, rel=0.05)
    for estimate in estimates:  # each beat is reported `lookahead` (4) frames after it, its time refined by <= 1
        assert estimate.observed is None or estimate.frame - estimate.observed >= 4 - 1


def test_estimates_use_only_the_past(activations):
    _, first = track(activations[:600])
    _, second = track(np.concatenate([activations[:600], np.zeros(200)]))
    assert first == second[:600]


def test_silence_decays_confidence_and_stops_beats(activations):
    silent = np.concatenate([activations, np.zeros(round(10 * FPS))])
    _, estimates = track(silent)
    music_end = len(activations)
    playing = estimates[round(2 * FPS) : music_end - round(3 * FPS)]  # the file ends in a decaying tail
    assert np.median([e.confidence for e in playing]) > 0.8
    later = estimates[music_end + round(2 * FPS) :]
    assert all(e.observed is None for e in later), 'no phantom beats in silence'
    assert max(e.confidence for e in later) < 0.3


def test_prediction_spread_grows_with_the_horizon(activations):
    tracker, estimates = track(activations)
    predictions = tracker.predictions(estimates[-1], 4)
    frames, spreads = zip(*predictions, strict=True)
    assert np.all(np.diff(frames) > 0)
    assert frames[0] > estimates[-1].frame + 1
    assert all(e.next_beat > e.frame + 1 for e in estimates), 'a prediction lies after the audio it came from'
    assert list(spreads) == sorted(spreads)


@pytest.mark.parametrize('meter', [3, 4])
def test_bar_tracker_finds_the_meter_and_the_downbeat(meter):
    bars = BarTracker()
    rng = np.random.default_rng(meter)
    first_downbeat = 2  # the music starts on the third beat of a bar
    positions = []
    for beat in range(40):
        on = (beat - first_downbeat) % meter == 0
        positions.append(bars.observe(float(np.clip((0.7 if on else 0.15) + rng.normal(0, 0.1), 0, 1))))
    assert positions[:7] == [0] * 7, 'no meter claimed before two bars of evidence'
    assert positions[-10:] == [(b - first_downbeat) % meter + 1 for b in range(30, 40)]
    assert bars.position(41) == (41 - first_downbeat) % meter + 1  # predicted beats get positions too


def test_bar_tracker_claims_no_meter_without_downbeat_evidence():
    bars = BarTracker()
    assert {bars.observe(0.0) for _ in range(40)} == {0}


def eighths(bpm: float, on: float, off: float, seconds: float = 40.0) -> np.ndarray:
    """An activation with a beat every 60 / `bpm` s at `on` and an off-beat halfway at `off`, over a little noise."""
    activation = np.random.default_rng(0).uniform(0, 0.05, round(seconds * FPS))
    period = 60 * FPS / bpm
    for k in range(int(len(activation) / period)):
        activation[round(k * period)] = on
        activation[min(round((k + 0.5) * period), len(activation) - 1)] = off
    return activation


@pytest.mark.parametrize('bpm', [90, 100])
def test_strong_off_beats_do_not_double_the_tempo(bpm):
    """Off-beats at 0.5 against beats at 0.8: the learned tempo prior, weighing every beat, keeps the beat's level;
    the former tracker (a wide prior at the start only) settles at twice the tempo."""
    activation = eighths(bpm, on=0.8, off=0.5)

    def settled(tracker: BeatTracker) -> float:
        return float(np.median([tracker.step(a).tempo for a in activation][-400:]))

    assert settled(BeatTracker(FPS)) == pytest.approx(bpm, rel=0.03)
    former = BeatTracker(FPS, prior_bpm=120.0, prior_octaves=1.0, prior_weight=0.0)
    assert settled(former) == pytest.approx(2 * bpm, rel=0.03)


def test_the_evidence_picks_the_filter_that_fits():
    """Of the supple (30) and the stiff (60) tempo drift, the tracker follows the one that predicts the activation
    better: a click at an exact period of 24 frames, the stiff one; a steady 110 BPM, whose beats fall 23 and 24
    frames apart on the frame grid, the supple one."""
    rng = np.random.default_rng(0)
    exact, grid = rng.uniform(0, 0.05, (2, round(30 * FPS)))
    exact[::24] = 0.8
    grid[np.round(np.arange(0, len(grid) - 1, 60 * FPS / 110)).astype(int)] = 0.8
    for activation, tempo_change in ((exact, 60.0), (grid, 30.0)):
        tracker = BeatTracker(FPS)
        chosen = [tracker.step(a) and tracker.filter.tempo_change for a in activation[round(10 * FPS) :]]
        assert set(chosen[round(10 * FPS) :]) == {tempo_change}
    single = BeatTracker(FPS, tempo_change=30.0)
    assert [f.tempo_change for f in single.filters] == [30.0], 'one value: one filter'


def test_predictions_follow_a_tempo_step_within_a_few_beats():
    """A click every 30 frames (86 BPM), then every 27 (the period 10 % shorter): the line through the recent
    beats, weighted to the newest (`fit_decay` 0.5), predicts the beats within 15 ms from the 3rd after the step;
    fitted evenly (1.0) it still misses the 5th by more; the default pair picks the weighted line after the step."""
    rng = np.random.default_rng(1)
    frames = np.concatenate([np.arange(10, 900, 30), 880 + np.arange(1, 25) * 27])
    activation = rng.uniform(0, 0.05, frames[-1] + 40)
    activation[frames] = 0.8
    beats, step = frames / FPS, int(np.searchsorted(frames, 881))  # the first beat at the new period

    def errors(fit_decay: float | tuple[float, float]) -> np.ndarray:
        """Per beat after the step: |the newest prediction made 100 ms or more before it, minus the beat| [s]."""
        tracker, made = BeatTracker(FPS, fit_decay=fit_decay), []
        for frame, a in enumerate(activation):
            made.append((frame / FPS, tracker.predictions(tracker.step(a), 4)))
        result = []
        for beat in beats[step : step + 12]:
            _, predicted = [m for m in made if m[0] <= beat - 0.1][-1]
            result.append(min(abs(frame / FPS - beat) for frame, _ in predicted))
        return np.array(result)

    assert np.all(errors(0.5)[2:] < 0.015)
    assert errors(1.0)[4] > 0.015
    assert np.all(errors((1.0, 0.5))[3:] < 0.015)
    with pytest.raises(ValueError, match='fit_decay'):
        BeatTracker(FPS, fit_decay=0.0)


def test_the_pair_of_lines_is_chosen_on_the_evidence():
    """Clicks every 26 frames, every 5th one 3 frames late (a push): the even line predicts them better,
    so the pair uses it; after the period steps it switches to the line weighted to the newest beats."""
    rng = np.random.default_rng(2)
    steady = np.arange(10, 1300, 26)
    steady[::5] += 3
    frames = np.concatenate([steady, steady[-1] + np.arange(1, 9) * 24])
    activation = rng.uniform(0, 0.05, frames[-1] + 10)
    activation[frames] = 0.8
    tracker = BeatTracker(FPS)
    used = [tracker.step(a) and tracker.fit_decay for a in activation]
    assert set(used[steady[-10] : steady[-1]]) == {1.0}
    assert used[-1] == 0.5
