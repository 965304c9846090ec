"""Audio file input on the real rendered performance."""

import numpy as np
import pytest
import soundfile

from musmove.sources.audio import load_audio, match_channels


def test_load_audio_resamples_to_the_requested_rate(groove_wav):
    native, native_rate = soundfile.read(groove_wav, dtype='float32', always_2d=True)
    mono = native.mean(axis=1)
    for rate in (16000, 44100):
        resampled = load_audio(groove_wav, rate)
        assert resampled.dtype == np.float32 and resampled.shape[1] == 1
        assert len(resampled) == pytest.approx(len(native) * rate / native_rate, abs=1)
    # upsampling keeps every component, so the energy stays the same
    assert np.sqrt(np.mean(resampled**2)) == pytest.approx(np.sqrt(np.mean(mono**2)), rel=0.01)


def test_channels_are_down_mixed_or_repeated():
    stereo = np.array([[1.0, 0.0], [0.5, 0.5]], dtype=np.float32)
    np.testing.assert_array_equal(match_channels(stereo, 1), [[0.5], [0.5]])
    np.testing.assert_array_equal(match_channels(stereo[:, :1], 2), [[1.0, 1.0], [0.5, 0.5]])
    with pytest.raises(ValueError, match='cannot map 2 channels to 3'):
        match_channels(stereo, 3)


def test_unreadable_file_is_a_clear_error(tmp_path):
    bad = tmp_path / 'bad.wav'
    bad.write_bytes(b'not audio')
    with pytest.raises(ValueError, match='cannot read audio file'):
        load_audio(bad, 22050)
