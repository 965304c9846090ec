"""Recorded movement files: the real UCI gesture-phase recordings, BVH, C3D and IMU CSV."""

import re
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from musmove.sources.recordings import (
    PHASES,
    MocapRecording,
    read_imu,
    read_imu_csv,
    read_mocap,
    select_joints,
    virtual_imu,
)

G = 9.80665
# Frame counts from the data set's data_description.txt. b3_raw.csv has 1424 rows, not 1423: its
# processed file b3_va3.csv has 1420 = 1424 - 4 rows, the same relation as every other recording,
# so the description is off by one and the reader keeps every row.
DOCUMENTED_FRAMES = {'a1': 1747, 'a2': 1264, 'a3': 1834, 'b1': 1073, 'b3': 1423, 'c1': 1111, 'c3': 1448}
ROWS_IN_FILE = DOCUMENTED_FRAMES | {'b3': 1424}


def shared_data() -> Path:
    """The shared data sets next to the repository."""
    return Path(__file__).parents[1].parent / 'shared' / 'data'


def uci(name: str) -> Path:
    directory = shared_data() / 'uci-gesture-phase' / 'raw'
    if not directory.is_dir():
        pytest.skip(f'UCI gesture-phase data not found: {directory} is missing')
    return directory / f'{name}_raw.csv'


@pytest.mark.parametrize('name', sorted(DOCUMENTED_FRAMES))
def test_uci_recordings_load_with_their_documented_frames(name):
    mocap = read_mocap(uci(name))
    assert len(mocap.times) == ROWS_IN_FILE[name] == DOCUMENTED_FRAMES[name] + (name == 'b3')
    processed = uci(name).parents[1] / 'processed' / f'{name}_va3.csv'
    if processed.stat().st_size:  # a1_va3.csv is empty in the data set
        assert len(processed.read_text().splitlines()) - 1 == len(mocap.times) - 4
    assert mocap.joint_names == ('left_hand', 'right_hand', 'head', 'spine', 'left_wrist', 'right_wrist')
    assert mocap.positions.shape == (len(mocap.times), 6, 3) and np.isfinite(mocap.positions).all()
    assert mocap.orientations is None and mocap.frame_id == 'kinect'
    assert set(mocap.labels) == set(PHASES) and len(mocap.labels) == len(mocap.times)
    assert mocap.times[0] == 0 and (np.diff(mocap.times) > 0).all()
    assert 1 / np.median(np.diff(mocap.times)) == pytest.approx(30, abs=2.5)
    # the y axis points down: the head is above the spine and the hands at smaller y
    head, spine = np.median(mocap.positions[:, 2, 1]), np.median(mocap.positions[:, 3, 1])
    assert head < spine and mocap.gravity == (0.0, G, 0.0)


def test_uci_timestamps_are_clock_readings():
    mocap = read_mocap(uci('a1'))  # first stamp 5702026 (57:02.026), last 5807537 (58:07.537)
    assert mocap.times[-1] == pytest.approx(65.511)
    assert np.diff(mocap.times).max() < 1.0  # 5759980 -> 5800012 is 32 ms, not 40 s
    # b1 labels one frame in Portuguese, 'Preparação'
    assert read_mocap(uci('b1')).labels.count('preparation') == 412


def test_uci_duplicate_stamps_keep_the_first_row_and_disorder_is_an_error(tmp_path):
    header, *rows = uci('a1').read_text().splitlines()[:6]
    other_values = rows[2].split(',')[:18] + rows[1].split(',')[18:]
    path = tmp_path / 'x_raw.csv'
    path.write_text('\n'.join([header, rows[0], rows[1], rows[1], ','.join(other_values), *rows[2:]]) + '\n')
    mocap = read_mocap(path)
    assert len(mocap.times) == 5
    np.testing.assert_array_equal(mocap.positions[1].ravel(), [float(v) for v in rows[1].split(',')[:18]])
    path.write_text('\n'.join([header, rows[0], rows[2], rows[1]]) + '\n')
    with pytest.raises(ValueError, match=r'x_raw.csv:4: time 5702058 is not after the previous 5702089'):
        read_mocap(path)
    path.write_text('\n'.join([header, rows[0], rows[1].replace('Rest', 'Dance')]) + '\n')
    with pytest.raises(ValueError, match=r":3: unknown phase 'Dance'"):
        read_mocap(path)
    path.write_text('a,b\n1,2\n')
    with pytest.raises(ValueError, match='missing columns lhx, lhy'):
        read_mocap(path)


