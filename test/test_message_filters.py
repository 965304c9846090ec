"""musmove.sync.message_filters over real DDS: two audio_source processes at different frame rates."""

import pytest
from rclpy.qos import qos_profile_sensor_data
from ros_helpers import wait_for
from test_approximate_time import oracle

from musmove.sync import message_filters
from musmove_msgs.msg import AudioFrame

RATE = 22050


def seconds(frame: AudioFrame) -> float:
    return frame.header.stamp.sec + frame.header.stamp.nanosec * 1e-9


def nanoseconds(frame: AudioFrame) -> int:
    return frame.header.stamp.sec * 10**9 + frame.header.stamp.nanosec


def test_approximate_synchronizer_pairs_each_slow_frame_with_the_nearest_fast_one(ros_node, node_process, groove_wav):
    fast = message_filters.Subscriber(ros_node, AudioFrame, 'audio_fast', qos_profile=qos_profile_sensor_data)
    slow = message_filters.Subscriber(ros_node, AudioFrame, 'audio_slow', qos_profile=qos_profile_sensor_data)
    # A queue of 2.3 s of fast frames: a delivery stall of the slow process on a loaded machine must not
    # overflow it (held messages count against queue_size, as in the C++ policy; see bench/).
    sync = message_filters.ApproximateTimeSynchronizer([fast, slow], queue_size=100, slop=0.1, age_penalty=0.0)
    pairs, fast_frames, slow_frames = [], [], []
    fast.registerCallback(fast_frames.append)
    slow.registerCallback(slow_frames.append)
    sync.registerCallback(lambda a, b, tag: pairs.append((a, b, tag)), 'tag')
    for name, hop in (('audio_fast', 512), ('audio_slow', 1024)):
        node_process(
            'audio_source',
            '-r',
            f'__node:={name}_source',
            '-r',
            f'audio:={name}',
            '-p',
            f'file:={groove_wav}',
            '-p',
            f'hop_size:={hop}',
            '-p',
            'loop:=true',
        )
    try:
        assert wait_for(lambda: len(pairs) >= 30, ros_node, timeout=40)
    finally:
        for subscriber in (fast, slow):
            ros_node.destroy_subscription(subscriber.sub)
    assert all(tag == 'tag' for _, _, tag in pairs)  # registerCallback's extra arguments follow the messages
    # The pairs are the C++ policy's minimum-spread sets over the frames that arrived (sensor-data QoS may
    # lose some on a loaded machine), as the brute-force oracle computes them offline.
    streams = [[nanoseconds(frame) for frame in frames] for frames in (fast_frames, slow_frames)]
    expected = oracle(streams, max_interval=round(0.1 * 1e9))
    assert [(nanoseconds(a), nanoseconds(b)) for a, b, _ in pairs] == expected[: len(pairs)]
    assert max(abs(seconds(a) - seconds(b)) for a, b, _ in pairs) < 512 / RATE  # within one fast hop


def test_exact_synchronizer_needs_equal_stamps():
    left, right = message_filters.SimpleFilter(), message_filters.SimpleFilter()
    sync = message_filters.TimeSynchronizer([left, right], queue_size=5)
    matched = []
    sync.registerCallback(lambda a, b: matched.append((a.frame_index, b.frame_index)))
    for index, (sec, side) in enumerate([(1, left), (2, right), (2, left), (3, left)]):
        frame = AudioFrame(frame_index=index)
        frame.header.stamp.sec = sec
        side.signalMessage(frame)
    assert matched == [(2, 1)]


def test_headerless_messages_need_permission():
    left, right = message_filters.SimpleFilter(), message_filters.SimpleFilter()
    message_filters.ApproximateTimeSynchronizer([left, right], queue_size=5, slop=0.1)
    with pytest.raises(ValueError, match='allow_headerless'):
        left.signalMessage(object())
