"""Every node entry point starts, shows in the ROS graph and stops cleanly; audio_source plays real audio."""

import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
import yaml
from ament_index_python.packages import get_package_prefix
from rcl_interfaces.srv import GetParameters, ListParameters
from rclpy.parameter import parameter_value_to_python
from rclpy.qos import qos_profile_sensor_data
from ros_helpers import wait_for
from test_recordings import uci

from musmove.sources.audio import load_audio
from musmove_msgs.msg import AudioFrame

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / 'config' / 'coordination.yaml'
NODES = sorted(path.name for path in Path(get_package_prefix('musmove'), 'lib', 'musmove').iterdir())


def start_arguments(name: str, wav: Path) -> list[str]:
    """The parameters each node needs to run here (every installed node must be listed)."""
    arguments = {
        'audio_source': lambda: ['-p', f'file:={wav}', '-p', 'loop:=true'],
        'imu_source': lambda: ['-p', f'file:={uci("a1")}', '-p', 'loop:=true'],
        'mocap_source': lambda: ['-p', f'file:={uci("a1")}', '-p', 'loop:=true'],
        'synchronizer': list,
        'beat_tracker': list,
        'gesture_phase': list,
        'partner_beat': list,
        'robot_controller': list,
        'robot_sim': list,
    }
    assert name in arguments, f'add the start arguments of the new node {name!r} here'
    return arguments[name]()


def call(ros_node, service_type, service: str, request):
    """The response of a service call; the request is sent again if no response came within 5 s.

    Fast DDS may drop a response when the client's response reader is not matched yet, which
    `wait_for_service` does not check (it sees the request side only): the call then never returns.
    """
    client = ros_node.create_client(service_type, service)
    try:
        assert client.wait_for_service(timeout_sec=30)
        for _ in range(6):
            future = client.call_async(request)
            if wait_for(future.done, ros_node, timeout=5):
                return future.result()
        raise AssertionError(f'{service}: no response to 6 calls')
    finally:
        ros_node.destroy_client(client)


def declared_parameters(ros_node, name: str, namespace: str = '') -> set[str]:
    """The parameters a running node declared (as `ros2 param list` shows them), less rclpy's own."""
    request = ListParameters.Request()
    names = call(ros_node, ListParameters, f'{namespace}/{name}/list_parameters', request).result.names
    return set(names) - {'use_sim_time', 'start_type_description_service'}


def parameter_values(ros_node, name: str, namespace: str = '') -> dict:
    """Every documented parameter of a running node, read in one GetParameters call."""
    names = sorted(documented_parameters(name))
    request = GetParameters.Request(names=names)
    values = call(ros_node, GetParameters, f'{namespace}/{name}/get_parameters', request).values
    assert len(values) == len(names), 'a parameter without a value hides all of them from GetParameters'
    return {key: parameter_value_to_python(value) for key, value in zip(names, values, strict=True)}


def documented_values(name: str) -> dict:
    """The parameters config/coordination.yaml documents for a node, with their values."""
    config = yaml.safe_load(CONFIG.read_text())
    return config.get(f'/**/{name}', {}).get('ros__parameters', {})


def documented_parameters(name: str) -> set[str]:
    return set(documented_values(name))


def test_nodes_are_installed():
    assert {'audio_source', 'imu_source', 'mocap_source', 'synchronizer'} <= set(NODES)


@pytest.mark.parametrize('name', NODES)
def test_node_starts_joins_graph_and_stops_on_sigint(name, ros_node, node_process, groove_wav):
    # In a namespace of its own: a node of the same name another test killed stays in the graph until its lease ends.
    space = '/node_under_test'
    arguments = ('--params-file', str(CONFIG), '-r', f'__ns:={space}', *start_arguments(name, groove_wav))
    process = node_process(name, *arguments)

    def in_graph() -> bool:
        return (name, space) in ros_node.get_node_names_and_namespaces()

    assert wait_for(in_graph, ros_node, timeout=30), f'{name} never appeared in the graph: {process.stderr}'
    assert process.popen.poll() is None
    assert declared_parameters(ros_node, name, space) == documented_parameters(name)
    overridden = set(start_arguments(name, groove_wav)[1::2])
    for key, value in parameter_values(ros_node, name, space).items():  # what `ros2 param dump` reads
        if not any(argument.startswith(f'{key}:=') for argument in overridden):
            assert value == documented_values(name)[key], key
    assert process.interrupt() == 0
    assert 'Traceback' not in process.stderr
    assert (name, space) not in graph_of_a_newcomer(ros_node), f'{name} is still in the graph after exiting'