def bvh_text(frames: list[list[float]], frame_time: float = 0.04) -> str:
    """A 3-joint chain: hips (6 channels), knee 10 below, ankle 10 below with its own Y position channel."""
    hierarchy = """HIERARCHY
ROOT hips
{
  OFFSET 1 2 3
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT knee
  {
    OFFSET 0 -10 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    JOINT ankle
    {
      OFFSET 0 -10 0
      CHANNELS 4 Yposition Xrotation Yrotation Zrotation
      End Site
      {
        OFFSET 0 0 5
      }
    }
  }
}
MOTION
"""
    rows = '\n'.join(' '.join(f'{value:g}' for value in row) for row in frames)
    return f'{hierarchy}Frames: {len(frames)}\nFrame Time: {frame_time}\n{rows}\n'


def test_bvh_forward_kinematics_matches_hand_computation(tmp_path):
    path = tmp_path / 'chain.bvh'
    #                hips x y z, rz rx ry | knee rz rx ry | ankle ypos rx ry rz
    path.write_text(
        bvh_text(
            [
                [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],  # rest
                [100, 50, 0, 90, 0, 0, 0, 0, 0, 0, 0, 0, 0],  # hips moved and turned 90 deg about z
                [-1, -2, -3, 0, 0, 0, 0, 90, 0, 0, 0, 0, 0],  # knee turned 90 deg about x
                [-1, -2, -3, 90, 90, 0, 0, 0, 0, 0, 0, 0, 0],  # hips: z then x, intrinsic
                [-1, -2, -3, 0, 0, 0, 0, 0, 0, -5, 0, 0, 0],  # ankle position channel
            ]
        )
    )
    mocap = read_mocap(path)
    assert mocap.joint_names == ('hips', 'knee', 'ankle') and mocap.labels is None
    np.testing.assert_allclose(mocap.times, [0, 0.04, 0.08, 0.12, 0.16])
    expected_cm = [
        [[1, 2, 3], [1, -8, 3], [1, -18, 3]],
        [[101, 52, 3], [111, 52, 3], [121, 52, 3]],  # Rz(90) maps (0, -10, 0) to (10, 0, 0)
        [[0, 0, 0], [0, -10, 0], [0, -10, -10]],  # Rx(90) maps (0, -10, 0) to (0, 0, -10)
        [[0, 0, 0], [0, 0, -10], [0, 0, -20]],  # Rz(90) Rx(90) maps (0, -10, 0) to (0, 0, -10)
        [[0, 0, 0], [0, -10, 0], [0, -25, 0]],
    ]
    np.testing.assert_allclose(mocap.positions, np.array(expected_cm) * 0.01, atol=1e-12)
    np.testing.assert_allclose(read_mocap(path, scale=1.0).positions, expected_cm, atol=1e-10)
    quarter = np.sqrt(0.5)
    np.testing.assert_allclose(mocap.orientations[1, 0], [0, 0, quarter, quarter], atol=1e-12)
    np.testing.assert_allclose(mocap.orientations[2, 2], [quarter, 0, 0, quarter], atol=1e-12)  # inherits the knee
    knee = select_joints(mocap, ['knee'])
    np.testing.assert_array_equal(knee.orientations[:, 0], mocap.orientations[:, 1])


@pytest.mark.parametrize(
    ('change', 'message'),
    [
        (('OFFSET 0 -10 0', 'OFFSET 0 ten 0'), r'chain.bvh:8: expected a number'),
        (('Xrotation Yrotation Zrotation', 'Xrotation Yrotation Wrotation'), r":13: unknown channel 'Wrotation'"),
        (('End Site', 'Leaf'), r":14: expected JOINT, End Site or '}', got 'Leaf'"),
        (('Frames: 2', 'Frames: 3'), r':23: Frames: 3, Frame Time: 0.04, but 2 frame rows follow'),
        (('0 0 0 0 0 0 0 0 0 0 0 0 0\n', '0 0 0 0 0 0\n'), r':24: expected 13 values, one per channel'),
        (('HIERARCHY', 'HIERARCHIE'), r":1: expected 'HIERARCHY', got 'HIERARCHIE'"),
        (('MOTION\n', ''), r":21: expected 'MOTION', got 'Frames:'"),
    ],
)
def test_malformed_bvh_names_the_line(tmp_path, change, message):
    path = tmp_path / 'chain.bvh'
    path.write_text(bvh_text([[0.0] * 13, [0.0] * 13]).replace(*change, 1))
    with pytest.raises(ValueError, match=message):
        read_mocap(path)


