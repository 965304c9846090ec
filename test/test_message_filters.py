"""musmove.message_filters over real DDS: two audio_source processes at different frame rates."""

import pytest
from rclpy.qos import qos_profile_sensor_data
from ros_helpers import wait_for

from musmove import message_filters
from musmove_msgs.msg import AudioFrame

RATE = 22050


def seconds(frame: AudioFrame) -> float:
    return frame.header.stamp.sec + frame.header.stamp.nanosec * 1e-9


def test_approximate_synchronizer_pairs_each_slow_frame_with_the_nearest_fast_one(ros_node, node_process, groove_wav):
    fast = message_filters.Subscriber(ros_node, AudioFrame, 'audio_fast', qos_profile=qos_profile_sensor_data)
    slow = message_filters.Subscriber(ros_node, AudioFrame, 'audio_slow', qos_profile=qos_profile_sensor_data)
    sync = message_filters.ApproximateTimeSynchronizer([fast, slow], queue_size=20, slop=0.1, age_penalty=0.0)
    pairs, received = [], []
    sync.registerCallback(lambda a, b, tag: pairs.append((a, b, tag)), 'tag')
    fast.registerCallback(received.append)
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
    fast_times = [seconds(frame) for frame in received]
    for a, b, tag in pairs:
        assert tag == 'tag'  # registerCallback's extra arguments follow the messages
        # the nearest fast frame that arrived was chosen (sensor-data QoS may lose one under load)
        assert abs(seconds(a) - seconds(b)) == pytest.approx(min(abs(t - seconds(b)) for t in fast_times), abs=1e-6)
    assert [b.frame_index for _, b, _ in pairs] == sorted({b.frame_index for _, b, _ in pairs})


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
