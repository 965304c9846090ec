"""Known beats steer the motion directly: on the beats after the latency, within the limits, else the oscillator."""

import numpy as np
import pytest

from musmove.robot.asynchrony import asynchrony, detect_events
from musmove.robot.controller import DanceController
from musmove.robot.limits import JointLimits
from musmove.robot.moves import PANDA_HOME, PANDA_MOVES
from musmove.robot.oscillator import Oscillator
from musmove.robot.schedule import BeatSchedule
from musmove.robot.sim import panda_urdf

DT, LATENCY, KNOWN = 0.01, 0.08, 0.25  # s: control period, command-to-motion latency, how early a beat is known
NAMES = list(PANDA_HOME)
HOME = np.array(list(PANDA_HOME.values()))
JOINT = NAMES.index('panda_joint6')  # the nod's marking joint


def performed(count: int, interval: float = 0.5, jitter: float = 0.01, seed: int = 3) -> np.ndarray:
    """Beats as a drummer plays them: `interval` apart, each off the grid by up to `jitter`."""
    grid = 1.0 + interval * np.arange(count)
    return grid + np.random.default_rng(seed).uniform(-jitter, jitter, count)


def dance(beats: np.ndarray, known_until: float, seconds: float, max_std: float = 0.0, interval: float = 0.5):
    """Command times, marking-joint commands, all commands, command phases and the controller, danced to `beats`.

    A prediction every 100 ms: the next beat, known `KNOWN` s before it (time_std 0) until `known_until`, and
    beats on the grid of the newest heard beat (time_std 10 ms), as the beat_tracker sends them in known music.
    """
    limits = JointLimits.from_urdf(panda_urdf(), 10.0, NAMES)
    schedule = BeatSchedule(max_std=max_std)
    oscillator = Oscillator(latency=LATENCY)
    controller = DanceController(limits, HOME, PANDA_MOVES, 'nod', DT, HOME, oscillator, ramp=0.5, schedule=schedule)
    controller.watchdog.start()
    times, commands, phases = np.arange(1, round(seconds / DT)) * DT, [], []
    for t in times:
        controller.on_joint_state(t)
        if round(t / DT) % 10 == 0 and t > beats[0] - 1.0:
            heard = beats[beats <= t]
            last = heard[-1] if heard.size else beats[0] - interval
            guess = last + interval * np.arange(1, 5)
            known = beats[(beats > t) & (beats <= t + KNOWN)]
            if known.size and t <= known_until:
                controller.on_beats(t, [known[0], *guess[guess > known[0] + interval / 2]], 120.0, 0.0, 0.9, t)
            elif t < beats[-1]:
                controller.on_beats(t, guess, 120.0, 0.01, 0.9, t)
        commands.append(controller.step(t))
        phases.append(oscillator.command_phase)
    commands = np.array(commands)
    return times, commands[:, JOINT], commands, np.array(phases), controller


def asynchrony_after(times: np.ndarray, marking: np.ndarray, beats: np.ndarray, start: float, end: float):
    """The robot's movement events (it moves `LATENCY` after each command) against `beats` in [start, end]."""
    events = detect_events(times + LATENCY, marking, 'min', prominence=0.005)
    return asynchrony(events, beats[(beats > start) & (beats < end)])


def test_the_command_phase_reaches_the_next_beat_phase_at_the_beat():
    oscillator = Oscillator(bpm=120.0)
    oscillator.locked = True
    schedule = BeatSchedule()
    schedule.predict(0.0, [1.03, 1.5, 2.0], 120.0, 0.0)
    assert schedule.active(0.0, oscillator)
    phase, start = 0.0, 0.5  # the motion half a cycle before a beat at 1.0 s: it must arrive 30 ms later
    while start + DT < 1.03:
        phase = schedule.command_phase(phase, start, DT, oscillator)
        start += DT
    assert schedule.command_phase(phase, start, 1.03 - start, oscillator) == pytest.approx(1.0)
    schedule.predict(0.5, [1.03], 120.0, 0.02)  # a live prediction (time_std > 0) is not precise
    assert schedule.precise == 0.0 and not schedule.active(0.5 + 1.5 / 2.0 + DT, oscillator)
    assert schedule.command_phase(phase, 1.1, DT, oscillator) is None  # no beat ahead: the oscillator's turn
    assert not BeatSchedule(max_std=-1.0).active(0.0, oscillator)  # never: the oscillator alone
    with pytest.raises(ValueError):
        BeatSchedule(slack=1.0)


def test_known_beats_land_exactly_at_their_times_after_the_latency():
    beats = performed(24)
    times, marking, *_ = dance(beats, np.inf, 13.0)
    direct = asynchrony_after(times, marking, beats, 4.0, 12.5)
    assert direct.missed == 0 and direct.mean_absolute < 0.001  # every beat, on its time to within 1 ms
    times, marking, *_ = dance(beats, np.inf, 13.0, max_std=-1.0)  # the oscillator alone lags the jitter
    filtered = asynchrony_after(times, marking, beats, 4.0, 12.5)
    assert filtered.mean_absolute > 5 * direct.mean_absolute


def test_no_command_beyond_the_limits_when_known_beats_jump():
    beats = performed(30, interval=0.4, jitter=0.06, seed=7)  # 150 BPM, beats up to 60 ms off the grid
    times, _, commands, _, controller = dance(beats, np.inf, 13.0, interval=0.4)
    limits = controller.watchdog.limiter.limits
    velocity = np.diff(commands, axis=0) / DT
    acceleration = np.diff(velocity, axis=0) / DT
    assert np.all((commands >= limits.lower) & (commands <= limits.upper))
    assert np.all(np.abs(velocity) <= limits.velocity * (1 + 1e-9))
    assert np.all(np.abs(acceleration) <= limits.acceleration * (1 + 1e-6))
    assert np.ptp(commands[times > 4.0, JOINT]) > 0.05  # and it danced


def test_the_oscillator_takes_over_without_a_jump_when_known_beats_run_out():
    beats = performed(30, jitter=0.0)  # evenly spaced: the oscillator follows the predictions as well
    times, marking, _, phases, controller = dance(beats, 8.0, 16.0)
    schedule, oscillator = controller.schedule, controller.oscillator
    assert 7.5 < schedule.precise <= 8.0 and not schedule.active(9.0, oscillator)  # the oscillator's turn
    rates = np.diff(phases[times > 2.0]) / DT  # beats/s: never a jump, never backwards
    assert np.all(rates > 0) and rates.max() < 1.5 * 2.0 + 0.25
    after = asynchrony_after(times, marking, beats, 9.0, 14.5)
    assert after.missed == 0 and after.mean_absolute < 0.005  # the oscillator still on the beats
