"""Shared fixtures: an isolated DDS domain, a ROS node in the test process, real node processes."""

import os
import random
import tempfile

# One DDS domain per test session, on this host only, before anything initialises rclpy.
os.environ['ROS_DOMAIN_ID'] = str(random.Random(os.getpid()).randrange(1, 200))
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
# What a controller learns about its robot (the latency) stays in the session: tests neither read a user's state nor
# leave one (a test that needs a state sets its own).
os.environ['MUSMOVE_STATE'] = tempfile.mkdtemp(prefix='musmove-state-')

import pytest

try:
    import rclpy
except ImportError as error:  # pragma: no cover - reported once, clearly
    raise pytest.UsageError(f'rclpy is not importable ({error}); run the tests with `make test`') from error

import math

from diagnostic_msgs.msg import DiagnosticArray
from ros_helpers import NodeProcess, Rogue, stamp, stop_all, wait
from sensor_msgs.msg import JointState

from musmove.sources.data import bundled, render_midi
from musmove_msgs.msg import Beat

DEMO_MIDI = 'groove_drummer3_rock_120.mid'


@pytest.fixture(scope='session')
def ros_node():
    """A node in the test process for subscribing and inspecting the graph."""
    with rclpy.init():
        node = rclpy.create_node('musmove_test')
        yield node
        node.destroy_node()


@pytest.fixture(scope='session')
def groove_wav():
    """The bundled Groove MIDI performance rendered to audio with fluidsynth (cached)."""
    return render_midi(bundled(DEMO_MIDI), sample_rate=22050)


@pytest.fixture
def node_process(tmp_path):
    """Start musmove nodes as their own processes; every one is stopped after the test."""
    started: list[NodeProcess] = []

    def start(name: str, *ros_args: str) -> NodeProcess:
        process = NodeProcess(name, ros_args, tmp_path)
        started.append(process)
        return process

    start.started = started  # the processes, for a test that signals one a fixture started
    yield start
    stop_all(started)


@pytest.fixture
def rogue(ros_node):
    probe = Rogue('rogue')
    yield probe
    probe.close()


@pytest.fixture
def dance(rogue, node_process):
    """Start robot_sim (kinematic) and robot_controller (with extra arguments) dancing to 120 BPM beats.

    The rogue predicts the beats every 100 ms and reports each beat OBSERVED once it passed (that locks the gate);
    returns (publisher, playing switch, controller, joint states) once the controller's diagnostics say it dances
    (or once it runs, with `until_dancing=False`).
    """

    def start(*controller_args: str, until_dancing: bool = True):
        rogue.record(DiagnosticArray, 'diagnostics')
        states = rogue.record(JointState, 'joint_states', 1000)
        publisher = rogue.node.create_publisher(Beat, 'beats', 20)
        playing = {'on': True}

        observed = {'last': -math.inf}

        def predict() -> None:
            if not playing['on']:
                return
            now = rogue.now()
            beat_time = math.floor(now * 2) / 2  # the newest beat: OBSERVED as a tracker reports it (locks the gate)
            if beat_time > observed['last']:
                beat = Beat(kind=Beat.OBSERVED, index=0, tempo=120.0, confidence=0.9, time_std=0.01, phase=0.0)
                beat.header.stamp, beat.estimated_at = stamp(beat_time), stamp(now)
                publisher.publish(beat)
                observed['last'] = beat_time
            for k in range(1, 5):
                beat = Beat(kind=Beat.PREDICTED, index=k, tempo=120.0, confidence=0.9, time_std=0.01 * k, phase=0.5)
                beat.header.stamp, beat.estimated_at = stamp(math.ceil(now * 2) / 2 + 0.5 * (k - 1)), stamp(now)
                publisher.publish(beat)

        rogue.node.create_timer(0.1, predict)
        controller = node_process('robot_controller', '-p', 'ramp:=0.3', '-p', 'latency_state:=false', *controller_args)
        node_process('robot_sim', '-p', 'robot:=kinematic')
        status = lambda: rogue.status('robot_controller: dance')  # noqa: E731
        if until_dancing:
            assert wait(lambda: status().get('message') == 'dancing', 60), status()
        return publisher, playing, controller, states

    return start


@pytest.fixture
def dancing(rogue, dance):
    """The rogue, and robot_sim and robot_controller dancing to its beats (see `dance`)."""
    return (rogue, *dance())
