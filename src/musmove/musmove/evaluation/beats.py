"""Beat tracking evaluation on the annotated data sets: our causal and offline modes against librosa and essentia.

Every method runs on the same audio, each example's MIDI rendered by `musmove.training.beat_data.render` at 22050 Hz:

- causal: `musmove.beat.model` activations streamed through `BeatTracker`, its observed beats;
- offline: the same activations decoded at once by `decode_offline` (Viterbi, non-causal);
- librosa: `librosa.beat.beat_track` (dynamic programming over the onset envelope, offline);
- essentia: essentia's `RhythmExtractor2013` ('multifeature', offline) on the audio resampled to 44100 Hz.

`scores` gives mir_eval's beat scores; `prediction_errors` measures how well the causal tracker's next-beat
predictions, the times a robot moves to, anticipate the beats. `evaluate` runs all methods over a split and
`write_report` writes a Markdown table, a CSV of every file and method, and plots.
"""

import csv
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from math import gcd
from pathlib import Path
from typing import Any

import mir_eval
import numpy as np
from scipy.signal import resample_poly

from musmove.beat import model as beat_model
from musmove.beat.tracking import BarTracker, BeatTracker, decode_offline
from musmove.progress import Progress
from musmove.sources.audio import load_audio
from musmove.training.beat_data import DATASETS, SPLITS, Example, examples, one_per_folder, render

RATE, HOP = 22050, 512
FPS = RATE / HOP
ESSENTIA_RATE = 44100
METHODS = ('causal', 'offline', 'librosa', 'essentia')
SCORES = ('f_measure', 'cmlt', 'amlt', 'p_score')
ERRORS = ('downbeat_f_measure', 'median_abs_error_ms', 'mean_error_ms', 'coverage')
HORIZON = 0.1  # s: a robot's command latency
SKIP = 5.0  # s: beats before this are not scored (mir_eval.beat.trim_beats)


@dataclass(frozen=True, eq=False)
class Result:
    """One method on one example: scores (fractions; the causal method adds the prediction errors) and run time."""

    dataset: str
    example: str
    method: str
    duration: float  # s of audio
    seconds: float  # run time of the method on the audio (the causal and offline modes both count the activations)
    n_reference: int
    n_estimated: int
    scores: dict[str, float]
    errors: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)  # causal: ms per scored beat, NaN: none


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
    reference: np.ndarray, made: np.ndarray, predicted: np.ndarray, horizon: float = HORIZON
) -> np.ndarray:
    """Error (ms) of the prediction a robot with latency `horizon` (s) acts on, per reference beat after 5 s.

    A prediction is a pair (time it was made, predicted beat time), `made` increasing. For a reference beat b
    whose shorter interval to a neighbouring reference beat is d, the prediction used is the latest one made at
    or before b - `horizon` whose predicted time p satisfies |p - b| <= d / 2; the error is p - b. Beats before
    5 s (as in `scores`) are left out; a beat with no such prediction gets NaN.
    """
    reference = np.asarray(reference, dtype=np.float64)
    intervals = np.diff(reference)
    half = 0.5 * np.minimum(np.append(np.inf, intervals), np.append(intervals, np.inf))
    errors = np.full(len(reference), np.nan)
    for i, beat in enumerate(reference):
        known = np.searchsorted(made, beat - horizon, side='right')
        near = np.flatnonzero(np.abs(predicted[:known] - beat) <= half[i])
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


def activation(audio: np.ndarray, model: str | None = None) -> np.ndarray:
    """Beat and downbeat activations (frames, 2) per frame (HOP samples at RATE) of mono `audio`, causally."""
    return beat_model.activations(beat_model.load(model, RATE, HOP), audio)


