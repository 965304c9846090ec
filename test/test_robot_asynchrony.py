"""Movement events, their asynchrony to beats, and latency, on signals with known answers."""

import numpy as np
import pytest

from musmove.robot.asynchrony import asynchrony, detect_events, estimate_latency


def test_extrema_are_found_between_samples():
    t = np.arange(0, 5, 0.01)  # 100 Hz
    x = np.cos(2 * np.pi * 1.3 * (t - 0.0123))
    period = 1 / 1.3
    maxima = 0.0123 + period * np.arange(7)
    minima = maxima + period / 2
    np.testing.assert_allclose(detect_events(t, x, 'max'), maxima[maxima < 4.99], atol=1e-4)
    np.testing.assert_allclose(detect_events(t, x, 'min'), minima[minima < 4.99], atol=1e-4)
    both = detect_events(t, x, 'both')
    assert len(both) == len(detect_events(t, x, 'max')) + len(detect_events(t, x, 'min'))
    velocity = -2 * np.pi * 1.3 * np.sin(2 * np.pi * 1.3 * (t - 0.0123))
    np.testing.assert_allclose(detect_events(t, x, 'max', velocities=velocity), maxima[maxima < 4.99], atol=1e-4)


def test_jitter_below_the_prominence_is_ignored():
    rng = np.random.default_rng(1)
    t = np.arange(0, 4, 0.004)
    x = np.sin(2 * np.pi * t) + 1e-3 * rng.standard_normal(len(t))
    assert len(detect_events(t, x, 'max')) > 4  # wiggles of the noise near the peaks
    events = detect_events(t, x, 'max', prominence=0.1)
    np.testing.assert_allclose(events, 0.25 + np.arange(4), atol=0.02)
    with pytest.raises(ValueError):
        detect_events(t, x, 'peak')


def test_asynchrony_statistics():
    beats = np.arange(1, 11) * 0.5
    offsets = np.array([0.01, -0.02, 0.0, 0.03, -0.01, 0.02, 0.0, 0.01, -0.01, 0.02])
    events = np.concatenate([beats + offsets, [2.25]])  # and a stray event off the beat
    result = asynchrony(events, np.concatenate([beats, [6.0]]))  # and a beat with no event
    assert result.matched == 10 and result.missed == 1
    assert result.mean == pytest.approx(offsets.mean())
    assert result.sd == pytest.approx(offsets.std())
    assert result.mean_absolute == pytest.approx(np.abs(offsets).mean())
    assert 'mean +5.0 ms' in str(result)
    assert asynchrony(np.empty(0), beats).missed == 10


def test_latency_of_a_delayed_and_smoothed_command():
    rng = np.random.default_rng(2)
    t = np.arange(0, 20, 0.01)
    commanded = np.cumsum(np.cumsum(rng.standard_normal((len(t), 2)), axis=0), axis=0) * 1e-4  # smooth, random
    delay = 0.037
    measured_times = t + 0.004  # stamped on another clock tick
    measured = np.column_stack([np.interp(measured_times - delay, t, column) for column in commanded.T])
    assert estimate_latency(t, commanded, measured_times, measured) == pytest.approx(delay, abs=0.002)
    assert estimate_latency(t, commanded[:, 0], t, commanded[:, 0]) == pytest.approx(0.0, abs=1e-6)
