"""The clean start: the lock gate, the dance fading in at once in phase, and the latency prior kept per robot."""

import json

import numpy as np
import pytest

from musmove.robot.asynchrony import asynchrony, detect_events
from musmove.robot.controller import DanceController
from musmove.robot.gate import LockGate
from musmove.robot.limits import JointLimits
from musmove.robot.measurement import latency_state, save_latency, saved_latency
from musmove.robot.moves import PANDA_HOME, PANDA_MOVES
from musmove.robot.oscillator import Oscillator
from musmove.robot.sim import panda_urdf

BEAT, DT = 0.5, 0.01
NAMES = list(PANDA_HOME)
HOME = np.array(list(PANDA_HOME.values()))
JOINT = NAMES.index('panda_joint6')  # the nod's marking joint


def feed(gate: LockGate, beats: np.ndarray, predicted: np.ndarray) -> list[bool]:
    """Each beat predicted (at `predicted`) a beat before it, then observed; whether each opened the gate."""
    opened = []
    for beat, guess in zip(beats, predicted, strict=True):
        gate.predict(beat - BEAT, [guess])
        opened.append(gate.observe(beat, beat + 0.1))
    return opened


def test_evenly_spaced_predicted_beats_open_the_gate():
    gate = LockGate(count=4, spacing=0.08, agreement=0.05)
    beats = 1.0 + BEAT * np.arange(6)
    assert feed(gate, beats, beats + 0.02) == [False, False, False, True, False, False]
    assert gate.open and gate.opened == pytest.approx(beats[3] + 0.1)
    gate.close()
    assert not gate.open and not gate.locked()


def test_a_searching_tracker_keeps_the_gate_closed():
    beats = 1.0 + np.cumsum([0.5, 0.3, 0.6, 0.35, 0.5, 0.28, 0.55])  # the tempo still jumping
    assert not any(feed(LockGate(), beats, beats))
    steady = 1.0 + BEAT * np.arange(8)
    assert not any(feed(LockGate(), steady, steady + 0.08))  # evenly spaced, but never predicted
    with pytest.raises(ValueError):
        LockGate(count=2)


def test_the_dance_waits_for_the_lock_then_fades_in_on_the_beat():
    limits = JointLimits.from_urdf(panda_urdf(), 10.0, NAMES)
    oscillator = Oscillator(latency=0.0)
    controller = DanceController(limits, HOME, PANDA_MOVES, 'nod', DT, HOME, oscillator, ramp=1.0, gate=LockGate())
    controller.watchdog.start()
    first = 2.0
    beats = first + BEAT * np.arange(40)
    times, commands, lock = np.arange(1, 2000) * DT, [], None
    for t in times:
        controller.on_joint_state(t)
        if t >= first - 1.0 and round(t / DT) % 10 == 0:  # a prediction every 100 ms, from 1 s before the first beat
            coming = beats[beats > t][:4]
            controller.on_beats(t, coming, 120.0, 0.01, 0.9, t)
        for beat in beats[(beats > t - 0.093 - DT) & (beats <= t - 0.093)]:  # OBSERVED 93 ms after the beat
            controller.on_observed(float(beat), t)
        if lock is None and controller.gate.open:
            lock = t
            assert abs(oscillator.error()) < 1e-9  # phase and tempo set at once by the newest prediction
            assert oscillator.bpm == pytest.approx(120.0)
        commands.append(controller.step(t)[JOINT])
    commands = np.array(commands)
    assert lock == pytest.approx(beats[3] + 0.093, abs=DT)  # at the fourth observed beat
    assert np.all(commands[times < lock] == HOME[JOINT])  # still at home before the lock
    fading = (times > lock) & (times < lock + 1.0)
    swing = [np.ptp(commands[fading & (times >= b) & (times < b + BEAT)]) for b in np.arange(lock, lock + 1.0, BEAT)]
    assert 0 < swing[0] < swing[-1] < np.ptp(commands[times > lock + 2.0])  # the amplitude fades in
    events = detect_events(times, commands, 'min', prominence=0.005)
    result = asynchrony(events, beats[(beats > lock) & (beats < times[-1] - BEAT)])
    assert result.missed == 0 and result.mean_absolute < 0.002  # every beat marked, from the fade-in on


