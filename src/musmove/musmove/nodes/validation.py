"""What the nodes check of every message they receive: one function per message type, shared by the nodes.

Each function turns a received message into the arrays a node works with, or raises `Rejected` with a
short `cause` (the key a node counts and rate-limits its warning by) and a message saying what was wrong.
A rejected message is dropped whole: nothing of it reaches a node's state.
"""

import math

import numpy as np
from sensor_msgs.msg import JointState
from trajectory_msgs.msg import JointTrajectory

from musmove.robot.limits import JointLimits
from musmove_msgs.msg import AudioFrame, Beat, GesturePhase, SyncFrame

NS = 10**9
AUDIO_RATES = (1_000, 384_000)  # plausible sample rates [Hz]; others are not audio
AUDIO_MAX_CHANNELS = 64
AUDIO_MAX_FRAME = 1.0  # [s] longest audio frame taken
TEMPO_RANGE = (1.0, 1000.0)  # [BPM] a beat's tempo outside this is no tempo
LIMIT_TOLERANCE = 1e-6  # [rad, rad/s] rounding allowed on a limit
PREDICTION_HORIZON = 30.0  # [s] a predicted beat further ahead of its estimate than this is not a prediction
MAX_POSITION = 1e4  # [m, or the recording's unit] joints further out are not a person


class Rejected(ValueError):
    """A received message that is dropped; `cause` names why, in a word or two."""

    def __init__(self, cause: str, message: str) -> None:
        super().__init__(message)
        self.cause = cause


def stamp_ns(header) -> int:
    """A header's stamp in nanoseconds."""
    return header.stamp.sec * NS + header.stamp.nanosec


def time_ns(stamp) -> int:
    """A builtin_interfaces/Time in nanoseconds."""
    return stamp.sec * NS + stamp.nanosec


def not_ahead(topic: str, stamp: int, now: int, lead: float) -> int:
    """`stamp` [ns], if it is at most `lead` seconds ahead of the receiver's clock `now` [ns]."""
    if stamp - now > lead * NS:
        raise Rejected('future', f"{topic}: stamp {(stamp - now) / NS:.3f} s ahead of this node's clock")
    return stamp


def audio_samples(frame: AudioFrame) -> np.ndarray:
    """The frame's samples as mono float32 (non-finite samples kept: the caller decides)."""
    samples = np.asarray(frame.samples, dtype=np.float32)
    channels = max(frame.channels, 1)
    if samples.size == 0:
        raise Rejected('empty', f'audio: frame {frame.frame_index} has 0 samples')
    if samples.size % channels:
        raise Rejected(
            'channels', f'audio: frame {frame.frame_index} has {samples.size} samples for {channels} channels'
        )
    if not AUDIO_RATES[0] <= frame.sample_rate <= AUDIO_RATES[1]:
        raise Rejected('bad-rate', f'audio: frame {frame.frame_index} at {frame.sample_rate} Hz')
    if channels > AUDIO_MAX_CHANNELS or samples.size / channels > AUDIO_MAX_FRAME * frame.sample_rate:
        raise Rejected(
            'size', f'audio: frame {frame.frame_index} of {samples.size} samples x {channels} channels is too large'
        )
    return samples.reshape(-1, channels).mean(axis=1)


def beat(message: Beat) -> None:
    """Check every field of a beat: a known kind, finite values in their ranges, a prediction not too far ahead."""
    if message.kind not in (Beat.OBSERVED, Beat.PREDICTED):
        raise Rejected('kind', f'beats: unknown kind {message.kind}')
    numbers = {'tempo': message.tempo, 'phase': message.phase, 'time_std': message.time_std}
    numbers['confidence'] = message.confidence
    if bad := [name for name, value in numbers.items() if not math.isfinite(value)]:
        raise Rejected('non-finite', f'beats: non-finite {", ".join(bad)}')
    if not TEMPO_RANGE[0] <= message.tempo <= TEMPO_RANGE[1]:
        raise Rejected('tempo', f'beats: tempo {message.tempo} BPM is not in {TEMPO_RANGE}')
    if not (0 <= message.phase <= 1 and 0 <= message.confidence <= 1 and message.time_std >= 0):
        raise Rejected('range', 'beats: phase or confidence outside [0, 1], or a negative time_std')
    ahead = (stamp_ns(message.header) - time_ns(message.estimated_at)) / NS
    if message.kind == Beat.PREDICTED and not -PREDICTION_HORIZON <= ahead <= PREDICTION_HORIZON:
        raise Rejected('horizon', f'beats: a prediction {ahead:.1f} s from its estimate')


