"""Movement features frame by frame and their offline twins: each joint's speed, acceleration and jerk, angles.

`Kinematics` gives the `Motion` of consecutive frames; `kinematics` the same for a whole recording at once.
"""

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike


class Motion(NamedTuple):
    """Speed, acceleration and jerk magnitude per joint [position unit/s, /s^2, /s^3]; angles at joints [rad]."""

    speed: np.ndarray
    acceleration: np.ndarray
    jerk: np.ndarray
    angles: np.ndarray


def joint_angles(positions: np.ndarray, triplets: ArrayLike) -> np.ndarray:
    """Angle [rad] at b between a and c for each triplet (a, b, c) of joint indices; positions (..., joints, 3)."""
    triplets = np.asarray(triplets, dtype=np.intp).reshape(-1, 3)
    middle = positions[..., triplets[:, 1], :]
    first, second = positions[..., triplets[:, 0], :] - middle, positions[..., triplets[:, 2], :] - middle
    return np.arctan2(np.linalg.norm(np.cross(first, second), axis=-1), np.sum(first * second, axis=-1))


class Kinematics:
    """`Motion` of consecutive frames of joint positions (joints, 3) sampled at `rate` [Hz].

    Backward differences: the derivative of order k (velocity, acceleration, jerk) is the change of order k - 1 since
    the previous frame times `rate`, so it describes the time k / 2 frames before the frame; it is 0 until k + 1
    frames have been seen. `triplets` (a, b, c) of joint indices give the angle at b between a and c.
    """

    def __init__(self, rate: float, triplets: ArrayLike = ()) -> None:
        self.rate, self.triplets = rate, np.asarray(triplets, dtype=np.intp).reshape(-1, 3)
        self.reset()

    def reset(self) -> None:
        """Forget the previous frames (after a gap)."""
        self.last: list[np.ndarray] = []  # the previous frame's position and the derivatives known then

    def __call__(self, positions: ArrayLike) -> Motion:
        """Motion at the next frame."""
        derivatives = [np.asarray(positions, dtype=np.float64)]
        for previous in self.last:
            derivatives.append((derivatives[-1] - previous) * self.rate)
        self.last = derivatives[:3]
        norms = [np.linalg.norm(derivative, axis=-1) for derivative in derivatives[1:]]
        norms += [np.zeros(len(derivatives[0]))] * (4 - len(derivatives))
        return Motion(*norms, joint_angles(derivatives[0], self.triplets))


def kinematics(positions: ArrayLike, rate: float, triplets: ArrayLike = ()) -> Motion:
    """`Kinematics`' output for every frame of `positions` (frames, joints, 3) at once, each field (frames, ...)."""
    positions = np.asarray(positions, dtype=np.float64)
    derivative, norms = positions, []
    for order in range(1, 4):
        derivative, previous = np.zeros_like(positions), derivative
        derivative[order:] = np.diff(previous[order - 1 :], axis=0) * rate
        norms.append(np.linalg.norm(derivative, axis=-1))
    return Motion(*norms, joint_angles(positions, triplets))
