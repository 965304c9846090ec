"""dance-melody: the joint identification holds on every real sequence; the loader, the virtual wrist IMU."""

import numpy as np
import pytest
from test_beat_data import shared_set

from musmove.sources.dance import DANCE_MELODY, FPS, sequences, skeleton
from musmove.sources.recordings import DANCE_JOINTS, read_imu, read_mocap

J = {name: index for index, name in enumerate(DANCE_JOINTS)}
SIDES = ('shoulder', 'elbow', 'forearm', 'wrist', 'hand', 'hip', 'knee', 'ankle')  # the feet cross in steps


@pytest.fixture(scope='module')
def recordings():
    shared_set(DANCE_MELODY)
    return {seq.name: (seq, skeleton(seq)) for seq in sequences()}


def body_axes(positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: facing (mean horizontal heel-to-toe direction) and right = facing x up (right-handed)."""
    toes = positions[:, [J['right_toe'], J['left_toe']]] - positions[:, [J['right_heel'], J['left_heel']]]
    facing = toes.sum(axis=1) * [1.0, 0.0, 1.0]
    facing /= np.linalg.norm(facing, axis=1, keepdims=True)
    return facing, np.cross(facing, [0.0, 1.0, 0.0])


def bends(joint: np.ndarray, facing: np.ndarray) -> float:
    """How far a middle joint (its offset from the midpoint of its neighbours) goes forward more than backward."""
    along = np.einsum('ij,ij->i', joint, facing)
    return float(np.percentile(along, 90) + np.percentile(along, 10))


def median_along(positions: np.ndarray, axis: np.ndarray, joint: str, origin: str | None = None) -> float:
    vector = positions[:, J[joint]] - (0.0 if origin is None else positions[:, J[origin]])
    return float(np.median(np.einsum('ij,ij->i', vector, axis)))


def test_the_43_sequences_and_their_splits(recordings):
    splits = [seq.split for seq, _ in recordings.values()]
    assert len(recordings) == 43 and (splits.count('train'), splits.count('validation'), splits.count('test')) == (
        28, 6, 9)  # fmt: skip
    assert sum(seq.dance == 'waltz' for seq, _ in recordings.values()) == 30
    for seq, mocap in recordings.values():
        assert mocap.positions.shape[1:] == (23, 3) and mocap.joint_names == DANCE_JOINTS
        assert abs(len(mocap.times) - (seq.end - seq.start)) <= 60  # the README: differs by up to ~10 (T_5: 56)
        assert mocap.times[1] == pytest.approx(1 / FPS)


def test_joint_identification_on_every_sequence(recordings):
    for name, (_, mocap) in recordings.items():
        p = mocap.positions
        height = {joint: float(np.median(p[:, J[joint], 1])) for joint in DANCE_JOINTS}
        for side in ('right', 'left'):  # head over shoulders over hips over knees over ankles over the foot
            chain = ['head_' + side, side + '_shoulder', side + '_hip', side + '_knee', side + '_ankle']
            assert [height[j] for j in chain] == sorted((height[j] for j in chain), reverse=True), name
            assert height[side + '_heel'] > height[side + '_toe'] - 0.03, name
            assert max(height[j] for j in ('head_right', 'head_left')) > height[side + '_shoulder'] + 0.05, name
        lowest = sorted(height, key=height.get)[:4]
        assert set(lowest) == {'right_heel', 'right_toe', 'left_heel', 'left_toe'}, (name, lowest)
        facing, right = body_axes(p)
        elbows = 0.0  # knees bend forward, elbows (together: the hold raises the left arm) backward
        for side in ('right', 'left'):
            sign = 1 if side == 'right' else -1
            knee = p[:, J[side + '_knee']] - (p[:, J[side + '_hip']] + p[:, J[side + '_ankle']]) / 2
            elbow = p[:, J[side + '_elbow']] - (p[:, J[side + '_shoulder']] + p[:, J[side + '_wrist']]) / 2
            assert bends(knee, facing) > 0, (name, side)
            elbows += bends(elbow, facing)
            for part in SIDES:  # each side's joints lie on their side of the spine
                assert sign * median_along(p, right, f'{side}_{part}', 'spine') > 0.03, (name, side, part)
        assert elbows < 0, name
        assert median_along(p, right, 'head_right', 'head_left') > 0.01, name  # less when the head turns (waltz)


def test_bone_lengths_are_rigid_and_symmetric(recordings):
    bones = [('shoulder', 'elbow'), ('hip', 'knee'), ('knee', 'ankle'), ('heel', 'toe'), ('ankle', 'toe')]
    for name, (_, mocap) in recordings.items():
        p = mocap.positions
        for a, b in bones:
            lengths = [np.linalg.norm(p[:, J[f'{s}_{a}']] - p[:, J[f'{s}_{b}']], axis=1) for s in ('right', 'left')]
            right, left = (float(np.median(length)) for length in lengths)
            assert abs(right - left) < 0.25 * max(right, left), (name, a, b, right, left)
            assert all(np.std(length) < 0.2 * np.median(length) for length in lengths), (name, a, b)
        for side in ('right', 'left'):  # the arm's points by distance from the elbow: forearm < wrist < hand
            distance = {part: np.median(np.linalg.norm(p[:, J[f'{side}_{part}']] - p[:, J[f'{side}_elbow']], axis=1))
                        for part in ('forearm', 'wrist', 'hand')}  # fmt: skip
            assert distance['forearm'] < distance['wrist'] < distance['hand'], (name, side, distance)


@pytest.mark.parametrize(
    ('arrays', 'message'),
    [
        (None, 'not a dance-melody skeletons.npz'),
        ({'skeletons': np.zeros((5, 3, 3)), 'center': np.zeros((5, 3))}, 'expected (n, 23, 3), (n, 3), n >= 2'),
        ({'skeletons': np.zeros((1, 23, 3)), 'center': np.zeros((1, 3))}, 'n >= 2'),
        ({'center': np.zeros((5, 3))}, 'not a dance-melody skeletons.npz'),
    ],
)
def test_a_broken_skeletons_file_is_one_clear_error(tmp_path, arrays, message):
    path = tmp_path / 'skeletons.npz'
    if arrays is None:
        path.write_bytes(b'not an archive' * 8)
    else:
        np.savez(path, **arrays)
    with pytest.raises(ValueError, match=message.replace('(', r'\(').replace(')', r'\)')):
        read_mocap(path)


def test_a_sequence_as_mocap_and_as_the_virtual_imu_of_a_wrist(recordings):
    seq, mocap = recordings['DANCE_W_1']
    again = read_mocap(seq.skeletons)
    raw = np.load(seq.skeletons)
    assert np.allclose(again.positions, (raw['skeletons'] + raw['center'][:, None]) / 100, atol=1e-6)
    imu = read_imu(seq.skeletons, 'right_wrist')
    assert imu.frame_id == 'dance_melody/right_wrist' and len(imu.times) == len(mocap.times)
    force = np.linalg.norm(imu.linear_acceleration, axis=1)
    assert 8.0 < np.median(force) < 11.6  # about 1 g when the wrist moves smoothly: gravity along -y


SLOWER = 1.013  # time_scale: seconds of the common clock per second of the recording
EARLIER = -0.8  # clock_offset [s]: the recording's time 0 on the common clock, after start_time


def test_mocap_source_and_imu_source_play_a_sequence_over_dds(recordings, ros_node, node_process):
    """A real sequence through the two source processes: 23 poses in DANCE_JOINTS order, the wrist's virtual IMU
    (on a clock 1.3 % slower that started 0.8 s earlier, `time_scale` and `clock_offset`, as the movement of most
    sequences runs against its song). Each message is checked against the sample its stamp names: a reader
    that matches the writer a moment after the writer matched it misses the first few (volatile durability)."""
    from geometry_msgs.msg import PoseArray
    from ros_helpers import wait_for
    from sensor_msgs.msg import Imu

    seq, mocap = recordings['DANCE_W_1']
    poses: list[PoseArray] = []
    imus: list[Imu] = []
    subscriptions = [ros_node.create_subscription(PoseArray, 'mocap', poses.append, 1000),
                     ros_node.create_subscription(Imu, 'imu', imus.append, 1000)]  # fmt: skip
    common = ('-p', f'file:={seq.skeletons}', '-p', 'realtime:=false', '-p', 'wait_for_subscribers:=1')
    common += ('-p', 'start_time:=1000.0')
    node_process('mocap_source', *common)
    node_process('imu_source', *common, '-p', 'joint:=right_wrist', '-p', f'time_scale:={SLOWER}',
                 '-p', f'clock_offset:={EARLIER}')  # fmt: skip
    try:
        assert wait_for(lambda: len(poses) >= 100 and len(imus) >= 100, ros_node, timeout=60)
    finally:
        for subscription in subscriptions:
            ros_node.destroy_subscription(subscription)
    frames = [(_seconds(message) - 1000.0) * FPS for message in poses[:100]]
    assert np.allclose(frames, np.round(frames), atol=1e-4) and np.all(np.diff(frames) > 0)
    for message, k in zip(poses[:100], np.round(frames).astype(int), strict=True):
        got = np.array([[p.position.x, p.position.y, p.position.z] for p in message.poses])
        assert got.shape == (23, 3) and np.allclose(got, mocap.positions[k], atol=1e-5)
    expected = read_imu(seq.skeletons, 'right_wrist')
    assert imus[0].header.frame_id == 'dance_melody/right_wrist'  # virtual, and says so
    on_clock = 1000.0 + EARLIER + SLOWER * (expected.times - expected.times[0])
    stamps = np.array([_seconds(message) for message in imus[:100]])
    k = np.argmin(np.abs(stamps[:, None] - on_clock[None, :]), axis=1)
    assert np.allclose(stamps, on_clock[k], atol=1e-6) and np.all(np.diff(k) > 0)
    a = np.array([[m.linear_acceleration.x, m.linear_acceleration.y, m.linear_acceleration.z] for m in imus[:100]])
    assert np.allclose(a, expected.linear_acceleration[k], atol=1e-4)


def _seconds(message) -> float:
    return message.header.stamp.sec + message.header.stamp.nanosec * 1e-9


def test_dance_offsets_names_an_unknown_sequence_in_one_line(recordings):
    from test_cli import musmove

    result = musmove('dance-offsets', 'DANCE_X_1')
    assert result.returncode != 0 and result.stderr.strip().count('\n') == 0
    assert 'no dance-melody sequence DANCE_X_1' in result.stderr


def test_both_offset_methods_recover_a_shift_and_a_clock_scale_put_into_a_real_dance(recordings):
    """The real movement events of a waltz on a clock 1 % slower, 120 ms behind: each method sees exactly that."""
    pytest.importorskip('madmom', reason='the reference beats need madmom (tools/bootstrap.sh --evaluation)')
    from musmove.evaluation.dance_offsets import by_correlation, by_phase, circular, movement_events, music

    seq, _ = recordings['DANCE_W_6']
    target, (times, envelope) = music(seq), movement_events(seq)
    for method in (by_correlation, by_phase):
        lag, scale, _ = method((times, envelope), target)
        moved_lag, moved_scale, _ = method((times / 1.01 + 0.12 / 1.01, envelope), target)
        assert moved_scale == pytest.approx(scale * 1.01, abs=0.0011), method.__name__
        assert abs(circular(moved_lag - lag - 0.12, target.period)) < 0.02, method.__name__
