"""Shared fixtures: an isolated DDS domain, a ROS node in the test process, real node processes."""

import os
import random

# One DDS domain per test session, on this host only, before anything initialises rclpy.
os.environ['ROS_DOMAIN_ID'] = str(random.Random(os.getpid()).randrange(1, 200))
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'

import pytest

try:
    import rclpy
except ImportError as error:  # pragma: no cover - reported once, clearly
    raise pytest.UsageError(f'rclpy is not importable ({error}); run the tests with `make test`') from error

from ros_helpers import NodeProcess

from musmove.sources.data import bundled, render_midi

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

    yield start
    for process in started:
        process.stop()
