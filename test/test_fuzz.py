"""Fuzz: generated hostile messages of every subscribed type, published into each running node over DDS.

Each node runs as its own process beside real inputs; hypothesis generates messages of the types the node
subscribes to (any value each field allows: NaN, infinities, extremes, empty and long sequences, stamps
anywhere). After every batch the node must still run; after all of them it must still publish valid
output, and the controller and the simulated robot must never have exceeded a limit.
"""

import math

import numpy as np
from geometry_msgs.msg import Pose, PoseArray
from hostile import messages
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ros_helpers import seconds, wait
from sensor_msgs.msg import Imu, JointState
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from musmove.nodes import AUDIO_QOS, SENSOR_QOS, validation
from musmove.robot.limits import JointLimits
from musmove.robot.moves import PANDA_HOME
from musmove.robot.sim import panda_urdf
from musmove_msgs.msg import AudioFrame, Beat, GesturePhase, SyncFrame

NAMES = list(PANDA_HOME)
LIMITS = JointLimits.from_urdf(panda_urdf(), 10.0, NAMES)
TOPIC = 'joint_trajectory_controller/joint_trajectory'
EXAMPLES = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
SMALL = {'samples': st.integers(0, 2048), 'poses': st.integers(0, 30), 'joints': st.integers(0, 30)}


def fuzz(rogue, process, topics: dict[str, tuple[type, object]]) -> int:
    """Publish hostile batches of each topic's type; the process must survive every one. Messages sent."""
    publishers = {topic: rogue.node.create_publisher(kind, topic, qos) for topic, (kind, qos) in topics.items()}
    sent = []

    @EXAMPLES
    @given(st.lists(st.sampled_from(sorted(topics)).flatmap(lambda t: messages(topics[t][0], SMALL).map(
        lambda m, t=t: (t, m))), min_size=1, max_size=6))  # fmt: skip
    def batch(items):
        for topic, message in items:
            publishers[topic].publish(message)
            sent.append(topic)
        assert process.popen.poll() is None, process.stderr[-2000:]

    batch()
    assert process.popen.poll() is None and 'Traceback' not in process.stderr, process.stderr[-2000:]
    return len(sent)


def test_beat_tracker_survives_and_keeps_tracking(rogue, node_process, groove_wav):
    beats = rogue.record(Beat, 'beats', 1000)
    tracker = node_process('beat_tracker')
    node_process('audio_source', '-p', f'file:={groove_wav}', '-p', 'wait_for_subscribers:=1', '-p', 'loop:=true')
    assert wait(lambda: beats, 60)
    assert fuzz(rogue, tracker, {'audio': (AudioFrame, AUDIO_QOS)}) > 40
    after = rogue.now()
    observed = lambda: [m for t, m in beats if t > after + 1.0 and m.kind == Beat.OBSERVED]  # noqa: E731
    assert wait(lambda: len(observed()) >= 8, 30), 'no beats from the real audio after the fuzz'
    for _, beat in beats:
        validation.beat(beat)  # every beat it published is one the controller takes
    assert abs(np.median([b.tempo for b in observed()]) - 120) < 12


def test_synchronizer_survives_and_keeps_synchronizing(rogue, node_process, groove_wav):
    from musmove.demo import partner_recording

    frames = rogue.record(SyncFrame, 'sync_frame', 1000)
    synchronizer = node_process('synchronizer', '-p', 'max_joint_speed:=200.0')
    mocap = partner_recording()
    sources = [('audio_source', groove_wav), ('imu_source', mocap), ('mocap_source', mocap)]
    for name, path in sources:
        node_process(name, '-p', f'file:={path}', '-p', 'wait_for_subscribers:=1', '-p', 'loop:=true')
    assert wait(lambda: frames, 60)
    topics = {'audio': (AudioFrame, AUDIO_QOS), 'imu': (Imu, SENSOR_QOS), 'mocap': (PoseArray, SENSOR_QOS)}
    assert fuzz(rogue, synchronizer, topics) > 40
    after = rogue.now()
    later = lambda: [f for t, f in frames if t > after + 1.0]  # noqa: E731
    assert wait(lambda: len(later()) > 40, 30), 'no frames after the fuzz'
    assert all(np.isfinite(f.audio_features).all() for f in later()), 'the real audio is analysed again'


