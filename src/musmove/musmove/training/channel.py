"""A realistic recording channel for rendered audio: tempo, room, microphone, noise, dynamics, band, gain.

`augment(audio, rng)` applies, in this order, each step with its probability (parameters drawn uniformly):

| step | probability | parameters |
| --- | ---: | --- |
| tempo change by resampling (pitch moves with it) | 0.5 | factor 0.9-1.1; the labels are divided by it |
| room reverb: exponentially decaying noise | 0.7 | RT60 0.2-1.2 s, direct-to-reverberant ratio 0-15 dB |
| microphone colour: shelves and a peak | 0.7 | shelves 80-400 Hz, 2-8 kHz, +-9 dB; peak 300-4000 Hz, +-6 dB, Q 0.7-2 |
| band-limiting: 2nd-order Butterworth high- and low-pass | 0.5 | 30-200 Hz, 3.5-10 kHz |
| compression (RMS, 10 ms window) | 0.5 | threshold -30 to -10 dB re RMS, ratio 2-6 |
| additive noise, white to brown (spectral slope) | 0.7 | SNR 10-40 dB, slope 0-2 (1/f^slope power) |
| gain | 1 | peak at -24 to -1 dBFS |

Every filter is causal and has its impulse response's direct part at lag 0, so a sound stays where it was
(within a fraction of a millisecond of group delay); the length is kept except by the tempo change.
"""

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
from scipy import fft, signal

SAMPLE_RATE = 22050


@dataclass
class Applied:
    """What `augment` did: the tempo factor (labels / factor) and each step's parameters."""

    factor: float = 1.0
    steps: dict[str, dict[str, float]] = field(default_factory=dict)


def resample(audio: np.ndarray, factor: float) -> tuple[np.ndarray, float]:
    """Audio played `factor` times faster (resampled, same rate) and the exact factor used (a ratio of integers)."""
    ratio = Fraction(factor).limit_denominator(200)
    return signal.resample_poly(audio, ratio.denominator, ratio.numerator), float(ratio)


def impulse_response(rt60: float, drr_db: float, rng: np.random.Generator, rate: int = SAMPLE_RATE) -> np.ndarray:
    """A unit direct path at lag 0 and a tail of noise decaying by 60 dB in `rt60` s, `drr_db` below it in energy."""
    length = int(1.2 * rt60 * rate)
    t = np.arange(1, length) / rate
    tail = rng.standard_normal(length - 1) * 10 ** (-3 * t / rt60)
    tail *= np.sqrt(10 ** (-drr_db / 10) / np.sum(tail**2))
    return np.concatenate([[1.0], tail])


