"""Compare exported beat models on the validation tracks: the causal tracker's F-measure per data set.

    python -m musmove.training.score models/beat_crnn.onnx models/beat_crnn_wide.onnx [--split validation]

Clean: the FluidR3 renders of Groove and ASAP with their metronome/annotated beats (what `musmove eval-beats`
scores). Prepared: the output of `musmove prepare-beats` (labels at the performed beats). Each model runs as
the node runs it (onnxruntime, frame by frame, on the cached features), then the causal tracker.
"""

import argparse

import mir_eval
import numpy as np

from musmove.beat.tracking import BeatTracker
from musmove.models import StreamingModel
from musmove.progress import Progress
from musmove.training import beats, prepare


def causal_f(model: StreamingModel, track: beats.Track) -> float:
    """mir_eval F-measure (±70 ms, first 5 s trimmed) of the causal tracker's observed beats."""
    model.reset()
    tracker = BeatTracker(beats.fps())
    steps = (tracker.step(float(model(row)[0])) for row in track.features.astype(np.float32))
    observed = np.array([s.observed for s in steps if s.observed is not None]) / beats.fps()
    trim = mir_eval.beat.trim_beats
    return float(mir_eval.beat.f_measure(trim(np.asarray(track.beats)), trim(observed)))


def table(models: list[str], split: str, limit: int | None, data: tuple[str, ...] = ('clean', 'prepared')) -> list[str]:
    """Markdown rows: one per (data, data set), a column per model."""
    groups = {}
    if 'clean' in data:
        groups |= {('clean', name): beats.tracks(split, (name,), limit) for name in ('groove', 'asap')}
    if 'prepared' in data:
        groups |= {('prepared', name): prepare.tracks(split, (name,), limit) for name in prepare.PREPARED}
    loaded = [StreamingModel(path, task='beat') for path in models]
    rows = [f'| data | data set | n | {" | ".join(models)} |', '| --- | --- | ---: |' + ' ---: |' * len(models)]
    progress = Progress('score', sum(map(len, groups.values())) * len(models))
    done = 0
    for (data, name), tracks in groups.items():
        means = []
        for model in loaded:
            values = []
            for track in tracks:
                values.append(causal_f(model, track))
                done += 1
                progress.show(done)
            means.append(100 * float(np.mean(values)))
        rows.append(f'| {data} | {name} | {len(tracks)} | ' + ' | '.join(f'{m:.1f}' for m in means) + ' |')
    progress.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('models', nargs='+')
    parser.add_argument('--split', default='validation', choices=('train', 'validation'))
    parser.add_argument('--limit', type=int, default=None)
    parser.add_argument('--data', nargs='+', default=['clean', 'prepared'], choices=('clean', 'prepared'))
    args = parser.parse_args()
    print('\n'.join(table(args.models, args.split, args.limit, tuple(args.data))))


if __name__ == '__main__':
    main()
