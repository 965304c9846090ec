"""The adaptive oscillator locks to predicted beats, follows tempo drift, and never jumps."""

import numpy as np
import pytest

from musmove.robot.oscillator import Oscillator

DT = 0.01  # control period [s]
EVERY = 5  # a prediction every 50 ms, like a beat tracker's hop


def beats_at(bpm_start: float, bpm_end: float, seconds: float, first: float = 0.3) -> np.ndarray:
    """Beat times of a tempo ramping linearly from `bpm_start` to `bpm_end`."""
    t = np.arange(0, seconds + 2, 0.001)
    beat_phase = np.cumsum(np.interp(t, [0, seconds], [bpm_start, bpm_end]) / 60) * 0.001
    return first + np.interp(np.arange(np.floor(beat_phase[-1])), beat_phase, t)


def track(oscillator: Oscillator, beats: np.ndarray, seconds: float, noise: float = 0.0, seed: int = 0):
    """Feed predictions of the next 4 `beats` every 50 ms; (times, phases, frequencies) at each step."""
    rng = np.random.default_rng(seed)
    start = 0.0 if oscillator.time is None else oscillator.time + DT
    times = start + DT * np.arange(round(seconds / DT))
    phases, frequencies = np.empty_like(times), np.empty_like(times)
    for k, t in enumerate(times):
        coming = beats[beats > t][:4]
        if k % EVERY == 0 and len(coming) > 1:
            tempo = 60 / np.diff(coming).mean()
            oscillator.update(t, coming + rng.normal(0, noise, len(coming)), tempo, noise + 0.005, 0.9)
        phases[k], frequencies[k] = oscillator.advance(t), oscillator.frequency
    return times, phases, frequencies


def beat_errors(times: np.ndarray, phases: np.ndarray, frequencies: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """Time [s] by which the oscillator's integer phases precede each beat (phase error / frequency)."""
    beats = beats[(beats > times[0]) & (beats < times[-1])]
    phase = np.interp(beats, times, phases)
    return (phase - np.round(phase)) / np.interp(beats, times, frequencies)


def test_first_prediction_sets_phase_and_tempo():
    oscillator = Oscillator(bpm=90)
    assert oscillator.update(1.0, [1.2, 1.7, 2.2], tempo=120.0)
    assert oscillator.frequency == 2.0
    assert oscillator.phase == pytest.approx(-0.4)  # 0.2 s before a beat at 2 beats/s
    oscillator.advance(1.2)
    assert oscillator.phase == pytest.approx(0.0)


def test_locks_to_120_bpm_from_a_wrong_phase_and_tempo_without_jumps():
    oscillator = Oscillator()
    oscillator.update(0.0, [0.05], tempo=100.0)  # a first, wrong guess: 100 BPM, off-beat
    beats = beats_at(120, 120, 20)
    times, phases, frequencies = track(oscillator, beats, 20, noise=0.005)
    late = times > 10
    assert np.abs(beat_errors(times, phases, frequencies, beats)[0]) > 0.05  # seconds, at the start
    errors = beat_errors(times[late], phases[late], frequencies[late], beats)
    assert np.abs(errors).mean() < 0.003
    assert np.abs(frequencies[late] - 2.0).max() < 0.02
    rate = np.diff(phases) / DT
    assert np.all(np.abs(rate - frequencies[1:]) <= oscillator.max_phase_rate + 1e-9)  # bounded corrections
    assert np.all(np.abs(np.diff(frequencies)) <= oscillator.max_frequency_rate * DT + 1e-12)


def test_follows_a_drifting_tempo():
    oscillator = Oscillator()
    beats = beats_at(96, 136, 30)
    times, phases, frequencies = track(oscillator, beats, 30, noise=0.005)
    errors = beat_errors(times[times > 3], phases[times > 3], frequencies[times > 3], beats)
    # seconds, with a tempo change of 40 BPM in 30 s; the loop follows a little of the predictions' 5 ms noise
    assert np.abs(errors).max() < 0.0075
    assert np.abs(errors).mean() < 0.002
    assert frequencies[-1] * 60 == pytest.approx(136, abs=1.5)


@pytest.mark.parametrize(('max_phase_rate', 'back_by'), [(None, 1), (0.25, 2)])
def test_a_tracker_that_turns_late_after_a_tempo_step_is_caught_up_within_beats(max_phase_rate, back_by):
    """Locked at 117 BPM; the predictions turn to 107 BPM with the next beat 200 ms after the old grid (a tracker that
    heard the new period late): the default catches up by the 2nd beat, the former 0.25 beats/s only by the 3rd."""
    oscillator = Oscillator() if max_phase_rate is None else Oscillator(max_phase_rate=max_phase_rate)
    before = beats_at(117, 117, 10)
    track(oscillator, before, 10)
    after = before[before > 10][0] + 0.2 + 60 / 107 * np.arange(20)
    errors = np.abs(beat_errors(*track(oscillator, after, 8), after))
    assert errors[0] > 0.1 and errors[back_by - 1] > 0.015  # seconds: still off at the first beats
    assert errors[back_by:].max() < 0.015, errors


@pytest.mark.parametrize('octave', [2, 0.5])
def test_tempo_octave_errors_leave_the_oscillator_alone(octave):
    """A tracker that switches to double or half the tempo does not disturb a locked oscillator."""
    beats = beats_at(120, 120, 16)
    oscillator = Oscillator()
    track(oscillator, beats, 4)
    flipped = np.sort(np.concatenate([beats, beats + 0.25])) if octave == 2 else beats[::2]
    times, phases, frequencies = track(oscillator, flipped, 12)
    assert np.abs(frequencies - 2.0).max() < 1e-3
    assert np.abs(beat_errors(times, phases, frequencies, beats)).max() < 0.002


def test_free_runs_and_reports_stale_when_predictions_stop():
    oscillator = Oscillator(timeout=0.5)
    track(oscillator, beats_at(110, 110, 5), 5)
    frequency, phase, last = oscillator.frequency, oscillator.phase, oscillator.updated
    assert not oscillator.stale(last + 0.4) and oscillator.stale(last + 0.6)
    oscillator.advance(oscillator.time + 3.0)
    assert oscillator.frequency == frequency
    assert oscillator.phase == pytest.approx(phase + 3.0 * frequency)


def test_unusable_predictions_are_ignored():
    oscillator = Oscillator()
    assert not oscillator.update(0.0, [np.nan, np.inf])
    assert not oscillator.update(0.0, [0.5], confidence=0.0)
    assert not oscillator.update(0.0, [])
    assert not oscillator.locked


def test_command_phase_leads_by_the_latency():
    oscillator = Oscillator(latency=0.05)
    oscillator.update(0.0, [0.5, 1.0], tempo=120.0)
    assert oscillator.command_phase - oscillator.phase == pytest.approx(0.1)
