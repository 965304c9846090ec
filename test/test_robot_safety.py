"""The watchdog: smooth start, return home on stale inputs and back, emergency stop within the limits."""

import numpy as np
import pytest

from musmove.robot.limits import JointLimits, Limiter
from musmove.robot.safety import Watchdog

DT = 0.01
LIMITS = JointLimits(('a', 'b', 'c'), [-2.0, -2.0, -1.0], [2.0, 2.0, 1.0], [1.5, 1.0, 2.0], [8.0, 5.0, 10.0])
HOME = np.array([0.2, -0.3, 0.0])


def dance(t: float) -> np.ndarray:
    """A target near the limits of speed: 0.5 rad at 0.45 Hz (1.4 rad/s, 4 rad/s^2)."""
    return HOME + 0.5 * np.sin(2 * np.pi * 0.45 * t + np.array([0.0, 1.0, 2.0])) * [1.0, 0.6, 1.0]


def run(watchdog: Watchdog, seconds: float, beats=lambda t: True, events=None):
    """Step the watchdog at DT; `beats(t)`: whether beats arrive; `events`: {step: callable}."""
    times, commands = [], []
    for k in range(round(seconds / DT)):
        t = k * DT
        watchdog.feed('joint_states', t)
        if beats(t):
            watchdog.feed('beats', t)
        (events or {}).get(k, lambda: None)()
        times.append(t)
        commands.append(watchdog.step(dance(t), t))
    return np.array(times), np.array(commands)


def watchdog_at(position) -> Watchdog:
    watchdog = Watchdog(Limiter(LIMITS, DT, position), HOME, timeout=0.5, ramp=1.0)
    watchdog.start()
    return watchdog


def test_starts_away_from_home_goes_home_slowly_then_fades_the_dance_in():
    watchdog = watchdog_at([1.5, 0.8, -0.9])
    times, commands = run(watchdog, 8.0)
    assert LIMITS.violations(commands, DT) == 0
    velocity = np.diff(commands, axis=0) / DT
    homing = times[1:] < 2.0
    assert np.all(np.abs(velocity[homing]) <= 0.3 * LIMITS.velocity + 1e-9)
    arrived = times[np.argmax(np.all(np.abs(commands - HOME) < 1e-9, axis=1))]
    assert 0.5 < arrived < 4.0
    np.testing.assert_allclose(commands[-1], dance(times[-1]), atol=1e-9)  # the dance, unchanged


def test_stale_beats_bring_the_robot_home_and_fresh_ones_bring_the_dance_back():
    watchdog = watchdog_at(HOME)
    silent = lambda t: not 6.0 <= t < 10.0  # noqa: E731
    times, commands = run(watchdog, 14.0, beats=silent)
    assert LIMITS.violations(commands, DT) == 0
    dancing = (times > 4.0) & (times < 6.45)  # still dancing until the timeout
    np.testing.assert_allclose(commands[dancing], [dance(t) for t in times[dancing]], atol=1e-9)
    home = (times >= 7.6) & (times < 10.0)  # timeout 0.5 s + ramp 1 s, and a few steps
    np.testing.assert_allclose(commands[home], np.broadcast_to(HOME, commands[home].shape), atol=1e-9)
    back = times >= 11.1
    np.testing.assert_allclose(commands[back], [dance(t) for t in times[back]], atol=1e-9)


def test_stop_fades_out_and_start_fades_in():
    watchdog = watchdog_at(HOME)
    times, commands = run(watchdog, 9.0, events={500: watchdog.stop, 700: watchdog.start})
    assert LIMITS.violations(commands, DT) == 0
    home = commands[(times > 6.1) & (times < 7.0)]
    np.testing.assert_allclose(home, np.broadcast_to(HOME, home.shape), atol=1e-9)
    back = times > 8.1
    np.testing.assert_allclose(commands[back], [dance(t) for t in times[back]], atol=1e-9)


def test_emergency_stop_brakes_within_the_limits_and_holds():
    watchdog = watchdog_at(HOME)
    _, commands = run(watchdog, 12.0, events={500: watchdog.estop, 800: watchdog.release})
    assert LIMITS.violations(commands, DT) == 0
    speed = np.abs(commands[500] - commands[499]) / DT
    assert speed.max() > 0.5  # it was moving
    stopped = 500 + int(np.ceil((speed / LIMITS.acceleration).max() / DT)) + 1
    held = commands[stopped:800]
    np.testing.assert_array_equal(held, np.broadcast_to(held[0], held.shape))
    velocity = np.abs(np.diff(commands[500:800], axis=0)) / DT
    assert np.all(np.diff(velocity, axis=0) <= 1e-9)  # braking only, never speeding up
    assert watchdog.gain > 0.99  # released: home, then danced again


def test_unknown_inputs_are_refused():
    with pytest.raises(KeyError):
        watchdog_at(HOME).feed('gestures', 0.0)
