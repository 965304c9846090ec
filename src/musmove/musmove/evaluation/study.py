"""`musmove study`: the five-architecture comparison (the seed paper's Table 2) on public data, as docs/results.md.

Beat alignment and synchronization error come from running each exported beat model frame by frame
(onnxruntime) on the cached log-mel features of the test splits and tracking its activation causally
(`musmove.evaluation.beats`); gesture-phase figures are the nested leave-one-subject-out results carried by
each gesture model's card; parameters and per-frame latency from the ONNX files themselves. The multimodal rows
run each beat model on the real dancers of dance-melody with their songs, alone and with the dancer's movement
(`musmove.evaluation.partner.fused`, late fusion), kept in docs/results/dance.json.
"""

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from musmove.beat import tracking
from musmove.evaluation import beats as beat_evaluation
from musmove.evaluation.beats import causal_beats, prediction_errors, scores
from musmove.evaluation.session import confusion_figure
from musmove.models import StreamingModel, load_card
from musmove.progress import Progress
from musmove.training import STUDY

LABELS = {'cnn': 'CNN', 'rnn': 'RNN', 'lstm': 'LSTM', 'cnn_lstm': 'CNN-LSTM', 'transformer': 'Transformer'}
LABELS |= {'crnn': 'CRNN (beat_crnn, in the shipped mean)', 'crnn2': 'CRNN2 (beat_crnn2, in the shipped mean)'}
ROWS = (*STUDY, 'crnn', 'crnn2')  # the study's five, then the two models the default beat_tracker averages
SCORING = hashlib.sha256(b''.join(Path(m.__file__).read_bytes() for m in (tracking, beat_evaluation))).hexdigest()[:16]
ABLATION = {'mocap only': ('position', 'velocity', 'speed'), 'virtual IMU only': ('acceleration',)}


def latency_ms(model: StreamingModel, frames: int = 2000) -> float:
    """Median wall time [ms] of one step on random features (one onnxruntime thread)."""
    rng = np.random.default_rng(0)
    times = []
    for row in rng.standard_normal((frames, model.size)).astype(np.float32):
        began = time.perf_counter()
        model(row)
        times.append(time.perf_counter() - began)
    model.reset()
    return 1e3 * float(np.median(times))


def beat_figures(path: Path, tracks: list) -> dict[str, Any]:
    """Causal beat F-measure per track and the pooled prediction errors of `path` on `tracks`."""
    model = StreamingModel(path, task='beat')
    f_measures, errors = [], []
    progress = Progress(f'{path.stem} on {len(tracks)} test tracks', len(tracks))
    for done, track in enumerate(tracks, 1):
        model.reset()
        activations = np.array([model(row) for row in track.features])
        beats, _, made, predicted = causal_beats(activations)
        f_measures.append(scores(track.beats, beats)['f_measure'])
        errors.append(prediction_errors(track.beats, made, predicted))
        progress.show(done)
    progress.close()
    pooled = np.concatenate(errors)
    hit = np.abs(pooled[~np.isnan(pooled)])
    return {
        'tracks': len(tracks),
        'f_measure_mean': float(np.mean(f_measures)),
        'f_measure_std': float(np.std(f_measures)),
        'sync_error_median_ms': float(np.median(hit)),
        'sync_error_mean_abs_ms': float(np.mean(hit)),
        'predicted_share': float(hit.size / pooled.size),
        'parameters': model.card['parameters'],
        'sha256': model.card['sha256'],
        'scoring': SCORING,
        'latency_ms': latency_ms(model),
    }


def gesture_figures(path: Path) -> dict[str, Any]:
    """The cross-validated figures of a gesture model's card, with its size and per-frame latency."""
    card = load_card(path, task='gesture')
    validated = card['metrics']['cross_validation']
    return {
        **{key: validated[key] for key in ('accuracy_mean', 'accuracy_std', 'macro_f1_mean', 'macro_f1_std')},
        'folds': validated['folds'],
        'parameters': card['parameters'],
        'latency_ms': latency_ms(StreamingModel(path, task='gesture')),
    }


