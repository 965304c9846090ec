"""Metrical-level measures (lock time, octave errors), the bias against performed notes, and the peers."""

import numpy as np
import pytest

from musmove.evaluation import peers
from musmove.evaluation.beats import RATE, extrapolated, prediction_errors, scores
from musmove.evaluation.metrical import lock_time, lock_times, octave_error, same_level, tempo_ratio
from musmove.evaluation.performed import bias, heard_beats, note_onsets, performed_beats, render_delay
from musmove.evaluation.session import CLICK, PERFORMED, WINDOWS, robot_timing
from musmove.sources.audio import load_audio
from musmove.sources.data import bundled
from musmove.training.beat_data import metronome

REFERENCE = np.arange(40) * 0.5  # 120 BPM from 0 s


def test_lock_time_at_the_annotated_level():
    assert lock_time(REFERENCE, REFERENCE) == 0.0
    late = REFERENCE[REFERENCE >= 3.2] + 0.03  # within 70 ms from the beat at 3.5 s
    assert lock_time(REFERENCE, late) == 3.5
    jittered = REFERENCE + np.where(np.arange(40) % 3 == 2, 0.1, 0.0)  # every third beat 100 ms off
    assert lock_time(REFERENCE, jittered) == np.inf, 'never 4 in a row'
    assert lock_time(REFERENCE, np.r_[REFERENCE[:3], REFERENCE[4:]]) == 2.0, 'a missed beat restarts the run'


def test_lock_time_at_other_levels():
    double = np.arange(80) * 0.25
    assert lock_time(REFERENCE, double) == np.inf, 'twice the tempo: extra beats between the matched ones'
    assert lock_times(REFERENCE, double) == (np.inf, 0.0)
    assert lock_times(REFERENCE, REFERENCE[1::2])[1] == 0.5, 'half the tempo, odd beats: from the second beat'
    assert lock_times(REFERENCE, REFERENCE + 0.25)[1] == 0.25, 'off-beat: locked at the first off-beat'
    assert lock_times(REFERENCE, np.arange(120) / 6)[1] == 0.0, 'three times the tempo'
    assert lock_times(REFERENCE, np.r_[double[double < 5], REFERENCE[REFERENCE >= 5]]) == (5.0, 0.0)


def test_octave_errors_and_levels():
    assert [same_level(r) for r in (1.0, 1.2, 1 / 1.2, 1.5, 2 / 3, 2.0, 0.5)] == [True] * 3 + [False] * 4
    assert tempo_ratio(REFERENCE, np.arange(80) * 0.25, 0.0) == 2.0
    assert octave_error(REFERENCE, np.arange(80) * 0.25, 0.0) == 1.0
    assert octave_error(REFERENCE, REFERENCE + 0.25, 0.0) == 0.0, 'the off-beat is the annotated tempo'
    assert octave_error(REFERENCE, REFERENCE[::2], 0.0) == 1.0
    switching = np.r_[REFERENCE[REFERENCE < 6], np.arange(24, 80) * 0.25]  # doubles at 6 s, for most of the file
    assert octave_error(REFERENCE, switching, 0.0) == 1.0 and octave_error(REFERENCE, switching, 18.0) == 1.0
    assert np.isnan(octave_error(REFERENCE, np.array([1.0]), 0.0))


def test_predictions_at_another_level_do_not_count():
    made, predicted, periods = extrapolated(np.arange(80) * 0.25)  # a tracker at twice the tempo
    assert np.allclose(predicted - made, 0.25) and np.allclose(periods, 0.25)
    anywhere = prediction_errors(REFERENCE, made, predicted)
    assert np.nanmax(np.abs(anywhere)) < 1e-9, 'without periods, the doubled predictions hit every beat'
    assert np.isnan(prediction_errors(REFERENCE, made, predicted, periods=periods)).all()
    made, predicted, periods = extrapolated(REFERENCE + 0.01)
    errors = prediction_errors(REFERENCE, made, predicted, periods=periods)
    np.testing.assert_allclose(errors, 10.0, err_msg='at the annotated level every beat is predicted, 10 ms late')


