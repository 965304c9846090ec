"""Beat/downbeat training data: log-mel features of the rendered performances and frame targets.

Frame i of `LOG_MEL` features describes time i * hop / sample_rate (its window is centred on the
first sample of audio frame i, see `musmove.beat.features`); a beat at t s is target 1 at frame
round(t * fps) and 0.5 at the frames beside it (the usual widening, which forgives annotation
jitter). Chunks for training are cut at random, stretched in time, shifted in frequency and changed
in gain (augmentation on the features, the beat times stretched with them).
"""

import hashlib
from dataclasses import dataclass

import numpy as np

from musmove.beat.features import offline_log_mel
from musmove.progress import Progress
from musmove.sources.audio import load_audio
from musmove.sources.data import cache_dir
from musmove.training.beat_data import Example, examples, one_per_folder, render

LOG_MEL = {'sample_rate': 22050, 'hop': 512, 'n_fft': 1024, 'n_mels': 64, 'fmin': 30.0, 'fmax': 11025.0}
SILENCE_DB = -100.0  # log-mel of digital silence (amin 1e-10)
CLASSES = ('beat', 'downbeat')


def fps() -> float:
    return LOG_MEL['sample_rate'] / LOG_MEL['hop']


@dataclass(frozen=True, eq=False)
class Track:
    """One performance's features (frames, n_mels) and its beat and downbeat times (s)."""

    name: str
    features: np.ndarray
    beats: np.ndarray
    downbeats: np.ndarray


def features(example: Example) -> np.ndarray:
    """`LOG_MEL` features of the rendered example (float32), cached by the audio's content."""
    wav = render(example, LOG_MEL['sample_rate'])
    key = hashlib.sha256(f'{wav.name}:{sorted(LOG_MEL.items())}'.encode()).hexdigest()[:16]
    path = cache_dir() / 'features' / f'{wav.stem}-{key}.npy'
    if path.is_file():
        return np.load(path)
    audio = load_audio(wav, LOG_MEL['sample_rate'])[:, 0]
    _, log_mel = offline_log_mel(audio, **LOG_MEL)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, log_mel.astype(np.float32))
    return np.load(path)


def tracks(split: str, datasets: tuple[str, ...] = ('groove', 'asap'), limit: int | None = None) -> list[Track]:
    """Features and beats of `split` of each data set (ASAP: one performance per score folder)."""
    chosen = []
    for dataset in datasets:
        items = examples(dataset=dataset, split=split)
        chosen += (one_per_folder(items) if dataset == 'asap' else items)[:limit]
    progress = Progress(f'features of {split}', len(chosen))
    result = []
    for done, example in enumerate(chosen, 1):
        result.append(Track(example.name, features(example), example.beats, example.downbeats))
        progress.show(done)
    progress.close()
    return result


def targets(times: np.ndarray, frames: int, start: float = 0.0, stretch: float = 1.0) -> np.ndarray:
    """Widened frame targets of event `times` (s) for `frames` frames from frame `start`, time scaled by 1/`stretch`."""
    target = np.zeros(frames, dtype=np.float32)
    index = np.round((times * fps() - start) / stretch).astype(int)
    for offset, value in ((-1, 0.5), (1, 0.5), (0, 1.0)):
        at = index + offset
        at = at[(at >= 0) & (at < frames)]
        target[at] = np.maximum(target[at], value)
    return target


def chunk(track: Track, frames: int, rng: np.random.Generator, augment: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """A random chunk of `frames` frames: features (frames, n_mels) and targets (frames, 2)."""
    stretch = rng.uniform(0.8, 1.2) if augment else 1.0
    span = frames * stretch
    start = rng.uniform(0, max(len(track.features) - span - 1, 0))
    positions = np.clip(start + np.arange(frames) * stretch, 0, len(track.features) - 1)
    below = np.floor(positions).astype(int)
    above = np.minimum(below + 1, len(track.features) - 1)
    weight = (positions - below)[:, None]
    x = (1 - weight) * track.features[below] + weight * track.features[above]
    if augment:
        shift = int(rng.integers(-2, 3))  # mel bands up or down: about a pitch shift of +-2 bands
        x = np.pad(x, ((0, 0), (2, 2)), mode='edge')[:, 2 - shift : 2 - shift + x.shape[1]]
        x = np.maximum(x + rng.uniform(-10, 10), SILENCE_DB)  # gain in dB
    y = np.stack([targets(times, frames, start, stretch) for times in (track.beats, track.downbeats)], axis=1)
    return x.astype(np.float32), y


def batch(tracks: list[Track], size: int, frames: int, rng: np.random.Generator, augment: bool = True):
    """`size` chunks from tracks drawn in proportion to their length: (size, frames, n_mels), (size, frames, 2)."""
    lengths = np.array([len(t.features) for t in tracks], dtype=float)
    chosen = rng.choice(len(tracks), size=size, p=lengths / lengths.sum())
    xs, ys = zip(*(chunk(tracks[i], frames, rng, augment) for i in chosen), strict=True)
    return np.stack(xs), np.stack(ys)


def statistics(tracks: list[Track]) -> tuple[np.ndarray, np.ndarray]:
    """Per-band mean and standard deviation of the features over all frames."""
    stacked = np.concatenate([t.features for t in tracks])
    return stacked.mean(axis=0), stacked.std(axis=0)