def evaluate(
    models: Path, datasets: tuple[str, ...] = ('groove', 'asap'), limit: int | None = None, earlier: dict | None = None
) -> dict:
    """Every study model in `models`: {'beat': {arch: figures}, 'gesture': {arch: figures}}.

    Beat figures in `earlier` (a previous result) are kept for a model file, test set and scoring code (the
    tracker's and the evaluation's source) that did not change.
    """
    from musmove.training.beats import tracks  # the cached test-split features (no torch needed)

    test = {dataset: tracks('test', (dataset,), limit) for dataset in datasets}
    results: dict[str, dict] = {'beat': {}, 'gesture': {}}
    for arch in ROWS:
        if (path := models / f'beat_{arch}.onnx').exists():
            results['beat'][arch] = {}
            for dataset, chosen in test.items():
                before = (earlier or {}).get('beat', {}).get(arch, {}).get(dataset, {})
                kept = {'sha256': load_card(path)['sha256'], 'tracks': len(chosen), 'scoring': SCORING}
                same = all(before.get(key) == value for key, value in kept.items())
                results['beat'][arch][dataset] = before if same else beat_figures(path, chosen)
                results['beat'][arch][dataset]['latency_ms'] = latency_ms(StreamingModel(path))  # measured now
        if (path := models / f'gesture_{arch}.onnx').exists():
            results['gesture'][arch] = gesture_figures(path)
    return results


def _pm(mean: float, std: float, scale: float = 100.0) -> str:
    return f'{scale * mean:.1f} ± {scale * std:.1f}'