def causal_beats(activations: np.ndarray, fps: float = FPS) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The streaming tracker's observed beats and downbeats (s), and its predictions: times made and next beats
    predicted (s). Downbeats: the observed beats `BarTracker` puts first in a bar (none without downbeat activation).

    The estimate after frame t is made once that frame's audio is in, at (t + 1) / fps. Only predictions the
    beat_tracker node would publish count: those with at least the tracker's `min_confidence`.
    """
    tracker, bars = BeatTracker(fps), BarTracker()
    estimates = [tracker.step(value) for value in activations[:, 0]]
    beats = np.array([e.observed for e in estimates if e.observed is not None], dtype=np.float64)
    at_beats = [activations[max(round(b) - 1, 0) : round(b) + 2, 1].max(initial=0.0) for b in beats]
    downbeats = beats[np.array([bars.observe(a) == 1 for a in at_beats], dtype=bool)]
    confident = [e for e in estimates if e.confidence >= tracker.min_confidence]
    made = np.array([e.frame + 1 for e in confident], dtype=np.float64)
    predicted = np.array([e.next_beat for e in confident], dtype=np.float64)
    return beats / fps, downbeats / fps, made / fps, predicted / fps


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


def evaluate_example(example: Example, model: str | None = None) -> list[Result]:
    """Every method in METHODS on one example's rendered audio."""
    audio = load_audio(render(example, RATE), RATE)[:, 0]
    beat_activation, shared = _timed(activation, audio, model)
    (causal, downbeats, made, predicted), causal_time = _timed(causal_beats, beat_activation)
    offline, offline_time = _timed(offline_beats, beat_activation[:, 0])
    runs = {
        'causal': (causal, shared + causal_time),
        'offline': (offline, shared + offline_time),
        'librosa': _timed(librosa_beats, audio),
        'essentia': _timed(essentia_beats, audio),
    }
    errors = prediction_errors(example.beats, made, predicted)
    has_downbeats = len(example.downbeats) > 0 and beat_activation[:, 1].any()
    trim = mir_eval.beat.trim_beats
    downbeat_f = mir_eval.beat.f_measure(trim(example.downbeats), trim(downbeats)) if has_downbeats else np.nan
    return [
        Result(
            dataset=example.dataset,
            example=example.name,
            method=method,
            duration=len(audio) / RATE,
            seconds=seconds,
            n_reference=len(example.beats),
            n_estimated=len(beats),
            scores=scores(example.beats, beats)
            | ({'downbeat_f_measure': float(downbeat_f), **error_summary(errors)} if method == 'causal' else {}),
            errors=errors if method == 'causal' else np.zeros(0),
        )
        for method, (beats, seconds) in runs.items()
    ]


def select(
    dataset: str, split: str = 'test', limit: int | None = None, all_performances: bool = False
) -> list[Example]:
    """The examples to evaluate, at most `limit`: ASAP's first performance per score folder unless all asked."""
    chosen = examples(dataset=dataset, split=split)
    return (chosen if all_performances else one_per_folder(chosen))[:limit]


def evaluate(
    datasets: Sequence[str] = DATASETS,
    split: str = 'test',
    model: str | None = None,
    limit: int | None = None,
    all_performances: bool = False,
    progress: bool = True,
) -> list[Result]:
    """One Result per (example, method) of the `split` of each data set; see `select` for the examples."""
    if unknown := [name for name in datasets if name not in DATASETS]:
        raise ValueError(f'unknown data set {", ".join(unknown)}; expected {" or ".join(DATASETS)}')
    if split not in SPLITS:
        raise ValueError(f'unknown split {split!r}; expected one of {", ".join(SPLITS)}')
    if model and not Path(model).is_file():
        raise FileNotFoundError(f'no beat model at {model}')
    beat_model.load(model, RATE, HOP)  # fail before the long run: a bad model, or essentia missing
    _essentia()
    chosen = {name: select(name, split, limit, all_performances) for name in datasets}
    if not any(chosen.values()):
        raise ValueError(f'no {split} examples to evaluate in {", ".join(datasets) or "no data set"}')
    results = []
    for name, selection in chosen.items():
        bar = Progress(f'eval-beats {name}', len(selection)) if progress else None
        for done, example in enumerate(selection, 1):
            results += evaluate_example(example, model)
            if bar:
                bar.show(done)
        if bar:
            bar.close()
    return results


def _percent(values: Iterable[float]) -> str:
    return f'{100 * np.mean(list(values)):.1f}'


def _number(value: float) -> str:
    return '-' if np.isnan(value) else f'{value:.1f}'


