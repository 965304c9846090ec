"""`musmove train --task gesture`: gesture-phase models, leave-one-subject-out with a small grid search.

For every fold (one subject tested, `gestures.FOLDS`) each configuration of `GRID` is trained on the
other subjects and judged by macro-F1 on their held-out validation parts; the fold's test figures are
those of its best configuration on the tested subject (nested: no choice sees the tested subject).
The exported model is then trained on every subject with the configuration chosen most often, and its
card carries the cross-validated figures.
"""

import itertools
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
from torch.nn import functional

from musmove.gesture.features import GROUPS, PHASES, RATE, columns, features
from musmove.training import gestures
from musmove.training.architectures import ARCHITECTURES, CausalModel
from musmove.training.export import export
from musmove.training.fit import Settings, fit, seed_everything

GRID = {'hidden': (32, 64)}  # a fixed budget: two trainings per fold
CHUNK_FRAMES = 128  # 4.3 s
BATCH = 32
SETTINGS = Settings(epochs=20, steps_per_epoch=40, patience=5, max_minutes=5.0)
ALL_GROUPS = tuple(GROUPS)


@dataclass
class Scores:
    """Frame-wise figures of a model on recordings."""

    accuracy: float
    macro_f1: float
    confusion: np.ndarray  # (true, predicted) frame counts, `PHASES` order


def predict(model: CausalModel, features: np.ndarray) -> np.ndarray:
    """Class probabilities (frames, classes) of a whole recording, causally (as frame by frame)."""
    with torch.no_grad():
        return torch.softmax(model(torch.as_tensor(features[None])), -1)[0].numpy()


def score(model: CausalModel, recordings: list[gestures.Recording], groups: tuple[str, ...]) -> Scores:
    chosen = columns(groups)
    truth = np.concatenate([r.labels for r in recordings])
    guess = np.concatenate([predict(model, features(r.positions)[:, chosen]).argmax(1) for r in recordings])
    labels = list(range(len(PHASES)))
    return Scores(
        float(accuracy_score(truth, guess)),
        float(f1_score(truth, guess, labels=labels, average='macro', zero_division=0)),
        confusion_matrix(truth, guess, labels=labels),
    )


def train_one(
    arch: str,
    train: list[gestures.Recording],
    validation: list[gestures.Recording],
    hyper: dict[str, Any],
    groups: tuple[str, ...] = ALL_GROUPS,
    settings: Settings = SETTINGS,
) -> CausalModel:
    """A model trained on `train`, early-stopped on macro-F1 over `validation`."""
    seed_everything(settings.seed)
    chosen = columns(groups)
    everything = np.concatenate([features(r.positions)[:, chosen] for r in train])
    model = ARCHITECTURES[arch](len(chosen), len(PHASES), everything.mean(0), everything.std(0), 0.0, **hyper)
    weights = torch.as_tensor(gestures.class_weights(train), dtype=torch.float32)
    rng = np.random.default_rng(settings.seed)

    def next_batch():
        x, y = gestures.batch(train, BATCH, CHUNK_FRAMES, rng)
        return torch.as_tensor(x[..., chosen]), torch.as_tensor(y)

    def loss(logits, labels):
        return functional.cross_entropy(logits.reshape(-1, len(PHASES)), labels.reshape(-1), weight=weights)

    fit(model, next_batch, lambda m: 1.0 - score(m, validation, groups).macro_f1, loss, settings, quiet=True)
    return model


def cross_validate(
    arch: str, groups: tuple[str, ...] = ALL_GROUPS, grid: dict[str, tuple] = GRID, settings: Settings = SETTINGS
) -> dict[str, Any]:
    """Nested leave-one-subject-out: per fold, the grid's best on validation, scored on the tested subject."""
    recordings = gestures.load_all()
    configurations = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    folds = []
    for subject in gestures.FOLDS:
        train, validation, test = gestures.split(recordings, subject)
        tried = []
        for hyper in configurations:
            model = train_one(arch, train, validation, hyper, groups, settings)
            tried.append((score(model, validation, groups).macro_f1, hyper, model))
            print(f'{arch} fold {subject} {hyper}: validation macro-F1 {tried[-1][0]:.3f}', flush=True)
        best_f1, hyper, model = max(tried, key=lambda t: t[0])
        test_scores = score(model, test, groups)
        print(f'{arch} fold {subject}: test accuracy {test_scores.accuracy:.3f}, macro-F1 {test_scores.macro_f1:.3f}')
        folds.append(
            {
                'test_subject': subject,
                'hyper': hyper,
                'validation_macro_f1': best_f1,
                'accuracy': test_scores.accuracy,
                'macro_f1': test_scores.macro_f1,
                'confusion': test_scores.confusion.tolist(),
            }
        )
    return {
        'protocol': 'leave-one-subject-out (A, B, C), grid search per fold on the training subjects',
        'grid': {key: list(values) for key, values in grid.items()},
        'groups': list(groups),
        'folds': folds,
        **{f'{key}_mean': float(np.mean([f[key] for f in folds])) for key in ('accuracy', 'macro_f1')},
        **{f'{key}_std': float(np.std([f[key] for f in folds])) for key in ('accuracy', 'macro_f1')},
    }


def train_gestures(
    arch: str, out: Path, settings: Settings = SETTINGS, groups: tuple[str, ...] = ALL_GROUPS
) -> dict[str, Any]:
    """Cross-validate, then train on every subject and export `models/gesture_<arch>.onnx` with its card."""
    began = time.monotonic()
    validated = cross_validate(arch, groups, settings=settings)
    validated_minutes = (time.monotonic() - began) / 60
    votes = Counter(tuple(sorted(fold['hyper'].items())) for fold in validated['folds'])
    hyper = dict(votes.most_common(1)[0][0])
    recordings = gestures.load_all()
    train = [r.part(0.0, 1.0 - gestures.VALIDATION_SHARE) for r in recordings]
    validation = [r.part(1.0 - gestures.VALIDATION_SHARE, 1.0) for r in recordings]
    model = train_one(arch, train, validation, hyper, groups, settings)
    final_minutes = (time.monotonic() - began) / 60 - validated_minutes
    chosen = columns(groups)
    card = {
        'name': f'gesture_{arch}',
        'task': 'gesture',
        'architecture': arch,
        'hyper': hyper,
        'classes': list(PHASES),
        'features': {'kind': 'gesture_kinematics', 'groups': list(groups), 'columns': chosen.tolist()},
        'frame_rate': RATE,
        'training': {
            'data': 'UCI gesture phase segmentation (Kinect, 7 recordings of 3 subjects), CC BY 4.0',
            'split': f'every subject; the last {gestures.VALIDATION_SHARE:.0%} of each recording for early stopping',
            'settings': vars(settings),
            'chunk_frames': CHUNK_FRAMES,
            'batch': BATCH,
            'loss': 'cross-entropy weighted by inverse class frequency',
            'augmentation': 'left/right mirroring, roll +-10 deg, 0.5 % noise, time stretch 0.8-1.2',
            'minutes': {'cross_validation': round(validated_minutes, 1), 'final': round(final_minutes, 1)},
        },
        'metrics': {'cross_validation': validated},
    }
    check = features(recordings[0].positions)[:600, chosen]
    return export(model, out / f'gesture_{arch}.onnx', card, check, 'softmax')
