"""Recorded movement files as arrays: IMU CSV, BVH, C3D and UCI gesture-phase motion capture.

IMU CSV layout (`read_imu_csv`): a header row, then one sample per row; columns are found by name, in any
order, and other columns are ignored:

    time        s, required, strictly increasing (any origin: times are returned from the first sample)
    ax, ay, az  m/s^2, required: specific force as an accelerometer measures it (gravity included)
    gx, gy, gz  rad/s, optional (all three or none): angular velocity
    qx, qy, qz, qw  optional (all four or none): orientation quaternion, normalised on reading

Motion capture (`read_mocap`), positions in metres after `scale`, frame ids 'kinect' (UCI) and 'mocap':

- BVH: forward kinematics of every joint (End Sites are not joints). Rotation channels in any order
  compose as intrinsic rotations in the listed order; a joint's local translation is its OFFSET plus
  its position channels. Default scale 0.01 (centimetres, the common BVH unit); gravity along -y.
- C3D (with ezc3d): one joint per point label, no orientations; scale from POINT:UNITS (mm, cm, m);
  a marker missing in a frame (any coordinate NaN) is NaN in that frame. Gravity assumed along -z.
- UCI gesture-phase `*_raw.csv` (Kinect, six joints, labels lower-cased). Its `timestamp` is a clock
  reading HMMSSmmm (hours, minutes, seconds, ms: 5759980 is followed 32 ms later by 5800012), decoded
  as such. Of consecutive rows with the same stamp (exact duplicates included) the first is kept; the
  Portuguese 'Preparação' (b1_raw.csv) reads as 'preparation'. The coordinate units are not documented
  (x, y look like image pixels / 100, z like depth in metres), so the default scale is 1.0. The y axis
  points down (the head is above the hands at smaller y), so gravity is along +y.
- dance-melody `skeletons.npz` (25 fps, 23 joints `DANCE_JOINTS`, identified in `musmove.sources.dance`):
  `skeletons` (cm, relative to `center`) plus `center`, so the joints are in the room; y up, gravity along -y.
"""

import csv
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy.signal import savgol_filter
from scipy.spatial.transform import Rotation

G = 9.80665
UCI_JOINTS = {'left_hand': 'lh', 'right_hand': 'rh', 'head': 'h', 'spine': 's', 'left_wrist': 'lw', 'right_wrist': 'rw'}
DANCE_JOINTS = (
    'head_right', 'head_left', 'spine', 'right_shoulder', 'right_elbow', 'right_forearm', 'right_wrist',
    'right_hip', 'right_knee', 'right_ankle', 'right_heel', 'right_toe', 'left_shoulder', 'left_elbow', 'left_wrist',
    'left_hand', 'left_hip', 'left_knee', 'left_ankle', 'left_heel', 'left_toe', 'left_forearm', 'right_hand',
)  # fmt: skip
DANCE_FPS = 25.0
PHASES = ('rest', 'preparation', 'stroke', 'hold', 'retraction')
UCI_PHASES = {phase: phase for phase in PHASES} | {'preparação': 'preparation'}
BVH_KINDS = ('position', 'rotation')  # after the axis letter: Xposition, Zrotation, ...
C3D_UNITS = {'mm': 0.001, 'cm': 0.01, 'm': 1.0}
FORMATS = '.csv (IMU layout, or UCI gesture-phase *_raw.csv as motion capture), .bvh, .c3d, .npz (dance-melody)'


class RecordingNotFoundError(FileNotFoundError, ValueError):
    """The recording file does not exist (both a FileNotFoundError and a ValueError)."""


@dataclass(frozen=True)
class ImuRecording:
    """IMU samples; times in s from the first sample, strictly increasing."""

    times: np.ndarray  # (n,)
    linear_acceleration: np.ndarray  # (n, 3) m/s^2, specific force
    angular_velocity: np.ndarray | None  # (n, 3) rad/s
    orientation: np.ndarray | None  # (n, 4) x, y, z, w
    frame_id: str