def table(results: dict, dataset: str) -> list[str]:
    """The Table-2 layout: one row per architecture."""
    lines = [
        f'| model | beat F-measure, {dataset} (%) | sync error (ms) | gesture accuracy (%) | gesture macro-F1 (%) '
        '| parameters (beat / gesture) | ONNX latency per frame (ms, beat / gesture) |',
        '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ]
    for arch in ROWS:
        beat = results['beat'].get(arch, {}).get(dataset)
        gesture = results['gesture'].get(arch)
        if beat is None and gesture is None:
            continue
        cells = [
            _pm(beat['f_measure_mean'], beat['f_measure_std']) if beat else '-',
            f'{beat["sync_error_median_ms"]:.1f}' if beat else '-',
            _pm(gesture['accuracy_mean'], gesture['accuracy_std']) if gesture else '-',
            _pm(gesture['macro_f1_mean'], gesture['macro_f1_std']) if gesture else '-',
            f'{beat["parameters"] if beat else "-"} / {gesture["parameters"] if gesture else "-"}',
            f'{beat["latency_ms"]:.3f}' if beat else '-',
        ]
        cells[-1] += f' / {gesture["latency_ms"]:.3f}' if gesture else ' / -'
        lines.append(f'| {LABELS[arch]} | {" | ".join(cells)} |')
    return lines


def ablation_table(ablation: dict) -> list[str]:
    lines = ['| input | accuracy (%) | macro-F1 (%) | macro-F1 per fold (A, B, C; %) |', '| --- | ---: | ---: | --- |']
    for name, cv in ablation['inputs'].items():
        folds = ' / '.join(f'{100 * fold["macro_f1"]:.1f}' for fold in cv['folds'])
        accuracy, macro_f1 = _pm(cv['accuracy_mean'], cv['accuracy_std']), _pm(cv['macro_f1_mean'], cv['macro_f1_std'])
        lines.append(f'| {name} | {accuracy} | {macro_f1} | {folds} |')
    return lines


def plot(results: dict, out: Path) -> list[Path]:
    """Per-fold gesture macro-F1 and beat F-measure per architecture; the best gesture model's confusion matrix."""
    from matplotlib.figure import Figure

    archs = [a for a in STUDY if a in results['gesture'] or a in results['beat']]
    figure = Figure(figsize=(10, 3.8), layout='constrained')
    axes = figure.add_subplot(1, 2, 1)
    for k, arch in enumerate(archs):
        folds = [100 * f['macro_f1'] for f in results['gesture'].get(arch, {}).get('folds', [])]
        axes.scatter([k] * len(folds), folds, color='grey', s=15)
        if folds:
            axes.bar(k, np.mean(folds), alpha=0.6)
    axes.set(xticks=range(len(archs)), ylabel='macro-F1 (%)', title='gesture phase, leave-one-subject-out')
    axes.set_xticklabels([LABELS[a] for a in archs], rotation=20)
    axes = figure.add_subplot(1, 2, 2)
    datasets = sorted({d for figures in results['beat'].values() for d in figures})
    for j, dataset in enumerate(datasets):
        values = [100 * results['beat'].get(a, {}).get(dataset, {}).get('f_measure_mean', np.nan) for a in archs]
        axes.bar(np.arange(len(archs)) + 0.4 * j - 0.2, values, width=0.4, label=dataset)
    axes.set(xticks=range(len(archs)), ylabel='causal F-measure (%)', title='beat alignment, test splits')
    axes.set_xticklabels([LABELS[a] for a in archs], rotation=20)
    axes.legend()
    paths = [out / 'study.png']
    figure.savefig(paths[0], dpi=100)
    if results['gesture']:
        best = max(results['gesture'], key=lambda a: results['gesture'][a]['macro_f1_mean'])
        confusion = sum(np.array(f['confusion']) for f in results['gesture'][best]['folds'])
        paths.append(out / 'gesture_confusion.png')
        title = f'{LABELS[best]}: frames per annotated phase (%), 3 folds'
        confusion_figure(confusion, title=title).savefig(paths[-1], dpi=100)
    return paths


BEGIN, END = '<!-- musmove study: begin -->', '<!-- musmove study: end -->'


DANCE_CONDITIONS = ('audio', 'both', 'audio_masked', 'both_masked')


def dance_figures(models: Path, offsets: dict[str, dict[str, str]]) -> dict:
    """Each beat model on the trusted dance-melody sequences, audio alone and with the dancer, clear and masked:
    causal F and the predicted beats' error and coverage per sequence, and the movement alone's."""
    from musmove.evaluation.partner import MASK, fused, movement_track, prediction_error, spans, trusted_runs
    from musmove.evaluation.partner import f_measure as partner_f
    from musmove.sources.dance import BEATS_PER_BAR, REFERENCE_METHOD

    runs, event_phase = trusted_runs(offsets)
    results: dict[str, Any] = {'reference': REFERENCE_METHOD, 'mask_s': list(MASK), 'event_phase': event_phase}
    results['splits'] = {run.seq.name: run.seq.split for run in runs}

    def figures(run, track) -> dict[str, float]:
        whole, _ = spans(run)
        error, coverage = prediction_error(run, track, whole)
        return {'f_measure': partner_f(run, track, whole), 'error_ms': error, 'coverage': coverage}

    moved = {run.seq.name: movement_track(run, BEATS_PER_BAR[run.seq.dance], event_phase)[0] for run in runs}
    results['movement'] = {run.seq.name: figures(run, moved[run.seq.name]) for run in runs}
    results['models'] = {}
    for arch in ROWS:
        if not (path := models / f'beat_{arch}.onnx').exists():
            continue
        progress = Progress(f'{path.stem} with the dancers', len(runs))
        per = {}
        for done, run in enumerate(runs, 1):
            tracks = fused(run, event_phase, str(path))
            per[run.seq.name] = {condition: figures(run, tracks[condition]) for condition in DANCE_CONDITIONS}
            progress.show(done)
        progress.close()
        results['models'][arch] = {'sha256': load_card(path)['sha256'], 'sequences': per}
    return results


def dance_table(dance: dict, split: str | None) -> list[str]:
    """One row per beat model (and the movement alone): means over the trusted sequences (of `split`)."""
    names = [name for name, s in dance['splits'].items() if split is None or s == split]

    def cells(per: dict, conditions: tuple[str, ...]) -> list[str]:
        def mean(condition: str, key: str) -> float:
            values = np.array([per[n][condition][key] for n in names], dtype=float)
            return float(np.nanmean(values)) if np.isfinite(values).any() else np.nan

        f = [f'{100 * mean(c, "f_measure"):.1f}' for c in conditions]
        errors = [f'{mean(c, "error_ms"):.0f} ({100 * mean(c, "coverage"):.0f})' for c in conditions[:2]]
        return [*f, *errors]

    lines = [
        '| model | F audio | F audio + dancer | F audio, masked | F audio + dancer, masked '
        '| predicted, audio: ms (%) | predicted, audio + dancer: ms (%) |',
        '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ]
    for arch, figures in dance['models'].items():
        lines.append(f'| {LABELS[arch]} | {" | ".join(cells(figures["sequences"], DANCE_CONDITIONS))} |')
    movement = {n: {'': dance['movement'][n]} for n in names}
    f, error = cells(movement, ('',))
    lines.append(f'| no model: the dancer alone (partner_beat) | {f} | | | | {error} | |')
    return lines


def dance_section(dance: dict) -> list[str]:
    names = ', '.join(n for n, s in dance['splits'].items() if s == 'test')
    start, end = dance['mask_s']
    return [
        '### Real dancers with their songs (dance-melody): audio alone and with the dancer', '',
        f'Reference: the songs\' beats, {dance["reference"]}. Late fusion: the beat model and `BeatTracker` on the '
        "song, the tracker's tempo weighed by the dancer's movement beat tempo while partner_beat's tracker is "
        f'confident (`musmove.evaluation.partner.fused`); masked: white noise at the song\'s level {start:g}-{end:g} s '
        'into the dance. F: causal F-measure (%); predicted: median |error| of the prediction made 100 ms ahead, at '
        "the reference's level, and the share of reference beats so predicted. The models were trained on rendered "
        'drums and piano, none on these songs.', '',
        f'All {len(dance["splits"])} trusted sequences (offsets measured by `musmove dance-offsets`):', '',
        *dance_table(dance, None), '',
        f'Held out (test split: {names}):', '',
        *dance_table(dance, 'test'), '',
    ]  # fmt: skip


def generated(results: dict, ablation: dict | None, dance: dict | None = None) -> str:
    """The tables and plots that `musmove study` writes into docs/results.md."""
    parts = [BEGIN, '']
    for dataset in sorted({d for figures in results['beat'].values() for d in figures}) or ['-']:
        parts += [f'### Beat data set: {dataset}', '', *table(results, dataset), '']
    parts += ['![per-architecture figures](results/study.png)', '', '![confusion](results/gesture_confusion.png)', '']
    if ablation:
        parts += [f'### Inputs of the {LABELS[ablation["arch"]]} gesture model', '', *ablation_table(ablation), '']
    if dance:
        parts += dance_section(dance)
    return '\n'.join([*parts, END])


def update(document: str, tables: str) -> str:
    """`document` with the text between the study markers replaced by `tables` (appended where none)."""
    if BEGIN in document and END in document:
        return document[: document.index(BEGIN)] + tables + document[document.index(END) + len(END) :]
    return document.rstrip() + '\n\n' + tables + '\n'


def ablation(arch: str) -> dict:
    """Leave-one-subject-out figures of `arch` on each input of `ABLATION` and on all of them (needs torch)."""
    from musmove.training.gesture_training import ALL_GROUPS, cross_validate

    inputs = {name: cross_validate(arch, groups) for name, groups in ABLATION.items()}
    inputs['mocap + virtual IMU (all)'] = cross_validate(arch, ALL_GROUPS)
    return {'arch': arch, 'inputs': inputs}


def run(
    models: Path,
    docs: Path,
    limit: int | None = None,
    ablation_arch: str | None = None,
    offsets: dict[str, dict[str, str]] | None = None,
) -> str:
    """Evaluate, plot and write docs/results.md's tables (and docs/results/*.json); return the tables. With
    `offsets` (of musmove dance-offsets) also the multimodal rows on the dancers (else the kept ones)."""
    folder = docs / 'results'
    folder.mkdir(parents=True, exist_ok=True)
    if ablation_arch:
        (folder / 'ablation.json').write_text(json.dumps(ablation(ablation_arch), indent=1) + '\n')
    if offsets is not None:
        (folder / 'dance.json').write_text(json.dumps(dance_figures(models, offsets), indent=1) + '\n')
    study, inputs, dance = folder / 'study.json', folder / 'ablation.json', folder / 'dance.json'
    results = evaluate(models, limit=limit, earlier=json.loads(study.read_text()) if study.exists() else None)
    study.write_text(json.dumps(results, indent=1) + '\n')
    kept = (json.loads(path.read_text()) if path.exists() else None for path in (inputs, dance))
    tables = generated(results, *kept)
    plot(results, folder)
    document = docs / 'results.md'
    document.write_text(update(document.read_text() if document.exists() else '# Results\n', tables))
    return tables
