"""robot_controller following its partner over DDS (`follow_partner`): the gesture phase sets the dance.

robot_sim (kinematic) and robot_controller run as their own processes; the test plays a 120 BPM beat
stream and the partner's gesture phases: STROKE (moving: dance), HOLD (the dance freezes), REST
(energy 0: the dance fades to home), STROKE again, then no gesture messages at all (stale: home).
With `follow_partner_beats` the partner's beats (partner_beats) keep the robot dancing when the music stops.
"""

import math
import time
from pathlib import Path

import numpy as np
import pytest
from ros_helpers import NodeProcess, stop_all
from test_robot_nodes import BEAT, CONFIG, DT, HOME, LIMITS, NOD_JOINT, Probe, pause_until, stamp, wait

from musmove_msgs.msg import Beat, GesturePhase

SCRIPT = ((8.0, GesturePhase.STROKE), (11.0, GesturePhase.HOLD), (16.0, GesturePhase.REST), (20.0, GesturePhase.STROKE))
END = 24.0


def robot_and_controller(folder: Path, *parameters: str) -> list[NodeProcess]:
    """robot_sim (kinematic) and robot_controller (with `parameters`, name:=value) as processes of their own."""
    return [
        NodeProcess('robot_sim', ('--params-file', CONFIG, '-p', 'robot:=kinematic'), folder),
        NodeProcess('robot_controller', ('--params-file', CONFIG, *(a for p in parameters for a in ('-p', p))), folder),
    ]


@pytest.fixture(scope='module')
def followed(ros_node, tmp_path_factory):
    folder = tmp_path_factory.mktemp('partner')
    processes = robot_and_controller(folder, 'follow_partner:=true')
    try:
        probe = Probe()
        partner = probe.node.create_publisher(GesturePhase, 'gesture_phase', 10)
        try:
            assert wait(lambda: probe.states and probe.commands, 30), 'the controller never commanded the robot'
            start = probe.now()
            probe.first_beat = start + 1.0
            for until, phase in SCRIPT:
                while probe.now() < start + until:
                    message = GesturePhase(phase=phase, confidence=1.0)
                    message.probabilities[phase] = 1.0
                    partner.publish(message)
                    time.sleep(1 / 30)
            pause_until(probe, start + END)  # the partner is gone
        finally:
            probe.close()
        assert all(p.popen.poll() is None for p in processes), [p.stderr for p in processes]
        silence = probe.silence_in_commands(start, start + END)
        assert silence is None, f'{silence}; robot_controller: {processes[1].stderr[-2000:]}'
    finally:
        stop_all(processes)
    commands = sorted(probe.commands)
    times = np.array([t for t, _, _ in commands]) - start
    return times, np.array([q for _, q, _ in commands])[:, NOD_JOINT]


def spread(followed, begin: float, end: float) -> float:
    times, nod = followed
    return float(np.ptp(nod[(times >= begin) & (times < end)]))


def test_the_robot_dances_while_the_partner_moves(followed):
    assert spread(followed, 5.0, 8.0) > 0.1 and spread(followed, 18.0, 20.0) > 0.1


def test_a_hold_freezes_the_dance(followed):
    assert spread(followed, 9.5, 11.0) < 0.01


def test_rest_fades_the_dance_to_home_and_a_silent_partner_sends_it_home(followed):
    times, nod = followed
    for begin, end in ((14.0, 16.0), (22.5, END)):
        span = (times >= begin) & (times < end)
        assert span.sum() > 100 and np.abs(nod[span] - HOME[NOD_JOINT]).max() < 0.01


def test_stopping_the_controller_mid_dance_brakes_to_rest_within_the_limits(ros_node, tmp_path):
    processes = robot_and_controller(tmp_path)
    try:
        probe = Probe()
        try:
            assert wait(lambda: probe.states and probe.commands, 30), 'the controller never commanded the robot'
            probe.first_beat = probe.now() + 1.0
            pause_until(probe, probe.first_beat + 6.0)  # dancing at full energy
            assert processes[1].interrupt() == 0, processes[1].stderr
            time.sleep(0.5)
        finally:
            probe.close()
    finally:
        stop_all(processes)
    commands = np.array([q for _, q, _ in sorted(probe.commands)])
    velocity = np.diff(commands, axis=0) / DT
    assert np.abs(velocity[-300:-100]).max() > 0.1  # it was dancing
    assert np.all(velocity[-1] == 0)  # the last trajectory ends at rest
    assert LIMITS.violations(commands, DT) == 0  # braking within the limits
    assert 'braked to a standstill' in processes[1].stderr


class PartnerProbe(Probe):
    """The music's beats until `silence`, and the partner's beats (30 ms after the music's) all along."""

    def __init__(self) -> None:
        super().__init__()
        self.partner = self.node.create_publisher(Beat, 'partner_beats', 50)
        self.partner_observed = 0
        self.node.create_timer(0.1, self.play_partner)

    def play_partner(self) -> None:
        """Every 100 ms, like partner_beat: the beat just passed as OBSERVED, the next one PREDICTED."""
        now = self.now()
        if not self.first_beat < math.inf:
            return
        first = self.first_beat + 0.03
        while first + self.partner_observed * BEAT <= now - 0.05:
            self.partner.publish(self.partner_beat(Beat.OBSERVED, self.partner_observed, first, now))
            self.partner_observed += 1
        self.partner.publish(self.partner_beat(Beat.PREDICTED, max(0, math.ceil((now - first) / BEAT)), first, now))

    def partner_beat(self, kind: int, index: int, first: float, now: float) -> Beat:
        message = Beat(kind=kind, index=index, tempo=60 / BEAT, confidence=0.7)
        message.header.stamp, message.header.frame_id = stamp(first + index * BEAT), 'partner'
        message.estimated_at = stamp(now)
        return message


def test_the_robot_dances_on_with_its_partner_when_the_music_stops(ros_node, tmp_path):
    processes = robot_and_controller(tmp_path, 'follow_partner_beats:=true')
    try:
        probe = PartnerProbe()
        try:
            assert wait(lambda: probe.states and probe.commands, 30), 'the controller never commanded the robot'
            probe.first_beat = probe.now() + 1.0
            sources = lambda: probe.diagnostics[-1][1].get('beat_sources') if probe.diagnostics else None  # noqa: E731
            assert wait(lambda: sources() == 'music partner', 30), probe.diagnostics[-1:]
            probe.silence = probe.now()  # the music stops; the partner dances on
            assert wait(lambda: sources() == 'partner' and probe.now() > probe.silence + 5.0, 30)
        finally:
            probe.close()
        assert all(p.popen.poll() is None for p in processes), [p.stderr for p in processes]
    finally:
        stop_all(processes)
    times = np.array([t for t, _, _ in sorted(probe.commands)])
    nod = np.array([q for _, q, _ in sorted(probe.commands)])[:, NOD_JOINT]
    after = (times > probe.silence + 1.0) & (times < probe.silence + 5.0)  # the music's beats long stale
    assert after.sum() > 100 and np.ptp(nod[after]) > 0.1  # still dancing
    late = [(t, d) for t, d in probe.diagnostics if t > probe.silence + 1.0]
    assert late and all(d['beat_sources'] == 'partner' for _, d in late)
    partner = [m for t, m in probe.metrics if 'partner_beats' in m.reference and t > probe.silence + 3.0]
    assert partner and partner[-1].matched > 0 and abs(partner[-1].mean_asynchrony) < 0.05
