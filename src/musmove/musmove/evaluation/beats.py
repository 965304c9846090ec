"""Beat tracking evaluation on the annotated data sets: our causal and offline modes against the published trackers.

Every method runs on the same audio (optionally its first `seconds` only): Groove and ASAP examples' MIDI rendered by
`musmove.training.beat_data.render` at 22050 Hz (FluidR3, dry), and test-split POP909 arrangements and full-band
mixtures rendered as the prepared training data is (`musmove.training.prepare.rendered`: SoundFonts, instruments,
recording channel):

- causal: `musmove.beat.model` activations streamed through `BeatTracker`, its observed beats;
- offline: the same activations decoded at once by `decode_offline` (Viterbi, non-causal);
- librosa: `librosa.beat.beat_track` (dynamic programming over the onset envelope, offline);
- essentia: essentia's `RhythmExtractor2013` ('multifeature', offline) on the audio resampled to 44100 Hz;
- madmom and BeatNet, online and offline (`musmove.evaluation.peers`, the optional evaluation extra).

`scores` gives mir_eval's beat scores, `musmove.evaluation.metrical` the lock times and octave errors,
`musmove.evaluation.performed` the bias against the performed notes; `prediction_errors` measures how well the
next-beat predictions of the causal methods, the times a robot moves to, anticipate the beats. `evaluate` runs
the methods over a split; `musmove.evaluation.beat_report` writes the tables, CSV and plots.
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from math import gcd
from pathlib import Path
from typing import Any

import mir_eval
import numpy as np
from scipy.signal import resample_poly

from musmove.beat import model as beat_model
from musmove.beat.tracking import BarTracker, BeatTracker, decode_offline
from musmove.evaluation import BEAT_METHODS, peers
from musmove.evaluation.metrical import LEVEL_BOUND, lock_times, octave_error
from musmove.evaluation.performed import bias, note_onsets, performed_beats, render_delay
from musmove.progress import Progress
from musmove.sources.audio import load_audio
from musmove.training import prepare
from musmove.training.beat_data import SPLITS, Example, examples, one_per_folder, render
from musmove.training.prepare import Labelled

RATE, HOP = 22050, 512
FPS = RATE / HOP
ESSENTIA_RATE = 44100
METHODS = BEAT_METHODS
PREDICTING = ('causal', *peers.ONLINE_PEERS)  # the causal methods, whose beats a robot can act on ahead of time
SCORES = ('f_measure', 'cmlt', 'amlt', 'p_score')
METRICAL = ('lock_annotated_s', 'lock_any_s', 'octave_error', 'bias_ms')
ERRORS = ('downbeat_f_measure', 'median_abs_error_ms', 'mean_error_ms', 'coverage')
HORIZON = 0.1  # s: a robot's command latency
SKIP = 5.0  # s: beats before this are not scored (mir_eval.beat.trim_beats)
ANNOTATED = ('groove', 'asap')  # rendered plainly with FluidR3 (`beat_data.render`)
RENDERED = ('pop909', 'mix')  # test renders made as the prepared training data (`prepare.rendered`)
DATASETS = (*ANNOTATED, *RENDERED)
TEST_RENDERS = 20  # POP909 renders and mixtures evaluated when no --limit is given


@dataclass(frozen=True, eq=False)
class Result:
    """One method on one example: scores (fractions; lock times in s; the causal methods add the prediction
    errors), run time, and why it did not run (`status`, e.g. 'not installed: …'; then no scores)."""

    dataset: str
    example: str
    method: str
    duration: float  # s of audio
    seconds: float  # run time of the method on the audio (the causal and offline modes both count the activations)
    n_reference: int
    n_estimated: int
    scores: dict[str, float]
    errors: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)  # causal: ms per scored beat, NaN: none
    bias: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)  # ms per beat vs the performed note
    status: str = ''


def scores(reference: np.ndarray, estimated: np.ndarray) -> dict[str, float]:
    """mir_eval's F-measure (±70 ms), CMLt, AMLt and P-score of beat times (s).

    Both sequences are trimmed with `mir_eval.beat.trim_beats` first: beats in the first 5 s are ignored (the
    mir_eval convention, letting a tracker settle).
    """
    reference, estimated = mir_eval.beat.trim_beats(reference), mir_eval.beat.trim_beats(estimated)
    _, cmlt, _, amlt = mir_eval.beat.continuity(reference, estimated)
    return {
        'f_measure': float(mir_eval.beat.f_measure(reference, estimated, f_measure_threshold=0.07)),
        'cmlt': float(cmlt),
        'amlt': float(amlt),
        'p_score': float(mir_eval.beat.p_score(reference, estimated)),
    }


def prediction_errors(
    reference: np.ndarray,
    made: np.ndarray,
    predicted: np.ndarray,
    horizon: float = HORIZON,
    periods: np.ndarray | None = None,
) -> np.ndarray:
    """Error (ms) of the prediction a robot with latency `horizon` (s) acts on, per reference beat after 5 s.

    A prediction is a pair (time it was made, predicted beat time), `made` increasing. For a reference beat b
    whose shorter interval to a neighbouring reference beat is d, the prediction used is the latest one made at
    or before b - `horizon` whose predicted time p satisfies |p - b| <= d / 2; the error is p - b. With `periods`
    (the beat period, s, each prediction assumed) only predictions at the annotated metrical level count: period
    within a factor sqrt(3/2) of the mean of b's reference intervals (so a tracker at twice the tempo predicts
    nothing). Beats before 5 s (as in `scores`) are left out; a beat with no such prediction gets NaN.
    """
    reference = np.asarray(reference, dtype=np.float64)
    intervals = np.diff(reference)
    half = 0.5 * np.minimum(np.append(np.inf, intervals), np.append(intervals, np.inf))
    local = np.convolve(np.pad(intervals, 1, mode='edge'), [0.5, 0.5], mode='valid') if intervals.size else half
    errors = np.full(len(reference), np.nan)
    for i, beat in enumerate(reference):
        known = np.searchsorted(made, beat - horizon, side='right')
        usable = np.abs(predicted[:known] - beat) <= half[i]
        if periods is not None:
            ratio = local[i] / np.asarray(periods[:known])
            usable &= (ratio > 1 / LEVEL_BOUND) & (ratio < LEVEL_BOUND)
        near = np.flatnonzero(usable)
        if near.size:
            errors[i] = predicted[near[-1]] - beat
    return 1000 * errors[reference >= SKIP]


def error_summary(errors: np.ndarray) -> dict[str, float]:
    """Median absolute error and mean error (ms) of the predicted beats, and the share of beats predicted."""
    hit = errors[~np.isnan(errors)]
    return {
        'median_abs_error_ms': float(np.median(np.abs(hit))) if hit.size else np.nan,
        'mean_error_ms': float(np.mean(hit)) if hit.size else np.nan,
        'coverage': hit.size / errors.size if errors.size else np.nan,
    }


def activation(audio: np.ndarray, model: str | None = beat_model.SHIPPED) -> np.ndarray:
    """Beat and downbeat activations (frames, 2) per frame (HOP samples at RATE) of mono `audio`, causally, by
    `model` (default: the one beat_tracker runs; None: the DSP fallback)."""
    return beat_model.activations(beat_model.load(model, RATE, HOP), audio)


@dataclass(frozen=True)
class Track:
    """A causal method's output (s): observed beats and downbeats, and its predictions (time made, next beat
    predicted, beat period assumed)."""

    beats: np.ndarray
    downbeats: np.ndarray
    made: np.ndarray
    predicted: np.ndarray
    periods: np.ndarray


def causal_track(activations: np.ndarray, fps: float = FPS, **options: float) -> Track:
    """The streaming tracker (`BeatTracker(fps, **options)`) on beat and downbeat activations (frames, 2).

    Downbeats: the observed beats `BarTracker` puts first in a bar (none without downbeat activation). The
    estimate after frame t is made once that frame's audio is in, at (t + 1) / fps. Only predictions the
    beat_tracker node would publish count: those with at least the tracker's `min_confidence`.
    """
    tracker, bars = BeatTracker(fps, **options), BarTracker()
    estimates = [tracker.step(value) for value in activations[:, 0]]
    beats = np.array([e.observed for e in estimates if e.observed is not None], dtype=np.float64)
    at_beats = [activations[max(round(b) - 1, 0) : round(b) + 2, 1].max(initial=0.0) for b in beats]
    downbeats = beats[np.array([bars.observe(a) == 1 for a in at_beats], dtype=bool)]
    confident = [e for e in estimates if e.confidence >= tracker.min_confidence]
    made = np.array([e.frame + 1 for e in confident], dtype=np.float64)
    predicted = np.array([e.next_beat for e in confident], dtype=np.float64)
    periods = np.array([60 / e.tempo for e in confident], dtype=np.float64)
    return Track(beats / fps, downbeats / fps, made / fps, predicted / fps, periods)


def causal_beats(activations: np.ndarray, fps: float = FPS) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`causal_track`'s observed beats and downbeats, prediction times and predicted beats (s)."""
    track = causal_track(activations, fps)
    return track.beats, track.downbeats, track.made, track.predicted


