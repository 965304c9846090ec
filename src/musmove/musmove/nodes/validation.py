"""What the nodes check of every message they receive: one function per message type, shared by the nodes.

Each function turns a received message into the arrays a node works with, or raises `Rejected` with a
short `cause` (the key a node counts and rate-limits its warning by) and a message saying what was wrong.
A rejected message is dropped whole: nothing of it reaches a node's state.
"""

import numpy as np
from sensor_msgs.msg import JointState
from trajectory_msgs.msg import JointTrajectory

from musmove_msgs.msg import AudioFrame

NS = 10**9
AUDIO_RATES = (1_000, 384_000)  # plausible sample rates [Hz]; others are not audio


class Rejected(ValueError):
    """A received message that is dropped; `cause` names why, in a word or two."""

    def __init__(self, cause: str, message: str) -> None:
        super().__init__(message)
        self.cause = cause


def stamp_ns(header) -> int:
    """A header's stamp in nanoseconds."""
    return header.stamp.sec * NS + header.stamp.nanosec


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
    return samples.reshape(-1, channels).mean(axis=1)


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


def trajectory_positions(message: JointTrajectory, joints: tuple[str, ...]) -> np.ndarray:
    """The points' positions (points, joints) of `joints`, in that order."""
    if sorted(message.joint_names) != sorted(joints):
        raise Rejected('joints', f'trajectory for joints {list(message.joint_names)}, not {list(joints)}')
    order = [list(message.joint_names).index(name) for name in joints]
    rows = [list(point.positions) for point in message.points]
    if any(len(row) != len(order) for row in rows) or not np.isfinite(rows).all():
        raise Rejected('points', 'trajectory without finite positions for every joint')
    return np.array(rows, dtype=float).reshape(-1, len(order))[:, order]
