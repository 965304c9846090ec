"""The three file sources and the synchronizer as separate processes over DDS, on real recordings.

Audio: the bundled Groove MIDI performance rendered with fluidsynth. Motion capture: the UCI
gesture-phase Kinect recording a3. IMU: the virtual IMU of its right wrist, resampled to 200 Hz
and played 80 ms late (`time_offset`), an offset the synchronizer must see in its diagnostics.
All three sources share a start time, so the recordings are on one clock.
"""

import time

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from ros_helpers import stop_all, wait_for
from test_recordings import uci

from musmove.sources.recordings import read_mocap, virtual_imu
from musmove_msgs.msg import StreamStatus, SyncFrame

HOP, RATE, INJECTED = 512, 22050, 0.08
NS = 10**9


@pytest.fixture(scope='module')
def session(ros_node, groove_wav, tmp_path_factory):
    """Run the graph for about 15 s; return the start time [ns], the frames and the diagnostics."""
    from ros_helpers import NodeProcess

    recording = uci('a3')
    start = time.time() + 12.0  # the four processes come up on two cores (a source later than 1 s skips ahead)
    common = ['-p', f'start_time:={start}']
    log_dir = tmp_path_factory.mktemp('logs')
    processes = [
        NodeProcess(
            'synchronizer',
            (
                '-p',
                'offset_reference:=mocap',
                '-p',
                'offset_period:=3.0',
                '-p',
                'offset_window:=12.0',
                '-p',
                'max_joint_speed:=200.0',
            ),
            log_dir,
        ),
        NodeProcess('audio_source', ('-p', f'file:={groove_wav}', '-p', f'hop_size:={HOP}', *common), log_dir),
        NodeProcess('mocap_source', ('-p', f'file:={recording}', *common), log_dir),
        NodeProcess(
            'imu_source',
            ('-p', f'file:={recording}', '-p', 'rate:=200.0', '-p', f'time_offset:={INJECTED}', *common),
            log_dir,
        ),
    ]
    frames: list[SyncFrame] = []
    diagnostics: list[DiagnosticArray] = []
    subscriptions = [
        ros_node.create_subscription(SyncFrame, 'sync_frame', frames.append, 100),
        ros_node.create_subscription(DiagnosticArray, 'diagnostics', diagnostics.append, 10),
    ]
    try:
        wait_for(lambda: time.time() > start + 15.0, ros_node, timeout=30.0)
        assert all(p.popen.poll() is None for p in processes), [p.stderr for p in processes]
    finally:
        stop_all(processes)
        for subscription in subscriptions:
            ros_node.destroy_subscription(subscription)
    return round(start * NS), frames, diagnostics, processes


def nanoseconds(stamp) -> int:
    return stamp.sec * NS + stamp.nanosec


def test_one_frame_per_audio_frame_on_the_audio_clock(session):
    start, frames, _, processes = session
    assert len(frames) > 0.8 * 15.0 * RATE / HOP, processes[0].stderr
    offsets = [nanoseconds(f.header.stamp) - start for f in frames]
    hop_ns = HOP * NS / RATE
    indices = np.round(np.array(offsets) / hop_ns)
    assert np.all(np.abs(np.array(offsets) - np.floor(indices * HOP * NS / RATE)) <= 1)
    assert np.all(np.diff(indices) >= 1)  # in order, none twice


def test_every_stream_is_present_and_mostly_measured(session):
    _, frames, _, _ = session
    settled = frames[len(frames) // 10 :]
    for frame in settled:
        assert [s.name for s in frame.streams] == ['audio', 'imu', 'mocap']
        assert len(frame.imu) == 1 and len(frame.joints) == 6 and len(frame.audio_features) == 2
    for index, name in ((1, 'imu'), (2, 'mocap')):
        ok = np.mean([frame.streams[index].state == StreamStatus.OK for frame in settled])
        assert ok > 0.9, f'{name}: only {ok:.0%} of the frames interpolated between real samples'


def test_resampled_values_follow_the_recordings(session):
    """At each frame time the synchronizer's values equal the recording there, up to the low-pass."""
    start, frames, _, _ = session
    mocap = read_mocap(uci('a3'))
    imu = virtual_imu(mocap, 'right_wrist')
    settled = [f for f in frames[len(frames) // 10 :] if f.streams[2].state == StreamStatus.OK]
    t = np.array([(nanoseconds(f.header.stamp) - start) / NS for f in settled])
    wrist = mocap.joint_names.index('right_wrist')
    got = np.array([[f.joints[wrist].position.x, f.joints[wrist].position.y] for f in settled])
    want = np.column_stack([np.interp(t, mocap.times, mocap.positions[:, wrist, axis]) for axis in (0, 1)])
    spread = want.std(axis=0)
    error = np.median(np.abs(got - want), axis=0)
    assert np.all(error < 0.1 * spread), (error, spread)
    measured = np.array([f.streams[1].state == StreamStatus.OK for f in settled])
    acceleration = np.array([f.imu[0].linear_acceleration.y for f in settled])[measured]
    truth = np.interp(t[measured] - INJECTED, imu.times, imu.linear_acceleration[:, 1])  # the IMU was played late
    correlation = np.corrcoef(acceleration, truth)[0, 1]
    assert correlation > 0.9, correlation


def test_injected_offset_is_found_within_one_hop(session):
    _, _, diagnostics, _ = session
    values = {k.key: k.value for s in diagnostics[-1].status if s.hardware_id == 'imu' for k in s.values}
    estimate = float(values['estimated_offset_ms_vs_mocap']) / 1000
    assert abs(estimate - INJECTED) < HOP / RATE, values
    assert float(values['rate_hz']) == pytest.approx(200.0, rel=0.02)