def gesture_phase(message: GesturePhase) -> np.ndarray:
    """The class probabilities of a gesture phase, checked: a known phase, finite values in [0, 1]."""
    probabilities = np.asarray(message.probabilities, dtype=float)
    if message.phase >= GesturePhase.NUM_PHASES:
        raise Rejected('phase', f'gesture_phase: unknown phase {message.phase}')
    if not np.isfinite(probabilities).all() or not ((probabilities >= 0) & (probabilities <= 1)).all():
        raise Rejected('probabilities', 'gesture_phase: probabilities not all in [0, 1]')
    if not math.isfinite(message.confidence):
        raise Rejected('non-finite', 'gesture_phase: non-finite confidence')
    return probabilities


def sync_joints(frame: SyncFrame, index: list[int], now: int, lead: float) -> tuple[int, np.ndarray | None]:
    """The frame's stamp [ns], at most `lead` s ahead of `now` [ns], and the positions (len(index), 3) of its joints
    `index`, None when its motion capture is absent or STALE."""
    stamp = not_ahead('sync_frame', stamp_ns(frame.header), now, lead)
    if not frame.joints:
        return stamp, None
    if len(frame.joints) <= max(index):
        raise Rejected('joints', f'sync_frame: {len(frame.joints)} joints, joint_names needs {max(index) + 1}')
    positions = np.array([[p.x, p.y, p.z] for p in (frame.joints[i].position for i in index)])
    if not np.isfinite(positions).all():  # STALE motion capture is NaN
        return stamp, None
    if np.abs(positions).max() > MAX_POSITION:
        raise Rejected('range', 'sync_frame: joint positions beyond 10 km')
    return stamp, positions


def joint_positions(message: JointState, joints: tuple[str, ...]) -> np.ndarray:
    """Positions of `joints`, in that order."""
    names = list(message.name)
    try:
        position = np.array([message.position[names.index(joint)] for joint in joints], dtype=float)
    except (ValueError, IndexError):
        raise Rejected('joints', f'joint_states without every joint of {joints}') from None
    if not np.isfinite(position).all():
        raise Rejected('nan', 'joint_states with non-finite positions')
    return position


def trajectory(message: JointTrajectory, limits: JointLimits) -> tuple[np.ndarray, np.ndarray]:
    """(time_from_start [s], positions (points, joints)) of a trajectory a JointTrajectoryController would take.

    Refused, as ros2_control refuses them: no points, times not increasing from >= 0, non-finite values,
    positions outside the limits, or a velocity between consecutive points above the velocity limits.
    """
    positions = trajectory_positions(message, limits.names)
    times = np.array([point.time_from_start.sec + point.time_from_start.nanosec / NS for point in message.points])
    if len(times) == 0:
        raise Rejected('empty', 'trajectory without points')
    if times[0] < 0 or (np.diff(times) <= 0).any():
        raise Rejected('times', 'trajectory whose time_from_start is negative or not increasing')
    outside = (positions < limits.lower - LIMIT_TOLERANCE) | (positions > limits.upper + LIMIT_TOLERANCE)
    if outside.any():
        joint = limits.names[int(np.flatnonzero(outside.any(axis=0))[0])]
        raise Rejected('position', f'trajectory beyond the position limits of {joint}')
    if len(times) > 1:
        speed = np.abs(np.diff(positions, axis=0)) / np.diff(times)[:, None]
        if (speed > limits.velocity * (1 + LIMIT_TOLERANCE) + LIMIT_TOLERANCE).any():
            joint = limits.names[int(np.flatnonzero((speed > limits.velocity).any(axis=0))[0])]
            raise Rejected('velocity', f'trajectory faster than the velocity limit of {joint}')
    return times, positions


def trajectory_positions(message: JointTrajectory, joints: tuple[str, ...]) -> np.ndarray:
    """The points' positions (points, joints) of `joints`, in that order."""
    if sorted(message.joint_names) != sorted(joints):
        raise Rejected('joints', f'trajectory for joints {list(message.joint_names)}, not {list(joints)}')
    order = [list(message.joint_names).index(name) for name in joints]
    rows = [list(point.positions) for point in message.points]
    if any(len(row) != len(order) for row in rows) or not np.isfinite(rows).all():
        raise Rejected('points', 'trajectory without finite positions for every joint')
    return np.array(rows, dtype=float).reshape(-1, len(order))[:, order]
