"""Live latency and asynchrony measurement of the controller, on joint motion with known answers."""

import numpy as np
import pytest

from musmove.robot.measurement import LATENCY_SLEW, LatencyEstimator, MotionLog, event_kind, live_asynchrony
from musmove.robot.moves import PANDA_MOVES, Move

DT = 0.01


def logged(delay: float, seconds: float = 6.0, bpm: float = 120.0) -> MotionLog:
    """A two-joint log: joint 0 nods at `bpm`, measured `delay` s after it is commanded; beats on its minima."""
    log = MotionLog(2, span=8.0)
    frequency = bpm / 60
    for t in np.arange(0.0, seconds, DT):
        log.commands.append((t, np.array([0.2 * np.cos(2 * np.pi * frequency * t), 0.0])))
        measured = t - delay
        log.states.append((t, np.array([0.2 * np.cos(2 * np.pi * frequency * measured), 0.0])))
    log.beats.extend(delay + (np.arange(int(seconds * frequency)) + 0.5) / frequency)
    return log


def test_latency_is_measured_from_commanded_and_measured_motion():
    estimator = LatencyEstimator(window=4.0, dt=DT, initial=0.0)
    estimator.measure(logged(0.083), 6.0)
    assert estimator.target == pytest.approx(0.083, abs=0.003)
    assert len(estimator.estimates) == 1


def test_no_estimate_without_enough_motion():
    estimator = LatencyEstimator(window=4.0, dt=DT, initial=0.05)
    estimator.measure(logged(0.083, seconds=1.5), 1.5)  # less than half the window
    still = MotionLog(2, span=8.0)
    still.commands.extend((t, np.zeros(2)) for t in np.arange(0, 6, DT))
    still.states.extend((t, np.zeros(2)) for t in np.arange(0, 6, DT))
    estimator.measure(still, 6.0)
    estimator.measure(logged(0.083), 6.0, since=4.5)  # at full level for less than half the window: a prior holds
    assert estimator.target == 0.05 and not estimator.estimates
    estimator.measure(logged(0.083), 6.0, since=3.0)  # at full level for 3 s: measured over those
    assert estimator.target == pytest.approx(0.083, abs=0.003)


def test_the_latency_in_use_slews_towards_the_target():
    estimator = LatencyEstimator(window=4.0, dt=DT, initial=0.1)
    assert estimator.slew(0.0, 0.5) == pytest.approx(0.5 * LATENCY_SLEW)
    assert estimator.slew(0.09, 1.0) == pytest.approx(0.1)  # no overshoot
    assert estimator.slew(0.2, 0.1) == pytest.approx(0.2 - 0.1 * LATENCY_SLEW)


def test_live_asynchrony_of_the_marking_joint():
    log = logged(0.0)
    move = Move('test', ('a', 'b'), (0.2, 0.0))  # centred: both reversals mark beats
    result, newest = live_asynchrony(log, 6.0, 4.0, 0, move)
    assert result.matched >= 6 and result.missed == 0
    assert abs(result.mean) < 0.002 and newest > 5.0
    shifted = MotionLog(2, span=8.0)
    shifted.states.extend(log.states)
    shifted.beats.extend(b - 0.03 for b in log.beats)  # the robot is 30 ms late
    late, _ = live_asynchrony(shifted, 6.0, 4.0, 0, move)
    assert late.mean == pytest.approx(0.03, abs=0.002)


def test_trim_keeps_the_span():
    log = logged(0.0, seconds=20.0)
    log.trim(20.0)
    assert min(t for t, _ in log.states) >= 20.0 - 8.0 - 1.0 - 1e-9
    assert min(log.beats) >= 20.0 - 8.0 - 1.0


def test_event_kind_follows_the_move():
    assert event_kind(PANDA_MOVES['nod']) in ('min', 'max', 'both')
    assert event_kind(Move('up', ('a',), (0.1,), centred=False)) == 'min'
    assert event_kind(Move('down', ('a',), (-0.1,), centred=False)) == 'max'
    assert event_kind(Move('c', ('a',), (0.1,))) == 'both'
