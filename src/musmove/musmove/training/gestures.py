"""Gesture-phase training data: the UCI gesture-phase recordings at `RATE`, their labels, augmentation, folds.

Each raw Kinect recording (`read_mocap`) is resampled onto a uniform `RATE` grid (positions linearly;
the label of a grid frame is that of the latest recorded frame at or before it). The data set's protocol
is leave-one-subject-out (`FOLDS`); within the training subjects the last `VALIDATION_SHARE` of every
recording is held out for early stopping and model selection. Augmentation works on the positions
before the features: left/right mirroring, a small roll in the image plane, sensor noise, time stretch.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musmove.gesture.features import JOINTS, PHASES, RATE, features
from musmove.sources.data import shared_data
from musmove.sources.recordings import read_mocap

RECORDINGS = {'A': ('a1', 'a2', 'a3'), 'B': ('b1', 'b3'), 'C': ('c1', 'c3')}  # by subject
FOLDS = tuple(RECORDINGS)  # leave-one-subject-out: the subject tested
VALIDATION_SHARE = 0.2
_MIRROR = [JOINTS.index(name) for name in ('right_hand', 'left_hand', 'head', 'spine', 'right_wrist', 'left_wrist')]


@dataclass(frozen=True, eq=False)
class Recording:
    """One recording at `RATE`: positions (frames, 6, 3) of `JOINTS`, labels (frames,) as `PHASES` indices."""

    name: str
    subject: str
    positions: np.ndarray
    labels: np.ndarray

    def part(self, start: float, stop: float) -> 'Recording':
        """The frames between fractions `start` and `stop` of the recording."""
        a, b = round(start * len(self.labels)), round(stop * len(self.labels))
        return Recording(self.name, self.subject, self.positions[a:b], self.labels[a:b])


def uci_folder() -> Path:
    return shared_data() / 'uci-gesture-phase' / 'raw'


def load(name: str, rate: float = RATE) -> Recording:
    """The UCI recording `name` (for example 'a1') resampled to `rate`."""
    mocap = read_mocap(uci_folder() / f'{name}_raw.csv')
    if mocap.joint_names != JOINTS or mocap.labels is None:
        raise ValueError(f'{name}: expected the joints {JOINTS} and phase labels')
    grid = np.arange(0.0, mocap.times[-1], 1.0 / rate)
    flat = mocap.positions.reshape(len(mocap.times), -1)
    positions = np.stack([np.interp(grid, mocap.times, column) for column in flat.T], axis=1)
    latest = np.searchsorted(mocap.times, grid + 1e-9, side='right') - 1
    labels = np.array([PHASES.index(mocap.labels[i]) for i in latest], dtype=np.int64)
    subject = next(s for s, names in RECORDINGS.items() if name in names)
    return Recording(name, subject, positions.reshape(len(grid), len(JOINTS), 3), labels)


def load_all(rate: float = RATE) -> list[Recording]:
    return [load(name, rate) for names in RECORDINGS.values() for name in names]


def split(recordings: list[Recording], test_subject: str) -> tuple[list[Recording], list[Recording], list[Recording]]:
    """Train, validation and test recordings of the fold that tests `test_subject`."""
    others = [r for r in recordings if r.subject != test_subject]
    train = [r.part(0.0, 1.0 - VALIDATION_SHARE) for r in others]
    validation = [r.part(1.0 - VALIDATION_SHARE, 1.0) for r in others]
    return train, validation, [r for r in recordings if r.subject == test_subject]


def augment(positions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mirrored left/right (half the time), rolled by up to 10 degrees, with 0.5 % sensor noise."""
    spine = positions[:, JOINTS.index('spine')][:, None]
    relative = positions - spine
    if rng.random() < 0.5:
        relative = relative[:, _MIRROR] * np.array([-1.0, 1.0, 1.0])
    angle = np.radians(rng.uniform(-10, 10))
    roll = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    body = np.linalg.norm(relative[:, JOINTS.index('head')], axis=-1).mean()
    noise = rng.normal(0.0, 0.005 * body, relative.shape)
    return spine + relative @ roll.T + noise


def chunk(
    recording: Recording, frames: int, rng: np.random.Generator, augment_it: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of a random `frames`-long piece, time-stretched 0.8-1.2 and augmented."""
    stretch = rng.uniform(0.8, 1.2) if augment_it else 1.0
    need = min(int(np.ceil(frames * stretch)) + 1, len(recording.labels))
    start = rng.integers(0, len(recording.labels) - need + 1)
    source = start + np.minimum(np.arange(frames) * stretch, need - 1)
    index = np.arange(len(recording.labels))
    flat = recording.positions.reshape(len(index), -1)
    positions = np.stack([np.interp(source, index, column) for column in flat.T], axis=1).reshape(frames, -1, 3)
    labels = recording.labels[np.floor(source).astype(int)]
    if augment_it:
        positions = augment(positions, rng)
    return features(positions), labels


def batch(
    recordings: list[Recording], size: int, frames: int, rng: np.random.Generator, augment_it: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """`size` chunks from recordings drawn in proportion to their length: (size, frames, SIZE), (size, frames)."""
    lengths = np.array([len(r.labels) for r in recordings], dtype=float)
    chosen = rng.choice(len(recordings), size, p=lengths / lengths.sum())
    pieces = [chunk(recordings[i], frames, rng, augment_it) for i in chosen]
    return np.stack([x for x, _ in pieces]), np.stack([y for _, y in pieces])


def class_weights(recordings: list[Recording]) -> np.ndarray:
    """Inverse class frequencies, normalised to mean 1 (hold is rare: about 4 % of the frames)."""
    counts = np.bincount(np.concatenate([r.labels for r in recordings]), minlength=len(PHASES)).astype(float)
    weights = counts.sum() / np.maximum(counts, 1.0) / len(PHASES)
    return weights / weights.mean()