def test_virtual_imu_of_a_turning_bvh_joint_reports_body_rates(tmp_path):
    path = tmp_path / 'turn.bvh'
    path.write_text(bvh_text([[0, 0, 0, 10 * k] + [0] * 9 for k in range(30)], frame_time=0.1))
    imu = read_imu(path, joint='hips')
    assert imu.frame_id == 'mocap/hips'
    np.testing.assert_allclose(imu.angular_velocity, np.tile([0, 0, np.radians(100)], (30, 1)), atol=1e-9)
    # standing still and upright at the start: the accelerometer reads +g along the body's y (up)
    np.testing.assert_allclose(imu.linear_acceleration[0], [0, G, 0], atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(imu.linear_acceleration, axis=1), G)
    np.testing.assert_allclose(imu.orientation, read_mocap(path).orientations[:, 0])


def test_c3d_written_from_real_positions_reads_back(tmp_path):
    ezc3d = pytest.importorskip('ezc3d')
    uci_mocap = read_mocap(uci('a1'))
    frames = 300
    points = np.ones((4, 6, frames))
    points[:3] = uci_mocap.positions[:frames].transpose(2, 1, 0) * 1000
    points[0, 5, 10] = np.nan  # the right wrist is lost in frame 10
    c3d = ezc3d.c3d()
    c3d['parameters']['POINT']['RATE']['value'] = [30]
    c3d['parameters']['POINT']['LABELS']['value'] = uci_mocap.joint_names
    c3d.add_parameter('POINT', 'UNITS', 'mm')
    c3d['data']['points'] = points
    c3d.write(str(tmp_path / 'a1.c3d'))
    mocap = read_mocap(tmp_path / 'a1.c3d')
    assert mocap.joint_names == uci_mocap.joint_names and mocap.orientations is None
    np.testing.assert_allclose(mocap.times, np.arange(frames) / 30)
    expected = uci_mocap.positions[:frames].copy()
    expected[10, 5] = np.nan
    np.testing.assert_allclose(mocap.positions, expected, rtol=1e-6)  # C3D stores float32
    imu = virtual_imu(mocap, 'right_wrist', gravity=(0.0, G, 0.0))
    assert np.isnan(imu.linear_acceleration[10]).all() and np.isfinite(imu.linear_acceleration[11:]).all()


def test_virtual_imu_at_rest_reads_gravity_on_a_real_wrist():
    mocap = read_mocap(uci('a1'))
    imu = read_imu(uci('a1'))  # the right wrist
    assert imu.frame_id == 'kinect/right_wrist' and imu.angular_velocity is None and imu.orientation is None
    np.testing.assert_array_equal(imu.times, mocap.times)
    rest = np.array(mocap.labels) == 'rest'
    at_rest = imu.linear_acceleration[rest]
    assert np.median(np.linalg.norm(at_rest, axis=1)) == pytest.approx(G, rel=0.1)
    assert np.median(at_rest[:, 1]) == pytest.approx(-G, rel=0.1)  # pointing up, that is towards -y


@pytest.mark.parametrize('jitter', [0.0, 0.004])
def test_virtual_imu_recovers_a_constant_acceleration(jitter):
    rng = np.random.default_rng(1)
    times = np.arange(200) / 30 + rng.uniform(-jitter, jitter, 200)
    times -= times[0]
    acceleration, velocity, start = np.array([1.5, -2.0, 0.5]), np.array([0.3, 0.0, -0.2]), np.array([1.0, 2.0, 3.0])
    path = start + velocity * times[:, None] + 0.5 * acceleration * times[:, None] ** 2
    mocap = MocapRecording(times, ('hand',), path[:, None], None, None, 'lab', (0.0, 0.0, -G))
    imu = virtual_imu(mocap, 'hand')
    expected = acceleration - np.array(mocap.gravity)
    tolerance = 1e-6 if jitter == 0 else 0.05
    np.testing.assert_allclose(imu.linear_acceleration, np.tile(expected, (200, 1)), atol=tolerance)
    np.testing.assert_allclose(
        virtual_imu(mocap, 'hand', gravity=(0, 0, 0)).linear_acceleration[5], acceleration, atol=tolerance
    )


