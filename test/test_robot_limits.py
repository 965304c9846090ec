"""Joint limits from URDF and config; the limiter never exceeds them, whatever it is asked."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from musmove.robot.limits import JointLimits, Limiter
from musmove.robot.moves import PANDA_HOME, PANDA_MOVES, Dancer
from musmove.robot.oscillator import Oscillator

URDF = """<robot name="toy">
  <link name="base"/><link name="a"/><link name="b"/><link name="c"/><link name="d"/>
  <joint name="fixed" type="fixed"><parent link="base"/><child link="a"/></joint>
  <joint name="shoulder" type="revolute"><parent link="a"/><child link="b"/>
    <limit lower="-1.5" upper="2.0" velocity="1.2" effort="30"/></joint>
  <joint name="spin" type="continuous"><parent link="b"/><child link="c"/>
    <limit velocity="3.0" effort="5"/></joint>
  <joint name="slide" type="prismatic"><parent link="c"/><child link="d"/>
    <limit lower="0.0" upper="0.2" velocity="0.1" effort="50"/></joint>
</robot>
"""

DT = 0.01


def toy(tmp_path, **kwargs) -> JointLimits:
    path = tmp_path / 'toy.urdf'
    path.write_text(URDF)
    return JointLimits.from_urdf(path, **kwargs)


def test_urdf_limits_of_movable_joints_in_file_order(tmp_path):
    limits = toy(tmp_path, acceleration={'shoulder': 4.0, 'spin': 8.0, 'slide': 0.5})
    assert limits.names == ('shoulder', 'spin', 'slide')
    np.testing.assert_array_equal(limits.lower, [-1.5, -np.inf, 0.0])
    np.testing.assert_array_equal(limits.upper, [2.0, np.inf, 0.2])
    np.testing.assert_array_equal(limits.velocity, [1.2, 3.0, 0.1])
    np.testing.assert_array_equal(limits.acceleration, [4.0, 8.0, 0.5])


def test_selection_and_overrides(tmp_path):
    limits = toy(tmp_path, acceleration=2.0, joints=['slide', 'shoulder'], overrides={'shoulder': {'velocity': 0.5}})
    assert limits.names == ('slide', 'shoulder')
    np.testing.assert_array_equal(limits.velocity, [0.1, 0.5])
    assert limits.select(['shoulder']).upper.tolist() == [2.0]
    with pytest.raises(KeyError):
        toy(tmp_path, acceleration=2.0, joints=['fixed'])
    with pytest.raises(ValueError, match='positive'):
        toy(tmp_path, acceleration=2.0, overrides={'spin': {'velocity': 0.0}})


def test_limits_from_a_dict_are_validated():
    config = {'j1': {'lower': -1, 'upper': 1, 'velocity': 2, 'acceleration': 5}}
    assert JointLimits.from_dict(config).names == ('j1',)
    with pytest.raises(ValueError, match='exceed'):
        JointLimits.from_dict({'j1': {**config['j1'], 'lower': 2}})


def test_violations_are_counted_from_the_command_series():
    limits = JointLimits(('j',), [-1.0], [1.0], [1.0], [10.0])
    assert limits.violations(np.zeros((5, 1)), DT) == 0
    assert limits.violations(np.array([[0.0], [0.02]]), DT) == 1  # 2 /s
    assert limits.violations(np.array([[1.2]]), DT) == 1


@st.composite
def scenario(draw):
    """Random limits, a start inside them and a target stream with jumps, NaN and infinities."""
    joints = draw(st.integers(1, 4))
    lower = np.array(draw(st.lists(st.floats(-3, 0), min_size=joints, max_size=joints)))
    upper = lower + np.array(draw(st.lists(st.floats(0, 4), min_size=joints, max_size=joints)))
    velocity = np.array(draw(st.lists(st.floats(0.05, 5), min_size=joints, max_size=joints)))
    acceleration = np.array(draw(st.lists(st.floats(0.5, 50), min_size=joints, max_size=joints)))
    start = lower + (upper - lower) * draw(st.floats(0, 1))
    values = st.one_of(st.floats(-1e6, 1e6), st.sampled_from([np.nan, np.inf, -np.inf, 1e300]))
    targets = draw(st.lists(st.lists(values, min_size=joints, max_size=joints), min_size=1, max_size=20))
    holds = draw(st.lists(st.integers(1, 60), min_size=len(targets), max_size=len(targets)))
    stream = np.repeat(np.array(targets, dtype=np.float64), holds, axis=0)  # each target held a while
    names = tuple(f'j{i}' for i in range(joints))
    return JointLimits(names, lower, upper, velocity, acceleration), start, stream


@settings(max_examples=60, deadline=None)
@given(scenario())
def test_commands_never_violate_the_limits(case):
    limits, start, stream = case
    limiter = Limiter(limits, DT, start)
    commands = np.array([start] + [limiter.step(target) for target in stream])
    assert np.isfinite(commands).all()
    assert limits.violations(commands, DT) == 0


def test_a_feasible_trajectory_passes_unchanged():
    limits = JointLimits(('a', 'b'), [-1.0, -1.0], [1.0, 1.0], [2.0, 2.0], [20.0, 20.0])
    t = np.arange(0, 3, DT)
    path = np.column_stack([0.2 * np.sin(2 * np.pi * t) * np.minimum(t, 1.0) ** 3, 0.3 * np.cos(3 * t) - 0.3])
    assert limits.violations(path, DT) == 0  # it starts at rest and stays within the limits
    limiter = Limiter(limits, DT, path[0])
    commands = np.array([limiter.step(target) for target in path])
    np.testing.assert_allclose(commands, path, atol=1e-12)


def test_a_step_is_reached_about_as_fast_as_allowed_without_overshoot():
    limits = JointLimits(('j',), [-2.0], [2.0], [1.0], [4.0])
    limiter = Limiter(limits, DT, [-1.5])
    commands = np.array([limiter.step([1.5]) for _ in range(400)])[:, 0]
    arrived = np.argmax(commands >= 1.5 - 1e-9) * DT
    fastest = 1.0 / 4.0 + 3.0 / 1.0  # trapezoid: accelerate, cruise, brake
    assert fastest <= arrived + DT < fastest + 0.1
    assert commands.max() <= 1.5 + 1e-12 and commands[-1] == pytest.approx(1.5)


def test_non_finite_targets_brake_and_hold():
    limits = JointLimits(('j',), [-5.0], [5.0], [1.0], [2.0])
    limiter = Limiter(limits, DT, [0.0])
    for _ in range(100):
        limiter.step([5.0])  # 1 s: cruising at 1 /s
    position = limiter.step([np.nan])[0]
    braking = [limiter.step([np.nan])[0] for _ in range(100)]
    assert limiter.velocity[0] == 0.0
    assert braking[-1] - position == pytest.approx(1.0**2 / (2 * 2.0), abs=0.02)


def test_a_joint_outside_its_limits_is_walked_back_without_a_jump():
    limits = JointLimits(('j',), [-1.0], [1.0], [1.0], [5.0])
    limiter = Limiter(limits, DT, [1.3])
    commands = np.array([[1.3]] + [limiter.step([1.3]) for _ in range(200)])
    assert np.abs(np.diff(commands[:, 0])).max() <= 1.0 * DT + 1e-12
    assert commands[-1, 0] == pytest.approx(1.0)


def test_absurd_tempi_through_oscillator_and_moves_stay_within_limits():
    """The oscillator folds absurd tempi into its range; the limiter catches whatever remains."""
    names = list(PANDA_HOME)
    limits = JointLimits.from_dict(
        {n: {'lower': -2.9, 'upper': 2.9, 'velocity': 2.0, 'acceleration': 10.0} for n in names}
    )
    home = np.array(list(PANDA_HOME.values()))
    rng = np.random.default_rng(3)
    oscillator, dancer = Oscillator(), Dancer(limits, home, PANDA_MOVES, 'sway', energy_time=0.05, margin=5.0)
    limiter = Limiter(limits, DT, home)
    tempi = [np.nan, 0.0, -60.0, 1e9, 3000.0, 7.0, np.inf, 240.0, 1e-300]
    commands = [home]
    for k in range(600):
        t = k * DT
        if k % 7 == 0:
            oscillator.update(t, t + rng.uniform(-1, 1, 3), tempi[k % len(tempi)], rng.uniform(0, 0.5), 1.0)
        oscillator.advance(t)
        assert 50 / 60 <= oscillator.frequency <= 150 / 60
        commands.append(limiter.step(dancer.target(oscillator.command_phase, oscillator.frequency, 1.0, DT)))
    assert limits.violations(np.array(commands), DT) == 0
