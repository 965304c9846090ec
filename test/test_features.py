"""Streaming features frame by frame equal their offline twins on real audio and real motion capture."""

import functools

import librosa
import numpy as np
import pytest
import soundfile
from test_recordings import uci

from musmove.beat.features import OnsetStrength, StreamingSpectrogram, offline_log_mel, offline_onset_strength
from musmove.gesture.kinematics import Kinematics, kinematics
from musmove.sources.recordings import read_mocap

TOLERANCE = 1e-5
# (n_fft, hop, n_mels, fmin, fmax) at the render's 22.05 kHz
SETTINGS = [(2048, 512, 128, 0.0, None), (1024, 441, 40, 30.0, 8000.0), (512, 512, 64, 0.0, None)]


@pytest.fixture(scope='module')
def groove(groove_wav):
    """The Groove render as mono float64 and its sample rate."""
    samples, rate = soundfile.read(groove_wav, always_2d=True)
    return samples.mean(axis=1), rate


def stream_audio(signal: np.ndarray, spectrogram: StreamingSpectrogram) -> tuple[np.ndarray, np.ndarray]:
    hop = spectrogram.hop
    frames = [spectrogram(signal[i : i + hop]) for i in range(0, len(signal) - hop + 1, hop)]
    magnitudes, log_mels = zip(*frames, strict=True)
    return np.array(magnitudes), np.array(log_mels)