def test_gesture_phase_survives_and_publishes_only_valid_phases(rogue, node_process):
    phases = rogue.record(GesturePhase, 'gesture_phase', 1000)
    node = node_process('gesture_phase')
    publisher = rogue.node.create_publisher(SyncFrame, 'sync_frame', 20)
    assert wait(lambda: publisher.get_subscription_count() >= 1, 60)
    assert fuzz(rogue, node, {'sync_frame': (SyncFrame, 20), 'beats': (Beat, 50)}) > 40
    real = SyncFrame(joints=[Pose() for _ in range(6)])  # a still skeleton, paced at 30 Hz until phases come back
    stamps = set()

    def publish_real() -> None:
        real.header.stamp.sec, real.header.stamp.nanosec = divmod(rogue.node.get_clock().now().nanoseconds, 10**9)
        for j, pose in enumerate(real.joints):
            pose.position.x, pose.position.y = 0.1 * j, 0.2 * j + 0.001 * len(stamps)
        stamps.add((real.header.stamp.sec, real.header.stamp.nanosec))
        publisher.publish(real)

    rogue.node.create_timer(1 / 30, publish_real)
    answered = lambda: [p for _, p in phases if (p.header.stamp.sec, p.header.stamp.nanosec) in stamps]  # noqa: E731
    assert wait(lambda: len(answered()) >= 10, 60), f'{len(stamps)} real frames, no phase for them after the fuzz'
    for _, phase in phases:
        validation.gesture_phase(phase)  # valid, as the controller checks it


def commands_within_limits(trajectories: list) -> None:
    """Every point of every command within the position limits, consecutive points within the velocity limits."""
    for _, message in list(trajectories):
        positions = np.array([p.positions for p in message.points])
        times = np.array([seconds(p.time_from_start) for p in message.points])
        assert ((positions >= LIMITS.lower - 1e-9) & (positions <= LIMITS.upper + 1e-9)).all()
        if len(times) > 1:
            speed = np.abs(np.diff(positions, axis=0)) / np.diff(times)[:, None]
            assert (speed <= LIMITS.velocity * (1 + 1e-6)).all()


def states_within_limits(states: list) -> None:
    states = list(states)  # the rogue's thread goes on appending
    times = np.array([seconds(m.header.stamp) for _, m in states])
    positions = np.array([m.position for _, m in states])
    assert ((positions >= LIMITS.lower - 1e-3) & (positions <= LIMITS.upper + 1e-3)).all()
    velocity = np.diff(positions, axis=0) / np.maximum(np.diff(times), 1e-9)[:, None]
    assert (np.abs(velocity) <= LIMITS.velocity * 1.05).all()


def test_controller_survives_and_never_commands_past_a_limit(rogue, dance):
    trajectories = rogue.record(JointTrajectory, TOPIC, 5000)
    _, _, controller, states = dance(
        '-p', 'follow_partner:=true', '-p', 'follow_partner_beats:=true', until_dancing=False
    )
    assert wait(lambda: trajectories and states, 60)
    topics = {'beats': (Beat, 20), 'joint_states': (JointState, SENSOR_QOS), 'gesture_phase': (GesturePhase, 10),
              'partner_beats': (Beat, 50)}  # fmt: skip
    assert fuzz(rogue, controller, topics) > 40
    after = rogue.now()
    assert wait(lambda: sum(t > after + 1.0 for t, _ in trajectories) > 50, 30), 'no commands after the fuzz'
    commands_within_limits(trajectories)
    states_within_limits(states)


def test_robot_sim_survives_and_never_exceeds_a_limit(rogue, node_process):
    states = rogue.record(JointState, 'joint_states', 5000)
    sim = node_process('robot_sim')
    assert wait(lambda: states, 60)
    fuzz(rogue, sim, {TOPIC: (JointTrajectory, 10)})  # random joint names: refused whole
    publisher = rogue.node.create_publisher(JointTrajectory, TOPIC, 10)
    point = st.builds(
        JointTrajectoryPoint,
        positions=st.lists(
            st.floats(-4.0, 4.0) | st.sampled_from([math.nan, math.inf, -math.inf]), min_size=7, max_size=7
        ),
    )

    @EXAMPLES
    @given(st.lists(point, min_size=1, max_size=4), st.lists(st.integers(0, 2_000_000_000), min_size=4, max_size=4))
    def trajectories(points, nanoseconds):
        message = JointTrajectory(joint_names=NAMES, points=points)
        for p, ns in zip(message.points, nanoseconds, strict=False):
            p.time_from_start.sec, p.time_from_start.nanosec = divmod(ns, 10**9)
        publisher.publish(message)
        assert sim.popen.poll() is None

    trajectories()
    after = rogue.now()
    assert wait(lambda: sum(t > after + 1.0 for t, _ in states) > 50, 30)
    states_within_limits(states)