def extrapolated(beats: np.ndarray, memory: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Predictions from a causal tracker's beats alone (s): at each beat (made then: zero latency assumed), the
    next one a period later, the period being the median of the last `memory` intervals."""
    beats = np.asarray(beats, dtype=np.float64)
    periods = np.array([np.median(np.diff(beats[max(k - memory, 0) : k + 1])) for k in range(1, beats.size)])
    return beats[1:], beats[1:] + periods, periods


def offline_beats(beat_activation: np.ndarray, fps: float = FPS) -> np.ndarray:
    """Beats (s) of the whole activation decoded at once (`decode_offline`)."""
    return decode_offline(beat_activation, fps) / fps


def librosa_beats(audio: np.ndarray, sample_rate: int = RATE) -> np.ndarray:
    """Beats (s) of `librosa.beat.beat_track` with a hop of 512 samples."""
    import librosa

    _, beats = librosa.beat.beat_track(y=audio, sr=sample_rate, hop_length=512, units='time')
    return np.asarray(beats, dtype=np.float64)


def _essentia() -> Any:
    """essentia.standard, imported on first use, with its info messages off."""
    try:
        import essentia
    except ImportError as error:
        raise RuntimeError(f'essentia is needed for the essentia baseline and is not importable: {error}') from error
    essentia.log.infoActive = False
    import essentia.standard

    return essentia.standard


def essentia_beats(audio: np.ndarray, sample_rate: int = RATE) -> np.ndarray:
    """Beats (s) of essentia's RhythmExtractor2013 ('multifeature'), on the audio resampled to 44100 Hz."""
    common = gcd(ESSENTIA_RATE, sample_rate)
    resampled = resample_poly(audio, ESSENTIA_RATE // common, sample_rate // common)
    extractor = _essentia().RhythmExtractor2013(method='multifeature')
    return np.asarray(extractor(np.ascontiguousarray(resampled, dtype=np.float32))[1], dtype=np.float64)


def _timed(function: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    return function(*args), time.perf_counter() - start


def _metrical(reference: np.ndarray, beats: np.ndarray, performed: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
    """Lock times, octave error after the lock at any level (after SKIP without one) and per-beat bias (ms)."""
    annotated, any_level = lock_times(reference, beats)
    error = octave_error(reference, beats, any_level if np.isfinite(any_level) else SKIP)
    offsets = bias(reference, beats, performed, SKIP)
    means = float(np.mean(offsets)) if offsets.size else np.nan
    return {'lock_annotated_s': annotated, 'lock_any_s': any_level, 'octave_error': error, 'bias_ms': means}, offsets


def evaluate_example(
    example: Example,
    model: str | None = None,
    methods: Sequence[str] = METHODS,
    seconds: float | None = None,
    tracker: dict[str, float] | None = None,
) -> list[Result]:
    """Every method of `methods` on one example's rendered audio (its first `seconds` if given; the annotations
    cut there too); `tracker`: options of the causal `BeatTracker`."""
    audio = load_audio(render(example, RATE), RATE)[:, 0]
    performed = performed_beats(example.beats, note_onsets(example.midi), render_delay(RATE))
    labelled = Labelled(audio, np.asarray(example.beats), np.asarray(example.downbeats), {})
    return evaluate_audio(example.dataset, example.name, labelled, performed, model, methods, seconds, tracker)


def evaluate_rendered(
    dataset: str,
    name: str,
    examples: tuple[Example, ...],
    model: str | None = None,
    methods: Sequence[str] = METHODS,
    seconds: float | None = None,
    tracker: dict[str, float] | None = None,
) -> list[Result]:
    """`evaluate_example` on a POP909 render or a mixture made as the prepared data is (`prepare.rendered`):
    its labels are the performed beats already (the annotated beats plus the SoundFont's render delay)."""
    labelled = prepare.rendered(dataset, name, examples)
    return evaluate_audio(dataset, name, labelled, labelled.beats, model, methods, seconds, tracker)


def evaluate_audio(
    dataset: str,
    name: str,
    labelled: Labelled,
    performed: np.ndarray,
    model: str | None = None,
    methods: Sequence[str] = METHODS,
    seconds: float | None = None,
    tracker: dict[str, float] | None = None,
) -> list[Result]:
    """Every method on `labelled` audio (22050 Hz) against its beats; `performed`: per beat, where its notes sound."""
    audio, reference, downbeat_reference = labelled.audio, labelled.beats, labelled.downbeats
    if seconds:
        audio, keep = audio[: round(seconds * RATE)], reference < seconds
        reference, performed = reference[keep], np.asarray(performed)[keep]
        downbeat_reference = downbeat_reference[downbeat_reference < seconds]
    runs: dict[str, tuple[Any, float]] = {}
    if {'causal', 'offline'} & set(methods):
        beat_activation, shared = _timed(activation, audio, model)
    if 'causal' in methods:
        track, seconds_causal = _timed(lambda a: causal_track(a, **(tracker or {})), beat_activation)
        runs['causal'] = (track, shared + seconds_causal)
    if 'offline' in methods:
        offline, seconds_offline = _timed(offline_beats, beat_activation[:, 0])
        runs['offline'] = (offline, shared + seconds_offline)
    baselines = {'librosa': librosa_beats, 'essentia': essentia_beats, **peers.RUN}
    runs |= {m: _timed(baselines[m], audio) for m in methods if m in baselines and not peers.missing_reason(m)}
    results = []
    for method in methods:
        common = {'dataset': dataset, 'example': name, 'method': method}
        common |= {'duration': len(audio) / RATE, 'n_reference': len(reference)}
        if method not in runs:
            status = peers.missing_reason(method) or 'not run'
            results.append(Result(**common, seconds=np.nan, n_estimated=0, scores={}, status=status))
            continue
        output, run_time = runs[method]
        beats = output.beats if isinstance(output, Track) else output
        measured, offsets = _metrical(reference, beats, performed)
        measured |= scores(reference, beats)
        errors = np.zeros(0)
        if method == 'causal':
            errors = prediction_errors(reference, output.made, output.predicted, periods=output.periods)
            has_downbeats = len(downbeat_reference) > 0 and beat_activation[:, 1].any()
            trim = mir_eval.beat.trim_beats
            downbeat_f = mir_eval.beat.f_measure(trim(downbeat_reference), trim(output.downbeats))
            measured['downbeat_f_measure'] = float(downbeat_f) if has_downbeats else np.nan
        elif method in PREDICTING:
            made, predicted, periods = extrapolated(beats)
            errors = prediction_errors(reference, made, predicted, periods=periods)
        if method in PREDICTING:
            measured |= error_summary(errors)
        results.append(
            Result(**common, seconds=run_time, n_estimated=len(beats), scores=measured, errors=errors, bias=offsets)
        )
    return results


def select(
    dataset: str, split: str = 'test', limit: int | None = None, all_performances: bool = False
) -> list[Example] | list[tuple[str, tuple[Example, ...]]]:
    """The examples to evaluate, at most `limit`: ASAP's first performance per score folder unless all asked;
    POP909 renders and mixtures: (name, examples) of `prepare.evaluation_audio` (`TEST_RENDERS` without a limit)."""
    if dataset in RENDERED:
        return prepare.evaluation_audio(dataset, split, limit or TEST_RENDERS)
    chosen = examples(dataset=dataset, split=split)
    return (chosen if all_performances else one_per_folder(chosen))[:limit]


def evaluate(
    datasets: Sequence[str] = ANNOTATED,
    split: str = 'test',
    model: str | None = None,
    limit: int | None = None,
    all_performances: bool = False,
    progress: bool = True,
    methods: Sequence[str] = METHODS,
    seconds: float | None = None,
    tracker: dict[str, float] | None = None,
) -> list[Result]:
    """One Result per (example, method) of the `split` of each data set; see `select` for the examples and
    `evaluate_example` for `methods`, `seconds` and `tracker`. A peer that is not installed gets Results with
    that status, not an error."""
    if unknown := [name for name in datasets if name not in DATASETS]:
        raise ValueError(f'unknown data set {", ".join(unknown)}; expected {" or ".join(DATASETS)}')
    if split not in SPLITS:
        raise ValueError(f'unknown split {split!r}; expected one of {", ".join(SPLITS)}')
    if unknown := [name for name in methods if name not in METHODS]:
        raise ValueError(f'unknown method {", ".join(unknown)}; expected some of {", ".join(METHODS)}')
    if model and (missing := [name for name in model.split(',') if not Path(name.strip()).is_file()]):
        raise FileNotFoundError(f'no beat model at {", ".join(missing)}')
    beat_model.load(model, RATE, HOP)  # fail before the long run: a bad model, or essentia missing
    if 'essentia' in methods:
        _essentia()
    if split != 'test' and set(datasets) & set(RENDERED):
        raise ValueError(f'{" and ".join(RENDERED)} are evaluated on the test split only')
    chosen = {name: select(name, split, limit, all_performances) for name in datasets}
    if not any(chosen.values()):
        raise ValueError(f'no {split} examples to evaluate in {", ".join(datasets) or "no data set"}')
    results = []
    for name, selection in chosen.items():
        bar = Progress(f'eval-beats {name}', len(selection)) if progress else None
        for done, example in enumerate(selection, 1):
            if name in RENDERED:
                results += evaluate_rendered(name, *example, model, methods, seconds, tracker)
            else:
                results += evaluate_example(example, model, methods, seconds, tracker)
            if bar:
                bar.show(done)
        if bar:
            bar.close()
    return results
