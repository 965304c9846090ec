"""Tracker settings on the VALIDATION split: how the tracker's parameters were chosen (never on test).

    python bench/beat_tracker_validation.py [--seconds 60] [--model M] [--datasets groove asap pop909 mix dance] \
        '{"prior_weight": 2}' '{}' ...

Each argument is a JSON object of `BeatTracker` options (`{}`: the defaults). For every setting it prints, per
data set, the causal and the offline (`decode_offline` with the same options) mean F-measure, CMLt and AMLt,
the octave-error rate, the median lock time at the annotated level and the share of files locked at any level
within 3 s, over the first `--seconds` of each validation file (Groove 48, ASAP 47; `pop909`, `mix`: the first
`--renders` POP909 renders or full-band mixtures of the validation split, 30 s each, made as the training data
is, against their labels: the annotated beats plus the render delay). The model's activations (default: the
shipped ensemble) are computed once per file.

`dance` adds real recordings: the songs of the dance-melody train and validation sequences (34; the beat models
never heard them, the test songs stay out), from the start of the dance; reference: the songs' madmom offline
beats (`musmove.sources.dance.reference_beats`, automatic, not hand-annotated; it needs madmom or its cache).
"""

import argparse
import json

import numpy as np

from musmove.beat.model import SHIPPED
from musmove.beat.tracking import decode_offline
from musmove.evaluation.beats import FPS, RATE, RENDERED, activation, causal_track, scores, select
from musmove.evaluation.metrical import lock_times, octave_error
from musmove.sources import dance
from musmove.sources.audio import load_audio
from musmove.training import prepare
from musmove.training.beat_data import render


def measure(reference: np.ndarray, beats: np.ndarray) -> dict[str, float]:
    annotated, any_level = lock_times(reference, beats)
    error = octave_error(reference, beats, any_level if np.isfinite(any_level) else 5.0)
    return {**scores(reference, beats), 'octave_error': error, 'lock': annotated, 'locked_3s': any_level <= 3}


def summary(rows: list[dict[str, float]]) -> str:
    mean = {k: 100 * np.nanmean([r[k] for r in rows]) for k in ('f_measure', 'cmlt', 'amlt', 'octave_error')}
    lock = np.median([r['lock'] for r in rows])
    locked = 100 * np.mean([r['locked_3s'] for r in rows])
    return ' '.join(f'{k} {v:.1f}' for k, v in mean.items()) + f' lock {lock:.1f} s, locked<=3s {locked:.0f} %'


def validation_files(dataset: str, seconds: float, model: str, renders: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(reference beats [s], activations) of the first `seconds` of each file of `dataset` not in a test split."""
    if dataset in RENDERED:
        labelled = [prepare.rendered(dataset, name, group) for name, group in select(dataset, 'validation', renders)]
        return [(item.beats[item.beats < seconds], activation(item.audio[: round(seconds * RATE)], model))
                for item in labelled]  # fmt: skip
    if dataset == 'dance':
        files = []
        for seq in dance.sequences():
            if seq.split != 'test':
                reference = dance.reference_beats(seq)[0] - seq.start_time
                audio = dance.song(seq, RATE)[round(seq.start_time * RATE) :][: round(seconds * RATE)]
                files.append((reference[(reference >= 0) & (reference < seconds)], activation(audio, model)))
        return files
    return [
        (
            example.beats[example.beats < seconds],
            activation(load_audio(render(example, RATE), RATE)[: round(seconds * RATE), 0], model),
        )
        for example in select(dataset, 'validation')
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('settings', nargs='+', help='JSON objects of BeatTracker options')
    parser.add_argument('--seconds', type=float, default=60.0, help='the first S s of each file (default 60)')
    parser.add_argument('--model', default=SHIPPED, help=f'ONNX beat model(s), comma-separated (default {SHIPPED})')
    parser.add_argument('--renders', type=int, default=24, help='POP909 renders and mixtures (default 24)')
    parser.add_argument(
        '--datasets', nargs='+', choices=('groove', 'asap', *RENDERED, 'dance'), default=['groove', 'asap'],
        help='data sets (default groove asap)',
    )  # fmt: skip
    args = parser.parse_args()
    data = {dataset: validation_files(dataset, args.seconds, args.model, args.renders) for dataset in args.datasets}
    for setting in args.settings:
        options = json.loads(setting)
        for dataset, files in data.items():
            causal = [measure(ref, causal_track(act, **options).beats) for ref, act in files]
            offline = [measure(ref, decode_offline(act[:, 0], FPS, **options) / FPS) for ref, act in files]
            print(f'{setting} {dataset} ({len(files)}): causal {summary(causal)} | offline {summary(offline)}')


if __name__ == '__main__':
    main()