def table(results: list[Result]) -> list[str]:
    """Markdown table rows: per data set and method, mean scores over files (%) and pooled prediction errors."""
    lines = [
        '| data set | method | n | F-measure | CMLt | AMLt | P-score | pred. median \\|err\\| (ms) '
        '| pred. mean err (ms) | predicted (%) | downbeat F |',
        '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ]
    for dataset in dict.fromkeys(r.dataset for r in results):
        for method in METHODS:
            rows = [r for r in results if r.dataset == dataset and r.method == method]
            if not rows:
                continue
            cells = [_percent(r.scores[name] for r in rows) for name in SCORES]
            errors = error_summary(np.concatenate([r.errors for r in rows]))
            if method == 'causal':
                cells += [_number(errors['median_abs_error_ms']), _number(errors['mean_error_ms'])]
                cells += [_number(100 * errors['coverage'])]
                downbeat = [r.scores['downbeat_f_measure'] for r in rows]
                cells += ['-' if np.isnan(downbeat).all() else _percent(np.nan_to_num(downbeat))]
            else:
                cells += ['-'] * 4
            lines.append(f'| {dataset} | {method} | {len(rows)} | {" | ".join(cells)} |')
    return lines


def markdown(results: list[Result], model: str | None = None, split: str = 'test') -> str:
    """The report: what was measured, then `table`."""
    datasets = dict.fromkeys(r.dataset for r in results)
    counts = ', '.join(f'{d} {sum(r.dataset == d and r.method == METHODS[0] for r in results)}' for d in datasets)
    header = [
        f'# Beat tracking, {split} split',
        '',
        f'Beat model: {Path(model).name if model else "DSP fallback (normalised spectral-flux onset strength)"}. '
        f'Files: {counts}; audio rendered from MIDI with fluidsynth at {RATE} Hz.',
        '',
        'Scores: mir_eval means over files (%): F-measure (±70 ms), CMLt, AMLt, P-score; beats in the first 5 s '
        'ignored. Causal: the streaming tracker; offline: Viterbi decoding of the same activations; librosa: '
        '`beat.beat_track`; essentia: `RhythmExtractor2013` (multifeature). Prediction error, causal only, pooled '
        f'over the beats after 5 s: the latest next-beat prediction made at least {1000 * HORIZON:.0f} ms before '
        'a beat and within half an inter-beat interval of it (`musmove.evaluation.beats.prediction_errors`); '
        'predicted: the share of beats that had one. Downbeat F: mir_eval F-measure of the causal downbeats '
        "(`BarTracker` on the model's downbeat activation; none from the DSP fallback).",
        '',
    ]
    return '\n'.join([*header, *table(results)]) + '\n'


def write_csv(results: list[Result], path: Path) -> None:
    """One row per file and method: durations, beat counts, scores and (causal) prediction errors."""
    columns = ['dataset', 'example', 'method', 'duration_s', 'seconds', 'n_reference', 'n_estimated', *SCORES, *ERRORS]
    with path.open('w', newline='') as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        for r in results:
            values = [f'{r.scores[name]:.6g}' if name in r.scores else '' for name in (*SCORES, *ERRORS)]
            row = [
                r.dataset,
                r.example,
                r.method,
                f'{r.duration:.3f}',
                f'{r.seconds:.3f}',
                r.n_reference,
                r.n_estimated,
            ]
            writer.writerow([*row, *values])


def plot(results: list[Result], out_dir: Path) -> list[Path]:
    """F-measure box plots per method and data set; histograms of the causal prediction errors."""
    from matplotlib.figure import Figure  # no pyplot: rendered with Agg, no display needed

    datasets = list(dict.fromkeys(r.dataset for r in results))
    boxes = Figure(figsize=(4 * len(datasets), 3.5), layout='constrained')
    histograms = Figure(figsize=(4 * len(datasets), 3.5), layout='constrained')
    for i, dataset in enumerate(datasets):
        axes = boxes.add_subplot(1, len(datasets), i + 1)
        methods = [m for m in METHODS if any(r.dataset == dataset and r.method == m for r in results)]
        values = [
            [100 * r.scores['f_measure'] for r in results if r.dataset == dataset and r.method == m] for m in methods
        ]
        axes.boxplot(values, tick_labels=methods)
        axes.set(title=dataset, ylabel='F-measure (%)', ylim=(0, 100))
        errors = np.concatenate([r.errors for r in results if r.dataset == dataset and r.method == 'causal'])
        errors = errors[~np.isnan(errors)]
        outside = int(np.sum(np.abs(errors) > 300))
        axes = histograms.add_subplot(1, len(datasets), i + 1)
        axes.hist(errors, bins=np.arange(-300, 301, 10))
        axes.set(title=f'{dataset}: {errors.size} beats, {outside} beyond ±300 ms', xlabel='predicted - beat (ms)')
    paths = [out_dir / 'beat_eval_f_measure.png', out_dir / 'beat_eval_prediction_error.png']
    for figure, path in zip((boxes, histograms), paths, strict=True):
        figure.savefig(path, dpi=100)
    return paths


def write_report(results: list[Result], out_dir: str | Path, model: str | None = None, split: str = 'test') -> str:
    """Write beat_eval.md, beat_eval.csv and the plots into `out_dir`; return the Markdown."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = markdown(results, model, split)
    (out_dir / 'beat_eval.md').write_text(text)
    write_csv(results, out_dir / 'beat_eval.csv')
    plot(results, out_dir)
    return text
