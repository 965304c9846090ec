"""Causal features computed frame by frame, with the state they need kept between frames, and their offline twins.

Audio: `StreamingSpectrogram` analyses each new frame of `hop` samples in a window of the last `n_fft` samples
(zeros before the start), so a frame describes the time n_fft / 2 samples before its last sample; `offline_log_mel`
gives the same numbers for a whole signal at once. `OnsetStrength` is the spectral flux of consecutive log spectra
(`offline_onset_strength`: the same as `librosa.onset.onset_strength(S=log_mel.T, center=False)`).
`AudioFeatures` are the features of the synchronizer's SyncFrames.
"""

from collections import deque

import librosa
import numpy as np
from scipy.ndimage import maximum_filter1d

AUDIO_FEATURES = ('rms', 'onset_strength')


def _mel_basis(sample_rate: float, n_fft: int, n_mels: int, fmin: float, fmax: float | None) -> np.ndarray:
    return librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, dtype=np.float64)


class StreamingSpectrogram:
    """Magnitude spectrum and log-mel spectrum of the last `n_fft` samples, fed `hop` new samples per call.

    The log-mel is `librosa.power_to_db(mel_basis @ |X|^2, ref=1, amin=amin, top_db=None)` [dB], with the Slaney
    filters of `librosa.filters.mel`: librosa's usual top_db clips relative to the maximum of the whole signal, which
    a causal feature cannot know, so the absolute floor `amin` (1e-10: -100 dB) replaces it.
    """

    def __init__(
        self,
        n_fft: int,
        hop: int,
        sample_rate: float,
        n_mels: int = 128,
        fmin: float = 0.0,
        fmax: float | None = None,
        window: str = 'hann',
        amin: float = 1e-10,
    ) -> None:
        if not 0 < hop <= n_fft:
            raise ValueError(f'hop must be in 1..n_fft ({n_fft}), not {hop}')
        self.hop, self.amin = hop, amin
        self.window = librosa.filters.get_window(window, n_fft, fftbins=True)
        self.mel = _mel_basis(sample_rate, n_fft, n_mels, fmin, fmax)
        self.reset()

    def reset(self) -> None:
        """Forget the signal so far (after a gap or a clock jump): the window holds zeros again."""
        self.buffer = np.zeros(len(self.window))

    def __call__(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Magnitude (n_fft // 2 + 1) and log-mel [dB] (n_mels) of the window ending with `frame` (`hop` samples)."""
        if len(frame) != self.hop:
            raise ValueError(f'expected a frame of {self.hop} samples, got {len(frame)}')
        self.buffer[: -self.hop] = self.buffer[self.hop :]
        self.buffer[-self.hop :] = frame
        magnitude = np.abs(np.fft.rfft(self.buffer * self.window))
        return magnitude, 10.0 * np.log10(np.maximum(self.amin, self.mel @ np.square(magnitude)))


def offline_log_mel(
    signal: np.ndarray,
    n_fft: int,
    hop: int,
    sample_rate: float,
    n_mels: int = 128,
    fmin: float = 0.0,
    fmax: float | None = None,
    window: str = 'hann',
    amin: float = 1e-10,
) -> tuple[np.ndarray, np.ndarray]:
    """`StreamingSpectrogram`'s outputs for every whole frame of `signal` at once: (frames, bins), (frames, n_mels)."""
    frames = len(signal) // hop
    padded = np.concatenate([np.zeros(n_fft - hop), np.asarray(signal[: frames * hop], dtype=np.float64)])
    magnitude = np.abs(librosa.stft(padded, n_fft=n_fft, hop_length=hop, window=window, center=False))
    mel = _mel_basis(sample_rate, n_fft, n_mels, fmin, fmax) @ np.square(magnitude)
    return magnitude.T, librosa.power_to_db(mel, ref=1.0, amin=amin, top_db=None).T


def _reference(spectra: np.ndarray, max_size: int) -> np.ndarray:
    """Spectra max-filtered over `max_size` neighbouring bands (the last axis)."""
    return spectra if max_size == 1 else maximum_filter1d(spectra, max_size, axis=-1)


class OnsetStrength:
    """Spectral flux of consecutive log spectra (librosa.onset.onset_strength's definition).

    The mean over bands of the half-wave rectified increase since `lag` frames before, over that frame's spectrum
    max-filtered across `max_size` bands (SuperFlux's vibrato suppression); 0 until `lag` frames have been seen.
    """

    def __init__(self, lag: int = 1, max_size: int = 1) -> None:
        if lag < 1 or max_size < 1:
            raise ValueError(f'lag and max_size must be at least 1, not {lag} and {max_size}')
        self.lag, self.max_size = lag, max_size
        self.reset()

    def reset(self) -> None:
        """Forget the previous frames."""
        self.references: deque[np.ndarray] = deque(maxlen=self.lag)

    def __call__(self, spectrum: np.ndarray) -> float:
        """Onset strength of the next frame's log spectrum (1-D)."""
        full = len(self.references) == self.lag
        flux = float(np.mean(np.maximum(spectrum - self.references[0], 0.0))) if full else 0.0
        self.references.append(_reference(spectrum, self.max_size))
        return flux


def offline_onset_strength(spectra: np.ndarray, lag: int = 1, max_size: int = 1) -> np.ndarray:
    """`OnsetStrength`'s output for every frame of `spectra` (frames, bands) at once."""
    flux = np.zeros(len(spectra))
    flux[lag:] = np.maximum(spectra[lag:] - _reference(spectra, max_size)[:-lag], 0.0).mean(axis=1)
    return flux


class AudioFeatures:
    """The features `AUDIO_FEATURES` of consecutive mono frames of `hop` samples, in that order.

    A frame is analysed in a window of the previous and the current frame (2 hops, Hann), so each feature describes
    the time of the frame's first sample: the window's centre.

    - rms: root mean square of the frame's own samples [full scale].
    - onset_strength: spectral flux (`OnsetStrength`) of the log-compressed magnitude log1p(1000 |X|).
    """

    def __init__(self, hop: int) -> None:
        self.hop = hop
        self.window = np.hanning(2 * hop).astype(np.float32)
        self.flux = OnsetStrength()
        self.reset()

    def reset(self) -> None:
        """Forget the previous frame (after a gap or a clock jump)."""
        self.previous = np.zeros(self.hop, dtype=np.float32)
        self.flux.reset()

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """Features of the next frame (1-D, `hop` samples)."""
        rms = np.sqrt(np.mean(np.square(frame, dtype=np.float64)))
        windowed = np.concatenate([self.previous, frame]) * self.window
        flux = self.flux(np.log1p(1000.0 * np.abs(np.fft.rfft(windowed))))
        self.previous = frame.astype(np.float32, copy=True)
        return np.array([rms, flux], dtype=np.float32)
