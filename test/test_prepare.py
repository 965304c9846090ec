"""The prepared beat data: POP909's metrical level, the render delay, labels on the rendered notes, determinism,
mixtures and the channel (real data sets from the shared data folder, real fluidsynth renders)."""

from pathlib import Path

import numpy as np
import pytest
from test_beat_data import shared_set

from musmove.training import beats, channel, pop909, prepare, rendering
from musmove.training.beat_data import groove_examples
from musmove.training.midi import onsets, read


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv('MUSMOVE_CACHE', str(tmp_path / 'cache'))
    return tmp_path / 'cache'


def steepest_rise(audio: np.ndarray, times: np.ndarray, rate: int = rendering.SAMPLE_RATE) -> np.ndarray:
    """Time (s) of the steepest rise of a 1 ms RMS envelope within -20..+30 ms of each of `times`."""
    envelope = np.sqrt(np.convolve(audio**2, np.ones(22) / 22, 'same'))
    found = []
    for time in times:
        start = int((time - 0.02) * rate)
        found.append((start + int(np.argmax(np.diff(envelope[start : start + int(0.05 * rate)])))) / rate)
    return np.array(found)


@pytest.mark.parametrize(('song', 'level'), [('021', 2), ('100', 2), ('022', 1), ('500', 1), ('088', 1), ('171', None)])
def test_pop909_metrical_level_rule_on_real_songs(song, level):
    folder = shared_set('pop909') / 'pop909' / 'POP909' / song
    decided = pop909.felt_beats(folder)
    if level is None:  # r = 1.5: compound feel, left out
        assert decided is None
        return
    beats, downbeats, found = decided
    midi_beats = np.loadtxt(folder / 'beat_midi.txt')[:, 0]
    assert found == level
    assert len(beats) == level * len(midi_beats) - (level - 1)
    assert np.all(np.diff(beats) > 0) and np.isin(downbeats, beats).all()
    bar = np.median(np.diff(np.searchsorted(beats, downbeats)))
    assert bar == 4  # 4 felt beats a bar in all of these songs
    # the felt tempo is the original recording's (beat_audio.txt) within 10 %
    audio = np.loadtxt(folder / 'beat_audio.txt')[:, 0]
    felt = np.median(np.diff(beats)) / np.median(np.diff(audio))
    assert 0.9 < felt < 1.1 or (song == '088' and 0.45 < felt < 0.55)


def test_pop909_programs_are_seeded_per_song_and_within_families():
    first, again, other = pop909.programs('021'), pop909.programs('021'), pop909.programs('022')
    assert first == again and first != other
    assert pop909.BASS[0] <= first[pop909.BASS_CHANNEL] <= pop909.BASS[1]
    melody_programs = {p for lo, hi in pop909.MELODY_FAMILIES for p in range(lo, hi + 1)}
    assert first[0] in melody_programs and first[1] in melody_programs


def test_render_delay_is_a_few_milliseconds(cache):
    delays = rendering.measured_delays()
    assert set(delays) == set(rendering.SOUNDFONTS)
    assert all(0.003 < delay < 0.010 for delay in delays.values()), delays


def test_groove_labels_land_on_the_rendered_drum_notes(cache):
    example = groove_examples(shared_set('groove-midi'), 'train')[10]
    played, downbeats = prepare._groove_beats(example)
    assert np.isin(downbeats, played).all()
    assert np.median(played - example.beats) < -0.002  # the drummer plays ahead of the click
    for font in ('FluidR3_GM', 'TimGM6mb'):
        audio = rendering.render_events(read(example.midi), font, None, f'labels-{font}')
        labels = played + rendering.measured_delays()[font]
        error = steepest_rise(audio, labels[2:-2]) - labels[2:-2]
        assert abs(np.median(error)) < 0.003, (font, np.median(error))


def test_a_mixture_puts_the_band_on_the_drummers_beats():
    root = shared_set('pop909')
    drums = [e for e in groove_examples(root, 'train') if e.time_signature == '4/4'][5]
    band = prepare.four_four_songs(pop909.examples(root, 'train')[:20])[3]
    played, _ = prepare._groove_beats(drums)
    first = int(np.flatnonzero(np.isin(band.beats, band.downbeats))[2])
    warped = onsets(rendering.warp(pop909.arranged(band.midi), np.asarray(band.beats), first, played))
    count = min(len(played), len(band.beats) - first)
    nearest = np.array([np.min(np.abs(warped - t)) for t in played[:count]])
    original = onsets(read(band.midi))
    on_beats = np.array([np.min(np.abs(original - t)) for t in band.beats[first : first + count]])
    assert np.mean(nearest < 0.002) >= np.mean(on_beats < 0.002) - 0.02  # the band's beats moved with the warp
    assert warped.max() <= played[count - 1] + 1e-6


