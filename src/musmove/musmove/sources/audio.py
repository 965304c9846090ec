"""Audio file input: decoding, channel matching and resampling."""

from math import gcd
from pathlib import Path

import numpy as np
import soundfile
from scipy.signal import resample_poly


def load_audio(path: str | Path, sample_rate: int, channels: int = 1) -> np.ndarray:
    """Read an audio file as float32 samples of shape (n, channels) at `sample_rate`.

    Any format libsndfile reads (wav, flac, ogg, mp3, ...). A multi-channel file is
    averaged to mono when `channels` is 1; a mono file is repeated to fill `channels`.

    Raises:
        ValueError: the file cannot be read, or its channels cannot be matched.
    """
    try:
        samples, file_rate = soundfile.read(str(path), dtype='float32', always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, OSError) as error:
        raise ValueError(f'cannot read audio file {path}: {error}') from error
    samples = match_channels(samples, channels, path)
    if file_rate != sample_rate:
        common = gcd(int(file_rate), int(sample_rate))
        samples = resample_poly(samples, sample_rate // common, file_rate // common, axis=0)
    return np.ascontiguousarray(samples, dtype=np.float32)


def match_channels(samples: np.ndarray, channels: int, path: str | Path = '') -> np.ndarray:
    """Down-mix to mono or repeat a mono signal so that samples has `channels` columns."""
    have = samples.shape[1]
    if have == channels:
        return samples
    if channels == 1:
        return samples.mean(axis=1, keepdims=True)
    if have == 1:
        return np.repeat(samples, channels, axis=1)
    raise ValueError(f'{path}: cannot map {have} channels to {channels}; use channels=1 or {have}')