def _biquad(kind: str, frequency: float, gain_db: float, q: float, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """RBJ audio-EQ-cookbook shelving and peaking filters."""
    a = 10 ** (gain_db / 40)
    w = 2 * np.pi * frequency / rate
    cos, alpha = np.cos(w), np.sin(w) / (2 * q)
    if kind == 'peak':
        b = [1 + alpha * a, -2 * cos, 1 - alpha * a]
        den = [1 + alpha / a, -2 * cos, 1 - alpha / a]
    else:
        sign = 1 if kind == 'low' else -1
        root = 2 * np.sqrt(a) * alpha
        b = [
            a * ((a + 1) - sign * (a - 1) * cos + root),
            sign * 2 * a * ((a - 1) - sign * (a + 1) * cos),
            a * ((a + 1) - sign * (a - 1) * cos - root),
        ]
        den = [
            (a + 1) + sign * (a - 1) * cos + root,
            -sign * 2 * ((a - 1) + sign * (a + 1) * cos),
            (a + 1) + sign * (a - 1) * cos - root,
        ]
    return np.array(b) / den[0], np.array(den) / den[0]


def colour(audio: np.ndarray, params: dict[str, float], rate: int = SAMPLE_RATE) -> np.ndarray:
    for kind, frequency, gain, q in (
        ('low', params['low_hz'], params['low_db'], 0.707),
        ('peak', params['peak_hz'], params['peak_db'], params['peak_q']),
        ('high', params['high_hz'], params['high_db'], 0.707),
    ):
        audio = signal.lfilter(*_biquad(kind, frequency, gain, q, rate), audio)
    return audio


def compress(audio: np.ndarray, threshold_db: float, ratio: float, rate: int = SAMPLE_RATE) -> np.ndarray:
    """Feed-forward RMS compression (10 ms one-pole power average), threshold relative to the signal's RMS."""
    pole = np.exp(-1 / (0.010 * rate))
    power = signal.lfilter([1 - pole], [1, -pole], audio**2)
    level = 10 * np.log10(power + 1e-12) - 10 * np.log10(np.mean(audio**2) + 1e-12)
    over = np.maximum(level - threshold_db, 0)
    return audio * 10 ** (-over * (1 - 1 / ratio) / 20)


def noise(length: int, slope: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise with power falling as 1/f^slope, unit RMS."""
    size = fft.next_fast_len(length, real=True)
    spectrum = fft.rfft(rng.standard_normal(size))
    frequency = np.maximum(fft.rfftfreq(size), 1 / size)
    shaped = fft.irfft(spectrum * frequency ** (-slope / 2), size)[:length]
    return shaped / (np.sqrt(np.mean(shaped**2)) + 1e-12)


def _rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(audio**2)) + 1e-12)


def augment(audio: np.ndarray, rng: np.random.Generator, rate: int = SAMPLE_RATE) -> tuple[np.ndarray, Applied]:
    """Mono `audio` through the channel of the module docstring (float64); what was done."""
    applied = Applied()
    steps = applied.steps
    if rng.random() < 0.5:
        audio, applied.factor = resample(audio, rng.uniform(0.9, 1.1))
        steps['tempo'] = {'factor': applied.factor}
    length = len(audio)
    if rng.random() < 0.7:
        room = {'rt60': rng.uniform(0.2, 1.2), 'drr_db': rng.uniform(0, 15)}
        audio = signal.fftconvolve(audio, impulse_response(room['rt60'], room['drr_db'], rng, rate))[:length]
        steps['reverb'] = room
    if rng.random() < 0.7:
        eq = {
            'low_hz': rng.uniform(80, 400),
            'low_db': rng.uniform(-9, 9),
            'peak_hz': rng.uniform(300, 4000),
            'peak_db': rng.uniform(-6, 6),
            'peak_q': rng.uniform(0.7, 2),
            'high_hz': rng.uniform(2000, 8000),
            'high_db': rng.uniform(-9, 9),
        }
        audio = colour(audio, eq, rate)
        steps['colour'] = eq
    if rng.random() < 0.5:
        band = {'high_pass_hz': rng.uniform(30, 200), 'low_pass_hz': rng.uniform(3500, 10000)}
        audio = signal.sosfilt(signal.butter(2, band['high_pass_hz'], 'highpass', fs=rate, output='sos'), audio)
        audio = signal.sosfilt(signal.butter(2, band['low_pass_hz'], 'lowpass', fs=rate, output='sos'), audio)
        steps['band'] = band
    if rng.random() < 0.5:
        dynamics = {'threshold_db': rng.uniform(-30, -10), 'ratio': rng.uniform(2, 6)}
        audio = compress(audio, dynamics['threshold_db'], dynamics['ratio'], rate)
        steps['compression'] = dynamics
    if rng.random() < 0.7:
        hiss = {'snr_db': rng.uniform(10, 40), 'slope': rng.uniform(0, 2)}
        audio = audio + noise(length, hiss['slope'], rng) * _rms(audio) * 10 ** (-hiss['snr_db'] / 20)
        steps['noise'] = hiss
    peak_db = rng.uniform(-24, -1)
    audio = audio * 10 ** (peak_db / 20) / (np.abs(audio).max() + 1e-12)
    steps['gain'] = {'peak_dbfs': peak_db}
    return audio, applied