def test_the_same_example_prepares_the_same_render_and_features(tmp_path, monkeypatch):
    example = pop909.examples(shared_set('pop909'), 'validation')[0]
    results = []
    for run in ('a', 'b'):
        monkeypatch.setenv('MUSMOVE_CACHE', str(tmp_path / run))
        stored = np.load(prepare.prepare_one('pop909', example.name, (example,), tmp_path / run / 'out'))
        wavs = sorted((tmp_path / run / 'render').glob('pop909*.wav'))
        results.append(([w.read_bytes() for w in wavs], stored['features'], stored['beats'], str(stored['info'])))
    (wav_a, *rest_a), (wav_b, *rest_b) = results
    assert wav_a == wav_b and len(wav_a) == 1
    np.testing.assert_array_equal(rest_a[0], rest_b[0])
    np.testing.assert_array_equal(rest_a[1], rest_b[1])
    assert rest_a[2] == rest_b[2]
    assert len(rest_a[1]) > 50 and rest_a[1][-1] < prepare.EXCERPT_S * 1.12


@pytest.mark.parametrize('seed', range(6))
def test_the_channel_keeps_the_length_and_moves_labels_with_the_tempo(seed):
    rate = rendering.SAMPLE_RATE
    clicks = np.arange(1.0, 9.0, 0.5)
    audio = np.zeros(10 * rate)
    audio[(clicks * rate).astype(int)] = 1.0
    out, applied = channel.augment(audio, np.random.default_rng(seed))
    assert len(out) == round(len(audio) / applied.factor) or abs(len(out) - len(audio) / applied.factor) < 2
    assert ('tempo' in applied.steps) == (applied.factor != 1.0)
    labels = clicks / applied.factor
    peaks = []
    for time in labels:
        start = int((time - 0.02) * rate)
        peaks.append((start + int(np.argmax(np.abs(out[start : start + int(0.04 * rate)])))) / rate)
    assert np.max(np.abs(np.array(peaks) - labels)) < 0.002, applied.steps


def test_impulse_response_has_its_rt60_and_direct_to_reverberant_ratio():
    rate = rendering.SAMPLE_RATE
    response = channel.impulse_response(0.6, 6.0, np.random.default_rng(0), rate)
    assert response[0] == 1.0
    assert 10 * np.log10(1 / np.sum(response[1:] ** 2)) == pytest.approx(6.0)
    energy = np.cumsum(response[1:][::-1] ** 2)[::-1]  # Schroeder backward integral
    decay = 10 * np.log10(energy / energy[0])
    t = np.arange(1, len(response)) / rate
    slope = np.polyfit(t[(decay < -5) & (decay > -25)], decay[(decay < -5) & (decay > -25)], 1)[0]
    assert -60 / slope == pytest.approx(0.6, rel=0.1)


def test_a_larger_plan_contains_a_smaller_one():
    root = shared_set('pop909')
    small = prepare.plan('validation', 3, 2, root, groove_count=4, asap_count=2)
    large = prepare.plan('validation', 6, 4, root, groove_count=8, asap_count=4)
    assert {name for _, name, _ in small} < {name for _, name, _ in large}
    assert [d for d, _, _ in small].count('mix') == 2 and [d for d, _, _ in large].count('groove') == 8


def test_prepare_writes_a_manifest_that_training_reads(cache):
    counts = {'pop909': 1, 'mixtures': 1, 'groove': 1, 'asap': 1}
    manifest = prepare.prepare('validation', counts, shared_set('pop909'))
    tracks = prepare.tracks('validation')
    assert sorted(t.name.split('/')[0] for t in tracks) == sorted(prepare.PREPARED)
    assert manifest.is_file() and len(prepare.tracks('validation', ('mix',))) == 1
    for track in tracks:
        seconds = len(track.features) / beats.fps()
        assert track.features.dtype == np.float32 and track.features.shape[1] == beats.LOG_MEL['n_mels']
        assert track.beats[0] >= 0 and track.beats[-1] < seconds and np.isin(track.downbeats, track.beats).all()