@pytest.mark.parametrize(('n_fft', 'hop', 'n_mels', 'fmin', 'fmax'), SETTINGS)
def test_streaming_spectrogram_equals_offline_on_the_groove_render(groove, n_fft, hop, n_mels, fmin, fmax):
    signal, rate = groove
    magnitude, log_mel = stream_audio(signal, StreamingSpectrogram(n_fft, hop, rate, n_mels, fmin, fmax))
    offline_magnitude, offline = offline_log_mel(signal, n_fft, hop, rate, n_mels, fmin, fmax)
    assert log_mel.shape == offline.shape == (len(signal) // hop, n_mels)
    assert magnitude.shape == offline_magnitude.shape == (len(signal) // hop, n_fft // 2 + 1)
    assert np.abs(magnitude - offline_magnitude).max() < TOLERANCE
    assert np.abs(log_mel - offline).max() < TOLERANCE
    assert offline.max() > -30 and offline.min() == -100.0  # the floor, amin = 1e-10
    # the offline twin is librosa's mel spectrogram of the signal with n_fft - hop zeros in front, uncentred
    padded = np.concatenate([np.zeros(n_fft - hop), signal[: len(offline) * hop]])
    mel = librosa.feature.melspectrogram(
        y=padded, sr=rate, n_fft=n_fft, hop_length=hop, center=False, n_mels=n_mels, fmin=fmin, fmax=fmax
    )
    assert np.abs(librosa.power_to_db(mel, top_db=None).T - offline).max() < TOLERANCE


def test_streaming_spectrogram_frames_reset_and_a_tone():
    rate, n_fft, hop = 22050, 2048, 512
    spectrogram = StreamingSpectrogram(n_fft, hop, rate, n_mels=64)
    tone = np.sin(2 * np.pi * 1000.0 * np.arange(8 * hop) / rate)
    magnitude, log_mel = stream_audio(tone, spectrogram)
    assert np.argmax(magnitude[-1]) == round(1000.0 * n_fft / rate)
    mel_centres = librosa.mel_frequencies(64 + 2, fmax=rate / 2)[1:-1]
    assert abs(mel_centres[np.argmax(log_mel[-1])] - 1000.0) < 100.0
    spectrogram.reset()
    np.testing.assert_array_equal(stream_audio(tone, spectrogram)[1], log_mel)
    silent = StreamingSpectrogram(n_fft, hop, rate)(np.zeros(hop))[1]
    assert (silent == -100.0).all()
    with pytest.raises(ValueError, match='expected a frame of 512 samples, got 511'):
        spectrogram(np.zeros(hop - 1))
    with pytest.raises(ValueError, match=r'hop must be in 1\.\.n_fft'):
        StreamingSpectrogram(512, 1024, rate)


@pytest.mark.parametrize(('lag', 'max_size'), [(1, 1), (2, 3)])
def test_onset_strength_streaming_equals_offline_and_librosa(groove, lag, max_size):
    signal, rate = groove
    n_fft, hop = 2048, 512
    _, log_mel = offline_log_mel(signal, n_fft, hop, rate)
    onset = OnsetStrength(lag, max_size)
    streamed = np.array([onset(frame) for frame in log_mel])
    offline = offline_onset_strength(log_mel, lag, max_size)
    assert np.abs(streamed - offline).max() < TOLERANCE and (offline[:lag] == 0).all() and offline.max() > 5
    ours = librosa.onset.onset_strength(S=log_mel.T, lag=lag, max_size=max_size, center=False)
    assert np.abs(ours - offline).max() < TOLERANCE
    # librosa from the signal: the same framing (n_fft - hop zeros in front, uncentred), but its power_to_db
    # clips 80 dB below the loudest band of the whole signal, which a causal feature cannot know
    padded = np.concatenate([np.zeros(n_fft - hop), signal[: len(log_mel) * hop]])
    uncentred = functools.partial(librosa.feature.melspectrogram, center=False)
    kwargs = {'sr': rate, 'n_fft': n_fft, 'hop_length': hop, 'lag': lag, 'max_size': max_size}
    from_signal = librosa.onset.onset_strength(y=padded, center=False, feature=uncentred, **kwargs)
    clipped = offline_onset_strength(np.maximum(log_mel, log_mel.max() - 80.0), lag, max_size)
    assert np.abs(from_signal - clipped).max() < TOLERANCE
    assert np.corrcoef(from_signal, offline)[0, 1] > 0.9
    # librosa's default (centred frames, shifted by n_fft // (2 hop)) is the same one frame later
    default = librosa.onset.onset_strength(y=signal, **kwargs)
    assert np.abs(default[lag + 2 : len(clipped) + 1] - clipped[lag + 1 :]).max() < TOLERANCE


def test_onset_strength_reset():
    onset = OnsetStrength()
    quiet, loud = np.zeros(8), np.full(8, 3.0)
    assert [onset(quiet), onset(loud), onset(quiet), onset(loud)] == [0.0, 3.0, 0.0, 3.0]
    onset.reset()
    assert onset(loud) == 0.0
    with pytest.raises(ValueError, match='at least 1'):
        OnsetStrength(lag=0)


@pytest.mark.parametrize('name', ['a1', 'b3'])
def test_kinematics_streaming_equals_offline_on_uci_mocap(name):
    mocap = read_mocap(uci(name))
    rate = 1 / np.median(np.diff(mocap.times))
    joint = mocap.joint_names.index
    triplets = [
        (joint('right_hand'), joint('right_wrist'), joint('spine')),
        (joint('head'), joint('spine'), joint('left_wrist')),
    ]
    offline = kinematics(mocap.positions, rate, triplets)
    streaming = Kinematics(rate, triplets)
    streamed = [np.array(field) for field in zip(*(streaming(frame) for frame in mocap.positions), strict=True)]
    for field, values, expected in zip(offline._fields, streamed, offline, strict=True):
        assert values.shape == expected.shape, field
        assert np.abs(values - expected).max() < TOLERANCE * max(1.0, np.abs(expected).max()), field
    assert offline.speed.shape == (len(mocap.times), 6) and offline.angles.shape == (len(mocap.times), 2)
    assert (offline.jerk[3:].max(axis=0) > 0).all() and (offline.angles > 0).all() and (offline.angles < np.pi).all()


def test_kinematics_of_a_circle_and_a_bent_arm():
    rate, radius, omega = 100.0, 0.5, 2 * np.pi
    t = np.arange(50) / rate
    circle = radius * np.stack([np.cos(omega * t), np.sin(omega * t), np.zeros_like(t)], axis=1)
    shoulder, elbow = np.zeros_like(circle), np.tile([0.5, 0.0, 0.0], (len(t), 1))
    positions = np.stack([shoulder, elbow, circle + elbow, circle], axis=1)  # hand circles around the elbow
    motion = kinematics(positions, rate, [(0, 1, 2), (0, 1, 0)])
    # the k-th backward difference of a uniform circular motion has magnitude r (2 sin(omega / 2 rate) rate)^k
    step = 2 * np.sin(omega / (2 * rate)) * rate
    for order, values in enumerate([motion.speed, motion.acceleration, motion.jerk], 1):
        assert (values[:order] == 0).all() and (values[:, :2] == 0).all()
        np.testing.assert_allclose(values[order:, 2:], radius * step**order, rtol=1e-9)
    np.testing.assert_allclose(motion.angles[:, 0], np.pi - np.abs(np.angle(np.exp(1j * omega * t))), atol=1e-9)
    assert (motion.angles[:, 1] == 0).all()
    streaming = Kinematics(rate, [(0, 1, 2)])
    first = [streaming(frame) for frame in positions[:5]]
    streaming.reset()
    assert streaming(positions[0]).speed.tolist() == first[0].speed.tolist() == [0.0] * 4
