"""`musmove train`: train a causal beat/downbeat or gesture-phase model, validate it, export it to `models/`."""

import argparse
from dataclasses import replace
from pathlib import Path

import mir_eval
import numpy as np
import torch
from torch.nn import functional

from musmove.beat.tracking import BeatTracker
from musmove.progress import Progress
from musmove.training import beats, gesture_training, prepare
from musmove.training.architectures import ARCHITECTURES, CausalModel
from musmove.training.export import export
from musmove.training.fit import Settings, fit, seed_everything

CHUNK_FRAMES = 400  # 9.3 s
BATCH = 24
SETTINGS = Settings()
BEAT_HYPER = {'cnn': {'dilations': (1, 2, 4, 8, 16, 32)}, 'transformer': {'span': 32}}  # about 1.5-3 s of context


def beat_activations(model: CausalModel, features: np.ndarray) -> np.ndarray:
    """Sigmoid outputs (frames, 2) of the model on a whole track (causal: the same as frame by frame)."""
    with torch.no_grad():
        return torch.sigmoid(model(torch.as_tensor(features[None]))[0]).numpy()


def causal_f_measures(model: CausalModel, tracks: list[beats.Track]) -> dict[str, float]:
    """Mean causal F-measure per data set (the part of a track's name before '/', prepared data) and over all."""
    scores = causal_scores(model, tracks)
    groups: dict[str, list[float]] = {}
    for track, score in zip(tracks, scores, strict=True):
        groups.setdefault(track.name.split('/')[0] if '/' in track.name else 'all', []).append(score)
    return {**{name: float(np.mean(values)) for name, values in groups.items()}, 'all': float(np.mean(scores))}


def causal_f_measure(model: CausalModel, tracks: list[beats.Track]) -> float:
    """Mean mir_eval F-measure (±70 ms) of the causal tracker's observed beats on the activations."""
    return float(np.mean(causal_scores(model, tracks)))


def causal_scores(model: CausalModel, tracks: list[beats.Track]) -> list[float]:
    """mir_eval F-measure (±70 ms) of the causal tracker's observed beats on each track's activations."""
    scores = []
    progress = Progress('validation tracking', len(tracks))
    for done, track in enumerate(tracks, 1):
        tracker = BeatTracker(beats.fps())
        steps = (tracker.step(a) for a in beat_activations(model, track.features)[:, 0])
        observed = np.array([s.observed for s in steps if s.observed is not None]) / beats.fps()
        trim = mir_eval.beat.trim_beats
        scores.append(mir_eval.beat.f_measure(trim(track.beats), trim(observed)))
        progress.show(done)
    progress.close()
    return scores


DATA = {
    'clean': 'rendered with fluidsynth (FluidR3_GM), metronome (Groove) or annotated (ASAP) beats',
    'prepared': 'musmove prepare-beats (musmove.training.prepare): three SoundFonts, room, microphone, noise, '
    'compression, band-limiting, gain, tempo by resampling; labels at the performed beats plus the render delay',
}
AUGMENTATION = 'time stretch 0.8-1.2, mel shift +-2 bands, gain +-10 dB'


def train_beats(
    arch: str,
    out: Path,
    settings: Settings,
    datasets: tuple[str, ...] | None = None,
    limit: int | None = None,
    data: str = 'clean',
) -> dict:
    """Train, validate and export `models/beat_<arch>.onnx` on the `data` ('clean' or 'prepared') tracks of
    `datasets`; returns its card."""
    seed_everything(settings.seed)
    source = prepare.tracks if data == 'prepared' else beats.tracks
    datasets = datasets or (prepare.PREPARED if data == 'prepared' else ('groove', 'asap'))
    train, validation = source('train', datasets, limit), source('validation', datasets, limit)
    mean, std = beats.statistics(train)
    hyper = BEAT_HYPER.get(arch, {})
    model = ARCHITECTURES[arch](len(mean), len(beats.CLASSES), mean, std, beats.SILENCE_DB, **hyper)
    rng = np.random.default_rng(settings.seed)
    validation_batches = [beats.batch(validation, BATCH, CHUNK_FRAMES, rng, augment=False) for _ in range(8)]

    def next_batch():
        return tuple(map(torch.as_tensor, beats.batch(train, BATCH, CHUNK_FRAMES, rng)))

    def loss(logits, targets):
        return functional.binary_cross_entropy_with_logits(logits, targets)

    def validation_loss(model):
        return float(
            np.mean([loss(model(torch.as_tensor(x)), torch.as_tensor(y)).item() for x, y in validation_batches])
        )

    history = fit(model, next_batch, validation_loss, loss, settings)
    f_measures = causal_f_measures(model, validation)
    f_measure = f_measures['all']
    print(f'validation: causal tracker F-measure {f_measure:.3f} on {len(validation)} tracks ({f_measures})')
    card = {
        'name': f'beat_{arch}',
        'task': 'beat',
        'architecture': arch,
        'hyper': hyper,
        'classes': list(beats.CLASSES),
        'features': {'kind': 'log_mel', **beats.LOG_MEL, 'frame_time': 'window centred on the frame start'},
        'frame_rate': beats.fps(),
        'training': {
            'data': {name: DATA[data] for name in datasets},
            'split': 'train (validation for early stopping); ASAP: one performance per score folder',
            'tracks': {'train': len(train), 'validation': len(validation)},
            'settings': vars(settings),
            'chunk_frames': CHUNK_FRAMES,
            'batch': BATCH,
            'augmentation': AUGMENTATION + ('' if data == 'clean' else '; on top of the prepared renders'),
            'command': f'musmove train --task beat --arch {arch} --data {data}',
            'epochs_run': len(history.train_loss),
            'best_epoch': history.best_epoch + 1,
            'minutes': round(history.seconds / 60, 1),
        },
        'metrics': {
            'validation_loss': min(history.validation_loss),
            'validation_causal_f_measure': f_measure,
            **({'validation_causal_f_measure_by_dataset': f_measures} if data == 'prepared' else {}),
        },
    }
    return export(model, out / f'beat_{arch}.onnx', card, validation[0].features[:2000], 'sigmoid')


def main(args: argparse.Namespace) -> int:
    given = {'epochs': args.epochs, 'steps_per_epoch': args.steps, 'max_minutes': args.max_minutes, 'seed': args.seed}
    defaults = SETTINGS if args.task == 'beat' else gesture_training.SETTINGS
    settings = replace(defaults, **{key: value for key, value in given.items() if value is not None})
    torch.set_num_threads(args.threads)
    if args.task == 'beat':
        datasets = tuple(args.dataset) if args.dataset else None
        card = train_beats(args.arch, Path(args.out), settings, datasets, args.limit, args.data)
    else:
        card = gesture_training.train_gestures(args.arch, Path(args.out), settings)
    print(f'wrote {Path(args.out) / card["file"]} and its card')
    return 0
