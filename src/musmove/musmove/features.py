"""Causal audio features computed frame by frame, with the state they need kept between frames.

A frame of `hop` samples is analysed in a window of the previous and the current frame (2 hops,
Hann), so each feature describes the time of the frame's first sample: the window's centre.
"""

import numpy as np

AUDIO_FEATURES = ('rms', 'onset_strength')


class AudioFeatures:
    """The features `AUDIO_FEATURES` of consecutive mono frames of `hop` samples, in that order.

    - rms: root mean square of the frame's own samples [full scale].
    - onset_strength: spectral flux, the mean over frequency of the half-wave rectified increase
      of log-compressed magnitude (log1p(1000 |X|)) since the previous window [dimensionless].
    """

    def __init__(self, hop: int) -> None:
        self.hop = hop
        self.window = np.hanning(2 * hop).astype(np.float32)
        self.reset()

    def reset(self) -> None:
        """Forget the previous frame (after a gap or a clock jump)."""
        self.previous = np.zeros(self.hop, dtype=np.float32)
        self.spectrum: np.ndarray | None = None

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """Features of the next frame (1-D, `hop` samples)."""
        rms = np.sqrt(np.mean(np.square(frame, dtype=np.float64)))
        windowed = np.concatenate([self.previous, frame]) * self.window
        spectrum = np.log1p(1000.0 * np.abs(np.fft.rfft(windowed)))
        flux = 0.0 if self.spectrum is None else np.mean(np.maximum(spectrum - self.spectrum, 0.0))
        self.spectrum = spectrum
        self.previous = frame.astype(np.float32, copy=True)
        return np.array([rms, flux], dtype=np.float32)