def test_bias_against_the_performed_notes():
    onsets = REFERENCE - 0.01  # the drummer 10 ms ahead of the click
    performed = performed_beats(REFERENCE, np.r_[onsets, 30.0], delay=0.006)
    np.testing.assert_allclose(performed, REFERENCE - 0.004)
    assert np.isnan(performed_beats(REFERENCE, np.array([100.0]), 0.0)).all(), 'no note near any beat'
    offsets = bias(REFERENCE, REFERENCE + 0.007, performed, start=5.0)
    assert offsets.size == 30 and np.allclose(offsets, 11.0)
    assert bias(REFERENCE, REFERENCE + 0.2, performed).size == 0, 'a beat 200 ms away matches no note'


def test_render_delay_and_the_notes_of_a_performance():
    delay = render_delay(RATE)
    assert 0.003 < delay < 0.009, 'fluidsynth starts a note 1-2 blocks of 64 samples late'
    midi = bundled('groove_drummer3_rock_120.mid')
    onsets, click = note_onsets(midi), metronome(midi)[0]
    assert onsets.size > 100 and np.all(np.diff(onsets) > 0)
    performed = performed_beats(click, onsets, delay)
    ahead = np.nanmedian(performed - delay - click)
    assert 0.005 < ahead < 0.02, 'this drummer plays about 13 ms behind the metronome'


def test_the_performed_beat_is_the_drum_note_of_each_click_as_rendered():
    midi = bundled('groove_drummer3_rock_120.mid')
    performed, click = heard_beats(midi)
    onsets, delay = note_onsets(midi), render_delay(RATE)
    assert click.size == performed.size and np.isfinite(performed).mean() > 0.9
    played = np.isfinite(performed)
    assert np.all(np.abs(performed[played] - delay - click[played]) <= min(0.06, 0.5 / 8) + 1e-9)
    assert np.all(np.isin(np.round(performed[played] - delay, 9), np.round(onsets, 9))), 'a drum note, moved'
    assert 0.015 < np.median(performed[played] - click[played]) < 0.03, 'behind the click, and the render delay'


def test_the_robot_is_scored_from_the_lock_and_from_its_first_movement():
    performed = REFERENCE + 0.02
    observed = np.r_[0.3, 0.9, 1.6, performed[performed >= 3.0] + 0.005]  # searching, then locked at 3.02 s
    events = performed[performed >= 2.5] + np.where(np.arange(40)[performed >= 2.5] % 2, 0.01, -0.01)
    timing = robot_timing(events, (2.4, 19.6), {PERFORMED: performed, CLICK: REFERENCE}, observed)
    assert timing.lock == pytest.approx(3.02) and timing.moved == 2.4
    from_lock, moved = timing.rows[PERFORMED, WINDOWS[0]], timing.rows[PERFORMED, WINDOWS[1]]
    assert from_lock.matched == 34 and from_lock.missed == 0 and from_lock.mean_absolute == pytest.approx(0.01)
    assert moved.matched == 35 and moved.missed == 0, 'from 2.52 s, the first beat after the first movement'
    assert timing.rows[CLICK, WINDOWS[0]].mean == pytest.approx(0.02, abs=0.002), 'the click is 20 ms earlier'
    assert len(timing.lines()) == 4 and 'from lock (3.0 s)' in timing.lines()[0]


@pytest.mark.parametrize('peer', peers.PEERS)
def test_peers_track_a_real_performance(peer, groove_wav):
    if reason := peers.missing_reason(peer):
        pytest.skip(f'{peer}: {reason}')
    beats = peers.RUN[peer](load_audio(groove_wav, RATE)[:, 0])
    reference = metronome(bundled('groove_drummer3_rock_120.mid'))[0]
    assert scores(reference, beats)['f_measure'] > 0.7  # BeatNet online's particle filter takes a while to settle