def test_the_latency_prior_is_the_last_measured_value_of_the_robot(tmp_path, monkeypatch):
    monkeypatch.setenv('MUSMOVE_STATE', str(tmp_path))
    assert saved_latency('/panda/joint_trajectory') is None  # no state yet: the node uses latency_prior
    save_latency('/panda/joint_trajectory', 0.0834)
    save_latency('/ur5/joint_trajectory', 0.05)
    assert saved_latency('/panda/joint_trajectory') == pytest.approx(0.0834)
    assert json.loads(latency_state().read_text()) == {'/panda/joint_trajectory': 0.0834, '/ur5/joint_trajectory': 0.05}
    latency_state().write_text('{"/panda/joint_trajectory": 7.0')  # corrupt
    assert saved_latency('/panda/joint_trajectory') is None
    latency_state().write_text('{"/panda/joint_trajectory": 7.0}')  # absurd
    assert saved_latency('/panda/joint_trajectory') is None


def dancing_at_120(**options) -> tuple[DanceController, Oscillator]:
    """A gated controller (`options` for it) that has locked on 120 BPM beats and danced to 4 s."""
    limits = JointLimits.from_urdf(panda_urdf(), 10.0, NAMES)
    oscillator = Oscillator(latency=0.0)
    controller = DanceController(limits, HOME, PANDA_MOVES, 'nod', DT, HOME, oscillator, gate=LockGate(), **options)
    controller.watchdog.start()
    beats = 1.0 + BEAT * np.arange(8)
    for t in np.arange(0.5, 4.0, 0.1):
        controller.on_beats(t, beats[beats > t][:4], 120.0, 0.01, 0.9, t)
        for beat in beats[(beats > t - 0.193) & (beats <= t - 0.093)]:
            controller.on_observed(float(beat), t)
        controller.step(t)
    assert controller.gate.open and oscillator.bpm == pytest.approx(120.0, abs=1.0)
    return controller, oscillator


def test_a_fill_at_another_tempo_is_danced_through_and_a_lasting_one_taken():
    controller, oscillator = dancing_at_120(hold=2.0)
    for t in np.arange(4.0, 5.5, 0.1):  # 1.5 s of a fill that the tracker takes for 160 BPM
        controller.on_beats(t, t + 0.375 * np.arange(1, 5), 160.0, 0.01, 0.9, t)
        controller.step(t)
    assert oscillator.bpm == pytest.approx(120.0, abs=1.0) and 'beats' not in controller.watchdog.stale(5.5)
    for t in np.arange(5.5, 7.0, 0.1):  # 160 BPM for longer than the hold: a new tempo
        controller.on_beats(t, t + 0.375 * np.arange(1, 5), 160.0, 0.01, 0.9, t)
        controller.step(t)
    assert oscillator.bpm == pytest.approx(80.0, abs=1.0)  # 160 BPM folded to the octave nearest 120


@pytest.mark.parametrize(('tolerance', 'followed'), [(0.15, True), (0.08, False)])
def test_a_tempo_step_of_ten_percent_is_followed_at_once(tolerance, followed):
    controller, oscillator = dancing_at_120(tempo_tolerance=tolerance)
    for t in np.arange(4.0, 5.5, 0.1):  # the music slows by 10 %, less than the hold
        controller.on_beats(t, t + 60 / 108 * np.arange(1, 5), 108.0, 0.01, 0.9, t)
        controller.step(t)
    assert oscillator.bpm == (pytest.approx(108.0, abs=3.0) if followed else pytest.approx(120.0, abs=1.0))
