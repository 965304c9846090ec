"""gesture_phase over DDS: a real Kinect recording through mocap_source and the synchronizer, each its own process.

Audio (the bundled Groove MIDI rendering) clocks the synchronizer's frames; the UCI recording c3 is the
partner; the test publishes a 120 BPM beat. The node's phases are compared with the shipped model run
offline on the same recording (the synchronizer's low-pass and resampling change the joints a little).
"""

import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from ros_helpers import NodeProcess, stop_all, wait_for
from test_recordings import uci

from musmove.gesture.features import RATE, features
from musmove.models import StreamingModel
from musmove.sources.recordings import read_mocap
from musmove_msgs.msg import Beat, GesturePhase, SyncFrame

NS = 10**9
SECONDS = 20.0
MODEL = 'models/gesture_rnn.onnx'


def seconds(stamp) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


@pytest.fixture(scope='module')
def session(ros_node, groove_wav, tmp_path_factory):
    recording = uci('c3')
    start = time.time() + 12.0  # four processes to come up on two cores (a source later than 1 s skips ahead)
    common = ('-p', f'start_time:={start}')
    folder = tmp_path_factory.mktemp('gesture')
    processes = [
        NodeProcess('synchronizer', ('-p', 'max_joint_speed:=200.0', '-p', 'imu_topics:=[""]'), folder),
        NodeProcess('gesture_phase', ('-p', f'model:={MODEL}'), folder),
        NodeProcess('audio_source', ('-p', f'file:={groove_wav}', *common), folder),
        NodeProcess('mocap_source', ('-p', f'file:={recording}', *common), folder),
    ]
    phases: list[GesturePhase] = []
    frames: list[SyncFrame] = []
    beats = ros_node.create_publisher(Beat, 'beats', 10)
    subscriptions = [
        ros_node.create_subscription(GesturePhase, 'gesture_phase', phases.append, 100),
        ros_node.create_subscription(SyncFrame, 'sync_frame', frames.append, 100),
    ]
    sent = 0

    def beat_and_wait() -> bool:
        nonlocal sent
        # 120 BPM from the start, each beat published one beat before it happens: a test process stalled by a loaded
        # machine for a second must not leave the node without a beat in the last two (its beat_phase is then NaN).
        while start + 0.5 * sent <= time.time() + 0.5:
            beat = Beat(kind=Beat.OBSERVED, index=sent, tempo=120.0, confidence=1.0)
            beat.header.stamp.sec, beat.header.stamp.nanosec = divmod(round((start + 0.5 * sent) * NS), NS)
            beats.publish(beat)
            sent += 1
        return time.time() > start + SECONDS

    try:
        wait_for(beat_and_wait, ros_node, timeout=SECONDS + 30)
        wait_for(lambda: False, ros_node, timeout=0.5)  # the last messages in flight
        assert all(p.popen.poll() is None for p in processes), [p.stderr for p in processes]
    finally:
        stop_all(processes)
        for subscription in subscriptions:
            ros_node.destroy_subscription(subscription)
        ros_node.destroy_publisher(beats)
    return start, phases, frames, recording


def test_one_estimate_per_frame_with_probabilities(session):
    _, phases, frames, _ = session
    with_joints = {(f.header.stamp.sec, f.header.stamp.nanosec) for f in frames if f.joints}
    stamps = {(m.header.stamp.sec, m.header.stamp.nanosec) for m in phases}
    assert len(phases) > 0.8 * SECONDS * 22050 / 512
    assert len(stamps & with_joints) >= 0.95 * len(phases)  # stamped as the frame it came from
    probabilities = np.array([m.probabilities for m in phases])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert all(m.phase == int(np.argmax(m.probabilities)) for m in phases)
    assert all(0 < m.confidence <= max(m.probabilities) + 1e-6 for m in phases)
    assert len({m.phase for m in phases}) >= 3  # the partner rests, prepares, strokes ...


def test_phases_agree_with_the_model_offline(session):
    start, phases, _, recording = session
    mocap = read_mocap(recording)
    grid = np.arange(0.0, mocap.times[-1], 1 / RATE)
    flat = mocap.positions.reshape(len(mocap.times), -1)
    positions = np.stack([np.interp(grid, mocap.times, c) for c in flat.T], axis=1).reshape(len(grid), -1, 3)
    model = StreamingModel(MODEL, task='gesture')
    chosen = np.array(model.card['features']['columns'])
    offline = np.array([model(row[chosen]).argmax() for row in features(positions)])
    times = np.array([seconds(m.header.stamp) - start for m in phases])
    live = np.array([m.phase for m in phases])
    settled = times > 2.0  # past the synchronizer's filters starting up
    index = np.clip(np.round(times[settled] * RATE).astype(int), 0, len(offline) - 1)
    agreement = np.mean(live[settled] == offline[index])
    print(f'live vs offline phase agreement {agreement:.1%} over {settled.sum()} frames')
    assert agreement > 0.7  # measured: 83 %


def test_beat_phase_follows_the_beat(session):
    start, phases, _, _ = session
    late = [m for m in phases if seconds(m.header.stamp) - start > 1.0]
    expected = np.array([(seconds(m.header.stamp) - start) / 0.5 % 1.0 for m in late])
    actual = np.array([m.beat_phase for m in late])
    error = np.minimum(np.abs(actual - expected), 1 - np.abs(actual - expected))  # cyclic
    assert np.median(error) < 0.01 and np.mean(error < 0.05) > 0.95


def test_a_corrupt_model_stops_the_node_with_the_reason(node_process, tmp_path):
    shutil.copy(Path(MODEL).with_suffix('.json'), tmp_path)  # the card, with the real file's sha256
    (tmp_path / Path(MODEL).name).write_bytes(b'not a model')
    node = node_process('gesture_phase', '-p', f'model:={tmp_path / Path(MODEL).name}')
    assert node.popen.wait(timeout=30) == 2
    assert 'sha256' in node.stderr and 'corrupt' in node.stderr


def test_a_beat_model_is_refused(node_process):
    node = node_process('gesture_phase', '-p', 'model:=models/beat_crnn.onnx')
    assert node.popen.wait(timeout=30) == 2
    assert "a 'beat' model, not a 'gesture' model" in node.stderr