def test_select_joints_reorders_and_names_what_exists():
    mocap = read_mocap(uci('a1'))
    hands = select_joints(mocap, ['right_hand', 'left_hand'])
    assert hands.joint_names == ('right_hand', 'left_hand')
    np.testing.assert_array_equal(hands.positions, mocap.positions[:, [1, 0]])
    with pytest.raises(ValueError, match=r'unknown joints nose; available: left_hand, right_hand, head'):
        select_joints(mocap, ['head', 'nose'])
    with pytest.raises(ValueError, match='unknown joints elbow'):
        virtual_imu(mocap, 'elbow')


def write_imu(path: Path, columns: dict[str, np.ndarray]) -> None:
    np.savetxt(path, np.column_stack(list(columns.values())), delimiter=',', header=','.join(columns), comments='')


def test_imu_csv_round_trip_in_any_column_order(tmp_path):
    rng = np.random.default_rng(0)
    times = 12.5 + np.arange(50) / 100
    acceleration, gyro = rng.normal(size=(50, 3)), rng.normal(size=(50, 3))
    quaternions = Rotation.random(50, random_state=1).as_quat()
    columns = {'time': times} | dict(zip(['ax', 'ay', 'az'], acceleration.T, strict=True))
    columns |= dict(zip(['gx', 'gy', 'gz'], gyro.T, strict=True))
    columns |= dict(zip(['qx', 'qy', 'qz', 'qw'], (quaternions * 2).T, strict=True))  # normalised on reading
    write_imu(tmp_path / 'ordered.csv', columns)
    write_imu(
        tmp_path / 'shuffled.csv', {name: columns[name] for name in rng.permutation(list(columns))} | {'x': times}
    )
    for name in ('ordered.csv', 'shuffled.csv'):
        imu = read_imu(tmp_path / name)
        np.testing.assert_allclose(imu.times, times - 12.5, atol=1e-12)
        np.testing.assert_allclose(imu.linear_acceleration, acceleration, rtol=1e-15)
        np.testing.assert_allclose(imu.angular_velocity, gyro, rtol=1e-15)
        np.testing.assert_allclose(imu.orientation, quaternions, rtol=1e-15)
        assert imu.frame_id == 'imu'
    write_imu(tmp_path / 'minimal.csv', {name: columns[name] for name in ('az', 'time', 'ay', 'ax')})
    minimal = read_imu_csv(tmp_path / 'minimal.csv')
    assert minimal.angular_velocity is None and minimal.orientation is None
    np.testing.assert_allclose(minimal.linear_acceleration, acceleration, rtol=1e-15)


@pytest.mark.parametrize(
    ('text', 'message'),
    [
        ('', r'bad.csv: empty file'),
        ('time,ax,gx\n0,1,2\n', r'bad.csv: missing columns ay, az'),
        ('time,ax,ay,az\n', r'bad.csv: no rows after the header'),
        ('time,ax,ay,az\n0,0,0,9.8\n0.01,0,0,9.8\n0.01,0,0,9.8\n', r'bad.csv:4: time 0.01 is not after the previous'),
        ('time,ax,ay,az,gx,gy\n0,0,0,9.8,0,0\n', r'bad.csv: columns gx, gy, gz must be given all together'),
        ('time,ax,ay,az\n0,0,0,9.8\n0.01,0,x,9.8\n', r'bad.csv:3: expected numbers in columns'),
        ('time,ax,ay,az,qx,qy,qz,qw\n0,0,0,9.8,0,0,0,0\n', r'bad.csv:2: quaternion qx, qy, qz, qw is zero'),
    ],
)
def test_bad_imu_csv_is_a_clear_error(tmp_path, text, message):
    (tmp_path / 'bad.csv').write_text(text)
    with pytest.raises(ValueError, match=message):
        read_imu(tmp_path / 'bad.csv')


def test_missing_files_and_unknown_formats_are_clear_errors(tmp_path):
    for reader in (read_imu, read_imu_csv, read_mocap):
        with pytest.raises(FileNotFoundError, match=re.escape(f'no such recording file: {tmp_path / "none.csv"}')):
            reader(tmp_path / 'none.csv')
    with pytest.raises(ValueError, match='no such recording file'):
        read_mocap(tmp_path / 'none.bvh')
    (tmp_path / 'take.fbx').write_bytes(b'')
    with pytest.raises(ValueError, match=r"unknown recording format '.fbx'; supported: .csv .*, .bvh, .c3d"):
        read_imu(tmp_path / 'take.fbx')
    (tmp_path / 'bad.c3d').write_text('not c3d')
    pytest.importorskip('ezc3d')
    with pytest.raises(ValueError, match=r'bad.c3d: not a readable C3D file'):
        read_mocap(tmp_path / 'bad.c3d')
