"""Moves turn on the beat (phase 0 mod 1), follow the energy between beats, fit the limits and hold."""

import numpy as np
import pytest

from musmove.robot.asynchrony import detect_events
from musmove.robot.limits import JointLimits
from musmove.robot.moves import PANDA_HOME, PANDA_MOVES, Dancer, Move, nod, sway, wave

DT = 0.005
NAMES = list(PANDA_HOME)
HOME = np.array(list(PANDA_HOME.values()))
LIMITS = JointLimits.from_dict(
    {name: {'lower': -3.0, 'upper': 3.0, 'velocity': 2.0, 'acceleration': 12.0} for name in NAMES}
)


def dance(move: str, energy, seconds: float = 8.0, bpm: float = 120.0, hold=None) -> tuple[np.ndarray, np.ndarray]:
    """(phases, poses) of a dancer at a steady tempo; `energy` and `hold` are functions of time."""
    dancer = Dancer(LIMITS, HOME, PANDA_MOVES, move)
    t = np.arange(0, seconds, DT)
    phases = t * bpm / 60
    poses = []
    for time, phase in zip(t, phases, strict=True):
        if hold is not None:
            dancer.hold(hold(time))
        poses.append(dancer.target(phase, bpm / 60, energy(time), DT))
    return phases, np.array(poses)


@pytest.mark.parametrize('move', [nod(['j'], [0.3]), sway(['j'], [0.3]), wave(['j', 'k'], [0.3, 0.2])])
def test_the_marking_joint_turns_on_every_beat(move: Move):
    phase = np.linspace(0, 8, 8001)
    marking = move.offsets(phase)[:, 0]
    events = detect_events(phase, marking, 'both')
    expected = np.arange(1, 8)
    on_beats = events[np.abs(events - np.round(events)) < 0.01]
    np.testing.assert_allclose(on_beats, expected, atol=1e-6)
    if move.name == 'nod':  # at home on the beat, a minimum for a positive amplitude
        np.testing.assert_allclose(move.offsets(np.arange(8.0))[:, 0], 0, atol=1e-12)
        np.testing.assert_allclose(detect_events(phase, marking, 'min'), expected, atol=1e-6)


def test_moves_are_validated():
    with pytest.raises(ValueError):
        Move('odd', ('a',), (0.1,), cycles_per_beat=0.3)
    with pytest.raises(ValueError):
        Move('lagging', ('a', 'b'), (0.1, 0.1), 0.5, lag=(0.1, 0.2))
    with pytest.raises(KeyError):
        Dancer(LIMITS, HOME, PANDA_MOVES, 'moonwalk')


def test_a_changing_energy_scales_the_amplitude_but_not_the_timing():
    rng = np.random.default_rng(0)
    levels = rng.uniform(0, 1, 64)
    phases, poses = dance('nod', lambda t: levels[int(t / 0.3)], seconds=16)
    joint = NAMES.index(PANDA_MOVES['nod'].joints[0])
    events = detect_events(phases, poses[:, joint], 'min', prominence=1e-3)
    assert len(events) > 20
    np.testing.assert_allclose(events, np.round(events), atol=2e-3)  # on the beat within 1 ms at 120 BPM
    _, steady = dance('nod', lambda t: 0.1)
    _, loud = dance('nod', lambda t: 0.3)  # both below the cap (0.4 at 120 BPM)
    span = np.ptp(steady[-400:, joint]), np.ptp(loud[-400:, joint])
    assert span[1] == pytest.approx(3 * span[0], rel=0.02)


def test_amplitude_is_capped_to_the_limits_at_fast_tempi():
    for bpm in (60, 150):
        _, poses = dance('sway', lambda t: 1.0, seconds=6, bpm=bpm)
        velocity = np.diff(poses[-600:], axis=0) / DT
        acceleration = np.diff(velocity, axis=0) / DT
        assert np.all(np.abs(velocity) <= 0.8 * LIMITS.velocity + 0.01)
        assert np.all(np.abs(acceleration) <= 0.8 * LIMITS.acceleration + 0.1)
    assert np.ptp(dance('sway', lambda t: 1.0, bpm=150)[1][-600:, 0]) < 0.9 * np.ptp(
        dance('sway', lambda t: 1.0, bpm=60)[1][-600:, 0]
    )


def test_a_faster_tempo_lowers_the_level_within_the_beat():
    """At full energy the level sits at the cap; when the tempo rises 10 % the level falls to the new, lower cap
    between the next two beats (not over the 0.5 s energy time), so the limiter downstream never has to clip the
    motion late; on the beats themselves the level does not change, so the turning points stay on them."""
    dancer = Dancer(LIMITS, HOME, PANDA_MOVES, 'sway')
    move, phase, levels = PANDA_MOVES['sway'], 0.0, []
    for k in range(round(6 / DT)):
        frequency = 2.0 if k * DT < 4 else 2.2
        phase += frequency * DT
        dancer.target(phase, frequency, 1.0, DT)
        levels.append((phase, dancer.levels['sway']))
    at_step = next(i for i, (p, _) in enumerate(levels) if p >= 8.0)
    assert levels[at_step - 1][1] == pytest.approx(dancer.cap(move, 2.0), rel=0.01)
    after_a_beat = next(i for i, (p, _) in enumerate(levels) if p >= 9.0)
    assert levels[after_a_beat][1] <= dancer.cap(move, 2.2) * 1.01
    changes = np.abs(np.diff([level for _, level in levels]))
    near_beats = np.array([abs(p - round(p)) < 2.2 * DT for p, _ in levels[1:]])
    assert changes[near_beats].max() < 0.01 * changes.max()  # about the beats, under 1 % of its fastest change


def test_switching_moves_crossfades_without_jumps():
    dancer = Dancer(LIMITS, HOME, PANDA_MOVES, 'nod')
    poses = []
    for k in range(1600):
        if k == 800:
            dancer.select('wave')
        poses.append(dancer.target(k * DT * 2, 2.0, 1.0, DT))
    step = np.abs(np.diff(np.array(poses), axis=0)).max()
    assert step < 2.0 * DT
    assert dancer.levels['nod'] < 0.01
    assert dancer.levels['wave'] == pytest.approx(dancer.cap(PANDA_MOVES['wave'], 2.0), rel=0.01)


def test_hold_eases_to_a_standstill_and_back_into_time():
    phases, poses = dance('sway', lambda t: 1.0, seconds=12, hold=lambda t: 3.0 <= t < 5.0)
    t = phases[1:] / 2
    velocity = np.diff(poses, axis=0) / DT
    acceleration = np.diff(velocity, axis=0) / DT
    assert np.abs(velocity[(t > 3.51) & (t < 5.0)]).max() < 1e-9  # frozen after hold_time (0.5 s)
    assert np.abs(velocity[t > 5.5]).max() > 0.1  # dancing again
    assert np.all(np.abs(acceleration) <= LIMITS.acceleration)  # eased in and out
    joint = NAMES.index(PANDA_MOVES['sway'].joints[0])
    events = detect_events(phases, poses[:, joint], 'both', prominence=1e-3)
    late = events[events > 2 * 9.0]
    np.testing.assert_allclose(late, np.round(late), atol=2e-3)  # back on the beat
