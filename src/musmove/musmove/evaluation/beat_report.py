"""The report of `musmove eval-beats`: a Markdown table per split, a CSV of every file and method, and plots."""

import csv
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from musmove.evaluation.beats import ERRORS, HORIZON, METHODS, METRICAL, PREDICTING, RATE, SCORES, Result, error_summary
from musmove.evaluation.performed import render_delay

LOCK_WITHIN = 3.0  # s: the target, lock within this on 90 % of the files


def _percent(values: Iterable[float]) -> str:
    values = [v for v in values if not np.isnan(v)]
    return f'{100 * np.mean(values):.1f}' if values else '-'


def _number(value: float) -> str:
    return '-' if np.isnan(value) else f'{value:.1f}'


def _seconds(values: list[float]) -> str:
    """Median over files (s); a file that never locks counts as later than any."""
    median = float(np.median(values))
    return 'never' if np.isinf(median) else f'{median:.1f}'


COLUMNS = (
    'F-measure',
    'CMLt',
    'AMLt',
    'P-score',
    'lock, annotated (s)',
    'lock, any level (s)',
    f'locked ≤ {LOCK_WITHIN:.0f} s, any level (%)',
    'octave errors (%)',
    'bias vs notes (ms)',
    'pred. median \\|err\\| (ms)',
    'pred. mean err (ms)',
    'predicted (%)',
    'downbeat F',
)


def _cells(rows: list[Result], method: str) -> list[str]:
    cells = [_percent(r.scores[name] for r in rows) for name in SCORES]
    annotated = [r.scores['lock_annotated_s'] for r in rows]
    any_level = [r.scores['lock_any_s'] for r in rows]
    cells += [_seconds(annotated), _seconds(any_level), _percent(float(t <= LOCK_WITHIN) for t in any_level)]
    cells += [_percent(r.scores['octave_error'] for r in rows)]
    offsets = np.concatenate([r.bias for r in rows])
    cells += [_number(float(np.mean(offsets))) if offsets.size else '-']
    if method in PREDICTING:
        errors = error_summary(np.concatenate([r.errors for r in rows]))
        cells += [_number(errors['median_abs_error_ms']), _number(errors['mean_error_ms'])]
        cells += [_number(100 * errors['coverage'])]
    else:
        cells += ['-'] * 3
    downbeat = [r.scores.get('downbeat_f_measure', np.nan) for r in rows]
    cells += ['-' if np.isnan(downbeat).all() else _percent(np.nan_to_num(downbeat))]
    return cells


def table(results: list[Result]) -> list[str]:
    """Markdown table rows: per data set and method, means over files (%), median lock times, pooled errors."""
    lines = [f'| data set | method | n | {" | ".join(COLUMNS)} |', f'| --- | --- | ---: |{" ---: |" * len(COLUMNS)}']
    for dataset in dict.fromkeys(r.dataset for r in results):
        for method in METHODS:
            rows = [r for r in results if r.dataset == dataset and r.method == method]
            if not rows:
                continue
            if status := next((r.status for r in rows if r.status), ''):
                cells = [status.split(' (')[0]] + [''] * (len(COLUMNS) - 1)
            else:
                cells = _cells(rows, method)
            lines.append(f'| {dataset} | {method} | {len(rows)} | {" | ".join(cells)} |')
    return lines


def model_label(model: str | None) -> str:
    """'Beat model: NAME' for one model, the mean of a comma-separated list, or the DSP fallback."""
    if not model:
        return 'Beat model: DSP fallback (normalised spectral-flux onset strength)'
    names = [Path(m).name for m in model.split(',')]
    return f'Beat model: {names[0]}' if len(names) == 1 else f'Beat models: the mean of {" and ".join(names)}'


