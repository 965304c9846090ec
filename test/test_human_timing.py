"""The human timing references read from the real tapping data sets (skipped, naming the set, where absent)."""

import numpy as np
from test_beat_data import shared_set

from musmove.evaluation import human


def test_baath_madison_people_tap_ahead_of_a_metronome_and_spread_more_at_slow_tempi():
    rows = human.baath_madison(shared_set('human-timing/baath-madison-2012') / 'human-timing')
    assert [row.label for row in rows] == ['ISI 600 ms', 'ISI 1200 ms', 'ISI 1800 ms', 'ISI 2400 ms', 'ISI 3000 ms']
    assert all(row.groups == 30 for row in rows) and sum(row.taps for row in rows) == 17356
    assert all(row.mean < 0 for row in rows)  # the negative mean asynchrony
    assert np.all(np.diff([row.sd for row in rows]) > 0)


def test_tapcorrect_compares_every_song_s_original_taps_with_the_corrected_ones():
    songs = human.tapcorrect(shared_set('human-timing/tapcorrect') / 'human-timing')
    assert len(songs) == 101
    assert all(song.taps > 10 and 0 < song.sd < human.TAP_MATCH for song in songs)
    assert abs(np.median([song.mean for song in songs])) < np.median([song.sd for song in songs])


def test_lopez_laje_period_steps_knock_the_taps_off_then_they_recover():
    root = shared_set('human-timing/lopez-laje-2019') / 'human-timing'
    for experiment, subjects in (('xl', 8), ('main', 26)):
        shorter, longer = human.lopez_laje(root, experiment)
        assert shorter.step < 0 < longer.step and shorter.subjects == longer.subjects == subjects
        first = int(np.flatnonzero(shorter.beats == 1)[0])
        assert np.all(np.abs(shorter.asynchrony[: first - 1]) < human.WITHIN)  # in time before the step
        # a shorter period leaves the next tap late, a longer one early, by about the step
        assert shorter.asynchrony[first] > -shorter.step / 2 and longer.asynchrony[first] < -longer.step / 2
    shorter, longer = human.lopez_laje(root, 'xl')
    assert shorter.recovery() is not None and shorter.recovery() > 1


def test_beats_to_recover_is_the_first_beat_from_which_the_curve_stays_within():
    beats = np.arange(-2, 6)
    curve = np.array([0.0, 0.0, 0.05, 0.03, 0.0, 0.02, 0.0, 0.0])
    assert human.beats_to_recover(beats, curve) == 4  # beat 3 (0.02) is outside, from 4 on within
    assert human.beats_to_recover(beats, np.zeros(8)) == 1
    assert human.beats_to_recover(beats, np.full(8, 0.05)) is None


def test_summary_names_every_reference_with_its_figures():
    lines = human.summary(shared_set('human-timing') / 'human-timing')
    assert len(lines) == 6 and 'Bååth' in lines[1] and 'TapCorrect' in lines[3] and 'López' in lines[4]
    assert all('back within 15 ms at beat' in line for line in lines[4:])
