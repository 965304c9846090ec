"""`musmove study`: the five-architecture comparison (the seed paper's Table 2) on public data, as docs/results.md.

Beat alignment and synchronization error come from running each exported beat model frame by frame
(onnxruntime) on the cached log-mel features of the test splits and tracking its activation causally
(`musmove.evaluation.beats`); gesture-phase figures are the nested leave-one-subject-out results carried by
each gesture model's card; parameters and per-frame latency from the ONNX files themselves.
"""

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from musmove.evaluation.beats import causal_beats, prediction_errors, scores
from musmove.evaluation.session import confusion_figure
from musmove.models import StreamingModel, load_card
from musmove.progress import Progress
from musmove.training import STUDY

LABELS = {'cnn': 'CNN', 'rnn': 'RNN', 'lstm': 'LSTM', 'cnn_lstm': 'CNN-LSTM', 'transformer': 'Transformer'}
LABELS['crnn'] = 'CRNN (shipped beat model)'
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

    Beat figures in `earlier` (a previous result) are kept for a model file and test set that did not change.
    """
    from musmove.training.beats import tracks  # the cached test-split features (no torch needed)

    test = {dataset: tracks('test', (dataset,), limit) for dataset in datasets}
    results: dict[str, dict] = {'beat': {}, 'gesture': {}}
    for arch in (*STUDY, 'crnn'):
        if (path := models / f'beat_{arch}.onnx').exists():
            results['beat'][arch] = {}
            for dataset, chosen in test.items():
                before = (earlier or {}).get('beat', {}).get(arch, {}).get(dataset, {})
                same = before.get('sha256') == load_card(path)['sha256'] and before.get('tracks') == len(chosen)
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
    for arch in (*STUDY, 'crnn'):
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


def generated(results: dict, ablation: dict | None) -> str:
    """The tables and plots that `musmove study` writes into docs/results.md."""
    parts = [BEGIN, '']
    for dataset in sorted({d for figures in results['beat'].values() for d in figures}) or ['-']:
        parts += [f'### Beat data set: {dataset}', '', *table(results, dataset), '']
    parts += ['![per-architecture figures](results/study.png)', '', '![confusion](results/gesture_confusion.png)', '']
    if ablation:
        parts += [f'### Inputs of the {LABELS[ablation["arch"]]} gesture model', '', *ablation_table(ablation), '']
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


def run(models: Path, docs: Path, limit: int | None = None, ablation_arch: str | None = None) -> str:
    """Evaluate, plot and write docs/results.md's tables (and docs/results/*.json); return the tables."""
    folder = docs / 'results'
    folder.mkdir(parents=True, exist_ok=True)
    if ablation_arch:
        (folder / 'ablation.json').write_text(json.dumps(ablation(ablation_arch), indent=1) + '\n')
    study, inputs = folder / 'study.json', folder / 'ablation.json'
    results = evaluate(models, limit=limit, earlier=json.loads(study.read_text()) if study.exists() else None)
    study.write_text(json.dumps(results, indent=1) + '\n')
    tables = generated(results, json.loads(inputs.read_text()) if inputs.exists() else None)
    plot(results, folder)
    document = docs / 'results.md'
    document.write_text(update(document.read_text() if document.exists() else '# Results\n', tables))
    return tables