def markdown(results: list[Result], model: str | None = None, split: str = 'test', seconds: float | None = None) -> str:
    """The report: what was measured, then `table`."""
    datasets = dict.fromkeys(r.dataset for r in results)
    counts = ', '.join(
        f'{d} {sum(r.dataset == d and r.method == results[0].method for r in results)}' for d in datasets
    )
    excerpt = f'the first {seconds:g} s of each file' if seconds else 'whole files'
    missing = sorted({r.status for r in results if r.status})
    header = [
        f'# Beat tracking, {split} split',
        '',
        f'{model_label(model)}. '
        f'Files: {counts} ({excerpt}); audio rendered from MIDI with fluidsynth at {RATE} Hz: Groove and ASAP '
        'dry with FluidR3_GM; pop909 (test-split arrangements with General MIDI instruments per track) and mix '
        '(full-band mixtures of a test Groove performance and a test POP909 song warped onto it: an augmentation, '
        'no band played them) as the prepared training data is made (`musmove.training.prepare.rendered`: one '
        'of three SoundFonts, room, microphone, noise, compression, band-limiting, tempo change).',
        '',
        'Reference: the annotated beats (Groove: the metronome the drummer heard; ASAP: the hand-annotated '
        'performed beats; pop909: the felt beats of the MIDI annotation, at the metrical level of '
        "`musmove.training.pop909`, plus the render delay; mix: the drummer's performed beats plus the render "
        'delay). Scores: mir_eval means over files (%): F-measure (±70 ms), CMLt, AMLt, P-score; beats '
        'in the first 5 s ignored. Causal: the streaming tracker; offline: Viterbi decoding of the same '
        'activations; librosa: `beat.beat_track`; essentia: `RhythmExtractor2013` (multifeature); madmom and '
        'BeatNet: `musmove.evaluation.peers`. Lock: the reference time of the first of 4 consecutive reference '
        'beats matched one to one by 4 consecutive beats within ±70 ms, at the annotated level or at any of '
        'twice, three times, half, a third of the tempo or the off-beats (median over files, from the start of '
        'the audio; "never" when most files never lock). Octave errors: the share of files whose median beat '
        'interval after the lock at any level (after 5 s without one) is at another metrical level than the '
        "reference's (ratio beyond sqrt(3/2)). Bias vs notes: the method's beats minus the performed beat (the "
        'onset of the MIDI note nearest each reference beat, within 70 ms, plus the render delay of '
        f'{1000 * render_delay(RATE):.1f} ms measured by rendering clicks; pop909 and mix: their reference), '
        'pooled mean over the beats after 5 s '
        'with a method beat within 70 ms. Prediction error, causal methods only, pooled over the beats after 5 s: '
        f'the latest next-beat prediction made at least {1000 * HORIZON:.0f} ms before a beat, within half an '
        'inter-beat interval of it and at the annotated metrical level (its period within a factor sqrt(3/2) '
        "of the reference's; `musmove.evaluation.beats.prediction_errors`); for madmom and BeatNet online the "
        'prediction is extrapolated from their beats (each beat plus the median of the last 4 intervals, made '
        'at the beat itself); predicted: the share of beats that had one. Downbeat F: mir_eval F-measure of the '
        "causal downbeats (`BarTracker` on the model's downbeat activation; none from the DSP fallback).",
        '',
        *(f'Not run: {status}' for status in missing),
        *([''] if missing else []),
    ]
    return '\n'.join([*header, *table(results)]) + '\n'


def write_csv(results: list[Result], path: Path) -> None:
    """One row per file and method: durations, beat counts, scores, lock times, bias and prediction errors."""
    names = (*SCORES, *METRICAL, *ERRORS)
    columns = ['dataset', 'example', 'method', 'status', 'duration_s', 'seconds', 'n_reference', 'n_estimated', *names]
    with path.open('w', newline='') as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        for r in results:
            values = [f'{r.scores[name]:.6g}' if name in r.scores else '' for name in names]
            row = [r.dataset, r.example, r.method, r.status, f'{r.duration:.3f}', f'{r.seconds:.3f}']
            writer.writerow([*row, r.n_reference, r.n_estimated, *values])


def plot(results: list[Result], out_dir: Path) -> list[Path]:
    """F-measure box plots per method and data set; histograms of the causal prediction errors."""
    from matplotlib.figure import Figure  # no pyplot: rendered with Agg, no display needed

    datasets = list(dict.fromkeys(r.dataset for r in results))
    ran = [r for r in results if not r.status]
    boxes = Figure(figsize=(max(4, 0.6 * len(METHODS)) * len(datasets), 3.8), layout='constrained')
    histograms = Figure(figsize=(4 * len(datasets), 3.5), layout='constrained')
    for i, dataset in enumerate(datasets):
        axes = boxes.add_subplot(1, len(datasets), i + 1)
        methods = [m for m in METHODS if any(r.dataset == dataset and r.method == m for r in ran)]
        values = [[100 * r.scores['f_measure'] for r in ran if r.dataset == dataset and r.method == m] for m in methods]
        axes.boxplot(values, tick_labels=methods)
        axes.tick_params(axis='x', labelrotation=45)
        axes.set(title=dataset, ylabel='F-measure (%)', ylim=(0, 100))
        errors = np.concatenate(
            [np.zeros(0), *(r.errors for r in ran if r.dataset == dataset and r.method == 'causal')]
        )
        errors = errors[~np.isnan(errors)]
        outside = int(np.sum(np.abs(errors) > 300))
        axes = histograms.add_subplot(1, len(datasets), i + 1)
        axes.hist(errors, bins=np.arange(-300, 301, 10))
        axes.set(title=f'{dataset}: {errors.size} beats, {outside} beyond ±300 ms', xlabel='predicted - beat (ms)')
    paths = [out_dir / 'beat_eval_f_measure.png', out_dir / 'beat_eval_prediction_error.png']
    for figure, path in zip((boxes, histograms), paths, strict=True):
        figure.savefig(path, dpi=100)
    return paths


def write_report(
    results: list[Result],
    out_dir: str | Path,
    model: str | None = None,
    split: str = 'test',
    seconds: float | None = None,
) -> str:
    """Write beat_eval.md, beat_eval.csv and the plots into `out_dir`; return the Markdown."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = markdown(results, model, split, seconds)
    (out_dir / 'beat_eval.md').write_text(text)
    write_csv(results, out_dir / 'beat_eval.csv')
    plot(results, out_dir)
    return text