def graph_of_a_newcomer(ros_node, timeout: float = 30.0) -> set[tuple[str, str]]:
    """The nodes that a participant joining now discovers, once it has discovered `ros_node`.

    Only running processes announce themselves to a newcomer. A long-lived participant's graph cache may keep a
    node that exited cleanly for good (CI runs 21 and 24: still listed 40 s after exit, beyond the 20 s lease).
    """
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=ros_node.context.get_domain_id())
    try:
        newcomer = rclpy.create_node('graph_newcomer', context=context)
        known = (ros_node.get_name(), ros_node.get_namespace())
        deadline = time.monotonic() + timeout
        while known not in newcomer.get_node_names_and_namespaces() and time.monotonic() < deadline:
            time.sleep(0.05)  # the graph cache fills from discovery's own threads
        names = set(newcomer.get_node_names_and_namespaces())
        assert known in names, f'the newcomer never discovered {known}'
        return names
    finally:
        rclpy.shutdown(context=context)


def test_audio_source_publishes_the_file_frame_by_frame(ros_node, node_process, groove_wav):
    hop, rate = 1024, 22050
    frames: list[AudioFrame] = []
    subscription = ros_node.create_subscription(AudioFrame, 'audio', frames.append, qos_profile_sensor_data)
    process = node_process(
        'audio_source',
        '-p',
        f'file:={groove_wav}',
        '-p',
        f'hop_size:={hop}',
        '-p',
        f'sample_rate:={rate}',
        '-p',
        'wait_for_subscribers:=1',
    )
    try:
        assert wait_for(lambda: len(frames) >= 40, ros_node, timeout=30), process.stderr
    finally:
        ros_node.destroy_subscription(subscription)
    reference = load_audio(groove_wav, rate)[:, 0]
    first = frames[0]
    assert (first.sample_rate, first.channels, first.header.frame_id) == (rate, 1, groove_wav.stem)
    t0 = nanoseconds(first)
    for frame in frames:
        start = frame.frame_index * hop
        np.testing.assert_array_equal(frame.samples, reference[start : start + hop])
        # stamp = start time + index of the first sample / rate, to the nanosecond
        elapsed = (frame.frame_index - first.frame_index) * hop * 10**9 / rate
        assert abs(nanoseconds(frame) - t0 - elapsed) <= 1


def nanoseconds(frame: AudioFrame) -> int:
    return frame.header.stamp.sec * 10**9 + frame.header.stamp.nanosec


def test_audio_source_finishes_at_the_end_of_the_file(node_process, tmp_path):
    import soundfile

    short = tmp_path / 'short.wav'
    soundfile.write(short, np.zeros(2205, dtype=np.float32), 22050)  # 0.1 s
    process = node_process('audio_source', '-p', f'file:={short}')
    assert process.popen.wait(timeout=30) == 0
    assert 'Traceback' not in process.stderr


@pytest.mark.parametrize(
    ('arguments', 'message'),
    [
        (['-p', 'file:=/nonexistent/song.wav'], 'cannot read audio file /nonexistent/song.wav'),
        (['-p', 'file:=x.wav', '-p', 'hop_size:=0'], 'hop_size'),
    ],
)
def test_audio_source_rejects_bad_parameters_in_one_line(node_process, arguments, message):
    process = node_process('audio_source', *arguments)
    assert process.popen.wait(timeout=30) == 2
    errors = process.stderr.strip().splitlines()
    assert len(errors) == 1 and message in errors[0], process.stderr


def test_a_draining_subscription_takes_its_whole_queue_in_one_wait(ros_node):
    """The synchronizer's inputs: rclpy's executor takes one message per subscription per wait, so a fast stream
    on a starved machine falls behind the slower ones; a draining subscription takes all that is queued."""
    from rclpy.duration import Duration
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    from musmove.nodes import MusmoveNode
    from musmove_msgs.msg import Beat

    qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
    node, received = MusmoveNode('drainer'), []
    try:
        node.create_draining_subscription(Beat, 'drained', received.append, qos)
        publisher = ros_node.create_publisher(Beat, 'drained', qos)
        assert wait_for(lambda: publisher.get_subscription_count() >= 1, ros_node, timeout=30)
        for index in range(50):
            publisher.publish(Beat(index=index))
        assert publisher.wait_for_all_acked(Duration(seconds=10))  # all 50 are in the reader's queue
        rclpy.spin_once(node, timeout_sec=5)  # one wait of the executor
        assert [beat.index for beat in received] == list(range(50))
    finally:
        node.destroy_node()