@dataclass(frozen=True)
class MocapRecording:
    """Joint trajectories; times in s from the first frame, strictly increasing; positions in m."""

    times: np.ndarray  # (n,)
    joint_names: tuple[str, ...]
    positions: np.ndarray  # (n, joints, 3)
    orientations: np.ndarray | None  # (n, joints, 4) x, y, z, w in the world frame
    labels: tuple[str, ...] | None  # per-frame gesture phase
    frame_id: str
    gravity: tuple[float, float, float] = (0.0, -G, 0.0)  # in the mocap frame, m/s^2


def _existing(path: str | Path) -> Path:
    if not Path(path).is_file():
        raise RecordingNotFoundError(f'no such recording file: {path}')
    return Path(path)


def _bad(path: Path, line: int, message: str) -> ValueError:
    return ValueError(f'{path}:{line}: {message}')


def _check_increasing(times: np.ndarray, lines: np.ndarray, path: Path) -> None:
    """Raise naming the line of the first sample whose time is not after the previous one."""
    if (bad := np.flatnonzero(np.diff(times) <= 0)).size:
        i = bad[0] + 1
        raise _bad(path, lines[i], f'time {times[i]:.9g} is not after the previous {times[i - 1]:.9g}')


def _interp(new: np.ndarray, old: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Linear interpolation of the columns of `values` (len(old), k) at the times `new`."""
    return np.stack([np.interp(new, old, column) for column in values.T], axis=1)


def _read_csv(path: Path, required: list[str], optional: tuple[str, ...] = ()) -> tuple[dict, list[dict], np.ndarray]:
    """The columns `required` and those of `optional` that exist as floats by name, the rows, their lines."""
    with path.open(newline='', encoding='utf-8-sig') as file:
        reader = csv.DictReader(file, restval='')
        reader.fieldnames = [name.strip() for name in reader.fieldnames or []]
        numbered = [(reader.line_num, row) for row in reader]
    if not reader.fieldnames:
        raise ValueError(f'{path}: empty file; expected a header row with {", ".join(required)}')
    if missing := [name for name in required if name not in reader.fieldnames]:
        raise ValueError(f'{path}: missing columns {", ".join(missing)} (header: {", ".join(reader.fieldnames)})')
    if not numbered:
        raise ValueError(f'{path}: no rows after the header')
    names = required + [name for name in optional if name in reader.fieldnames]
    values = np.empty((len(numbered), len(names)))
    for i, (line, row) in enumerate(numbered):
        try:
            values[i] = [float(row[name]) for name in names]
        except ValueError:
            raise _bad(path, line, f'expected numbers in columns {", ".join(names)}') from None
    return dict(zip(names, values.T, strict=True)), [row for _, row in numbered], np.array([n for n, _ in numbered])


def read_imu_csv(path: str | Path) -> ImuRecording:
    """Read an IMU CSV in the layout of the module docstring; frame_id 'imu'."""
    path = _existing(path)
    columns, _, lines = _read_csv(path, ['time', 'ax', 'ay', 'az'], ('gx', 'gy', 'gz', 'qx', 'qy', 'qz', 'qw'))
    group = {}
    for names in (['ax', 'ay', 'az'], ['gx', 'gy', 'gz'], ['qx', 'qy', 'qz', 'qw']):
        if 0 < sum(name in columns for name in names) < len(names):
            raise ValueError(f'{path}: columns {", ".join(names)} must be given all together or not at all')
        group[names[0]] = np.column_stack([columns[name] for name in names]) if names[0] in columns else None
    times, quaternions = columns['time'], group['qx']
    _check_increasing(times, lines, path)
    if quaternions is not None:
        norms = np.linalg.norm(quaternions, axis=1, keepdims=True)
        if (zero := np.flatnonzero(norms == 0)).size:
            raise _bad(path, lines[zero[0]], 'quaternion qx, qy, qz, qw is zero')
        quaternions = quaternions / norms
    return ImuRecording(times - times[0], group['ax'], group['gx'], quaternions, 'imu')


def read_mocap(path: str | Path, scale: float | None = None) -> MocapRecording:
    """Read a BVH, C3D, UCI gesture-phase raw CSV or dance-melody skeletons.npz; `scale` (file unit in metres)
    overrides the format's default."""
    path = _existing(path)
    readers = {'.bvh': _read_bvh, '.c3d': _read_c3d, '.csv': _read_uci, '.npz': _read_dance}
    if path.suffix.lower() not in readers:
        raise ValueError(f'{path}: unknown recording format {path.suffix!r}; supported: {FORMATS}')
    return readers[path.suffix.lower()](path, scale)


def _read_uci(path: Path, scale: float | None) -> MocapRecording:
    names = [prefix + axis for prefix in UCI_JOINTS.values() for axis in 'xyz']
    columns, rows, lines = _read_csv(path, [*names, 'timestamp'])
    stamp = columns['timestamp'].astype(np.int64)
    minutes, seconds = stamp // 100_000 % 100, stamp // 1000 % 100
    if (bad := np.flatnonzero((minutes >= 60) | (seconds >= 60))).size:
        raise _bad(path, lines[bad[0]], f'timestamp {stamp[bad[0]]} is not a HMMSSmmm clock reading')
    times = stamp // 10_000_000 * 3600.0 + minutes * 60.0 + seconds + stamp % 1000 / 1000
    keep = np.flatnonzero(np.diff(stamp, prepend=-1) != 0)
    _check_increasing(stamp[keep], lines[keep], path)  # the clock's digit order is its time order
    labels = tuple(UCI_PHASES.get(rows[i]['phase'].strip().lower(), '') for i in keep) if 'phase' in rows[0] else None
    if labels and '' in labels:
        row = keep[labels.index('')]
        raise _bad(path, lines[row], f'unknown phase {rows[row]["phase"]!r}; expected one of {", ".join(PHASES)}')
    positions = np.stack([columns[name][keep] for name in names], axis=1).reshape(len(keep), -1, 3)
    positions *= 1.0 if scale is None else scale
    return MocapRecording(times[keep] - times[0], tuple(UCI_JOINTS), positions, None, labels, 'kinect', (0.0, G, 0.0))


def _read_dance(path: Path, scale: float | None) -> MocapRecording:
    try:
        with np.load(path) as archive:
            skeletons, center = archive['skeletons'], archive['center']
    except (OSError, KeyError, ValueError) as error:
        raise ValueError(f'{path}: not a dance-melody skeletons.npz (skeletons, center): {error}') from None
    shape_ok = skeletons.ndim == 3 and skeletons.shape[1:] == (len(DANCE_JOINTS), 3) and len(skeletons) >= 2
    if not shape_ok or center.shape != (len(skeletons), 3):
        raise ValueError(
            f'{path}: skeletons {skeletons.shape} and center {center.shape}; expected (n, 23, 3), (n, 3), n >= 2'
        )
    positions = (skeletons + center[:, None]).astype(np.float64) * (0.01 if scale is None else scale)
    times = np.arange(len(positions)) / DANCE_FPS
    return MocapRecording(times, DANCE_JOINTS, positions, None, None, 'dance_melody')


def _read_bvh(path: Path, scale: float | None) -> MocapRecording:
    lines = path.read_text(encoding='utf-8-sig').splitlines()
    tokens = [(number, word) for number, line in enumerate(lines, 1) for word in line.split()]
    joints: list[tuple[str, int, list[float], list[str]]] = []  # name, parent index, offset, channels
    at = 0

    def take(*expected: str) -> tuple[int, str]:
        """The next token, checked against each of `expected` in turn when given."""
        nonlocal at
        for word in expected or (None,):
            if at == len(tokens):
                raise _bad(path, len(lines), f'unexpected end of file; expected {word or "more"}')
            token, at = tokens[at], at + 1
            if word is not None and token[1] != word:
                raise _bad(path, token[0], f'expected {word!r}, got {token[1]!r}')
        return token

    def value(kind: type = float) -> float:
        number, word = take()
        try:
            return kind(word)
        except ValueError:
            raise _bad(path, number, f'expected a number, got {word!r}') from None

    def block(parent: int, end_site: bool) -> None:
        name = take('Site' if end_site else None)[1]
        take('{', 'OFFSET')
        offset = [value(), value(), value()]
        if end_site:
            take('}')
            return
        take('CHANNELS')
        channels = [take() for _ in range(value(int))]
        if bad := [(number, word) for number, word in channels if word[0] not in 'XYZ' or word[1:] not in BVH_KINDS]:
            raise _bad(path, bad[0][0], f'unknown channel {bad[0][1]!r}')
        joints.append((name, parent, offset, [word for _, word in channels]))
        index = len(joints) - 1
        while (token := take())[1] != '}':
            if token[1] not in ('JOINT', 'End'):
                raise _bad(path, token[0], f"expected JOINT, End Site or '}}', got {token[1]!r}")
            block(index, token[1] == 'End')

    take('HIERARCHY', 'ROOT')
    block(-1, False)
    take('MOTION', 'Frames:')
    frames = value(int)
    take('Frame', 'Time:')
    frame_time, first = value(), tokens[at - 1][0]  # frame rows follow the Frame Time line
    rows = [(number, line.split()) for number, line in enumerate(lines[first:], first + 1) if line.strip()]
    width = sum(len(channels) for *_, channels in joints)
    if frames < 1 or frame_time <= 0 or len(rows) != frames:
        raise _bad(path, first, f'Frames: {frames}, Frame Time: {frame_time:g}, but {len(rows)} frame rows follow')
    if bad := [number for number, words in rows if len(words) != width]:
        raise _bad(path, bad[0], f'expected {width} values, one per channel')
    try:
        motion = np.array([words for _, words in rows], dtype=float)
    except ValueError as error:
        raise ValueError(f'{path}: MOTION: {error}') from None
    positions = np.zeros((frames, len(joints), 3))
    rotations: list[Rotation] = []
    column = 0
    for joint, (_, parent, offset, channels) in enumerate(joints):
        values, column = motion[:, column : column + len(channels)], column + len(channels)
        moves, turns = ([k for k, channel in enumerate(channels) if channel.endswith(kind)] for kind in BVH_KINDS)
        translation = np.tile(offset, (frames, 1))
        translation[:, ['XYZ'.index(channels[k][0]) for k in moves]] += values[:, moves]
        order = ''.join(channels[k][0] for k in turns)
        local = Rotation.from_euler(order, values[:, turns], degrees=True) if turns else Rotation.identity(frames)
        if parent >= 0:
            translation = positions[:, parent] + rotations[parent].apply(translation)
            local = rotations[parent] * local
        positions[:, joint] = translation
        rotations.append(local)
    orientations = np.stack([rotation.as_quat() for rotation in rotations], axis=1)
    positions *= 0.01 if scale is None else scale
    names = tuple(name for name, *_ in joints)
    return MocapRecording(np.arange(frames) * frame_time, names, positions, orientations, None, 'mocap')


def _read_c3d(path: Path, scale: float | None) -> MocapRecording:
    try:
        import ezc3d  # optional: only C3D needs it
    except ImportError as error:
        raise ImportError(f'reading {path} needs ezc3d: pip install ezc3d==1.7.2') from error
    try:
        c3d = ezc3d.c3d(str(path))
    except (OSError, RuntimeError) as error:
        raise ValueError(f'{path}: not a readable C3D file: {error}') from error
    point = c3d['parameters']['POINT']
    if scale is None:
        units = ''.join(point.get('UNITS', {}).get('value', [])).strip().lower()
        if units not in C3D_UNITS:
            raise ValueError(f'{path}: POINT:UNITS is {units!r}, not one of {", ".join(C3D_UNITS)}; pass scale')
        scale = C3D_UNITS[units]
    positions = np.ascontiguousarray(c3d['data']['points'][:3].transpose(2, 1, 0)) * scale
    positions[np.isnan(positions).any(axis=2)] = np.nan
    labels = tuple(label.strip() for label in point['LABELS']['value'])
    rate = float(point['RATE']['value'][0])
    if len(labels) != positions.shape[1] or rate <= 0 or not len(positions):
        raise ValueError(f'{path}: {len(positions)} frames, {len(labels)} labels for {positions.shape[1]} points')
    return MocapRecording(np.arange(len(positions)) / rate, labels, positions, None, None, 'mocap', (0.0, 0.0, -G))


def select_joints(mocap: MocapRecording, names: Sequence[str]) -> MocapRecording:
    """The recording with only the joints `names`, in that order."""
    index = _joint_index(mocap, [names] if isinstance(names, str) else list(names))
    orientations = None if mocap.orientations is None else mocap.orientations[:, index]
    names = tuple(mocap.joint_names[i] for i in index)
    return replace(mocap, joint_names=names, positions=mocap.positions[:, index], orientations=orientations)


def _joint_index(mocap: MocapRecording, names: list[str]) -> list[int]:
    if unknown := [name for name in names if name not in mocap.joint_names]:
        raise ValueError(f'unknown joints {", ".join(unknown)}; available: {", ".join(mocap.joint_names)}')
    return [mocap.joint_names.index(name) for name in names]


def virtual_imu(
    mocap: MocapRecording, joint: str, gravity: tuple[float, float, float] | None = None, window: float = 0.3
) -> ImuRecording:
    """What an IMU fixed to `joint` would measure, at the mocap's frame times.

    The joint's positions are interpolated (linearly) onto a uniform grid at the median frame interval,
    differentiated twice with a Savitzky-Golay filter (quadratic, odd number of frames nearest to `window`
    seconds, at least 3) and sampled back at the frame times. The specific force is that acceleration minus
    `gravity` (the gravity vector in the mocap frame; default `mocap.gravity`), so a joint at rest reads
    |g| pointing up. Frames where the joint is missing (NaN) are NaN. Without orientations the axes are
    the mocap frame's; with them the IMU reads in the joint's frame and reports the joint's orientation
    and its body angular velocity (from consecutive orientations). frame_id is '<mocap frame_id>/<joint>'.
    """
    index = _joint_index(mocap, [joint])[0]
    times, position = mocap.times, mocap.positions[:, index]
    valid = np.isfinite(position).all(axis=1)
    step = float(np.median(np.diff(times))) if len(times) > 1 else np.inf
    frames = max(3, round(window / step) // 2 * 2 + 1)
    grid = np.linspace(0.0, times[-1], round(times[-1] / step) + 1)
    if valid.sum() < 2 or len(grid) < frames:
        raise ValueError(f'{joint!r}: {valid.sum()} valid of {len(times)} frames, too few for a {window} s window')
    uniform = _interp(grid, times[valid], position[valid])
    acceleration = savgol_filter(uniform, frames, 2, deriv=2, delta=grid[1] - grid[0], axis=0)
    force = _interp(times, grid, acceleration) - np.asarray(mocap.gravity if gravity is None else gravity)
    force[~valid] = np.nan
    frame_id = f'{mocap.frame_id}/{joint}'
    if mocap.orientations is None:
        return ImuRecording(times, force, None, None, frame_id)
    rotation = Rotation.from_quat(mocap.orientations[:, index])
    rates = (rotation[:-1].inv() * rotation[1:]).as_rotvec() / np.diff(times)[:, None]
    angular_velocity = _interp(times, (times[:-1] + times[1:]) / 2, rates)
    return ImuRecording(times, rotation.inv().apply(force), angular_velocity, rotation.as_quat(), frame_id)


def read_imu(path: str | Path, joint: str = 'right_wrist') -> ImuRecording:
    """An IMU CSV as it is; a motion capture file (BVH, C3D, UCI *_raw.csv) as the `virtual_imu` of `joint`."""
    if Path(path).suffix.lower() == '.csv' and not Path(path).name.lower().endswith('_raw.csv'):
        return read_imu_csv(path)
    return virtual_imu(read_mocap(path), joint)
