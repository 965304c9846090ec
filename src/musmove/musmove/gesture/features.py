"""Gesture-phase features: the movement of hands and wrists relative to the body, frame by frame.

The features of frame t use frames <= t only, at a fixed frame rate (`RATE`, the Kinect's 30 Hz).
Positions are taken relative to the spine and divided by the head-spine distance, so that they do
not depend on where the person stands, how tall they are or the sensor's units (nor identify them).
Per frame, in this order (`GROUPS` names the column ranges):

    position      (4 joints x 3) hands and wrists relative to the body
    velocity      (4 x 3) first difference of position x RATE [body lengths/s]; 0 at the first frame
    acceleration  (4 x 3) first difference of velocity x RATE [body lengths/s^2]; 0 at the first frame
    speed         (4) norm of each joint's velocity

`GestureFeatures` computes them one frame at a time (the `gesture_phase` node), `features` for a whole
recording (training); both give the same numbers.
"""

import numpy as np

RATE = 30.0  # [Hz] the models' frame rate
JOINTS = ('left_hand', 'right_hand', 'head', 'spine', 'left_wrist', 'right_wrist')
MOVING = ('left_hand', 'right_hand', 'left_wrist', 'right_wrist')
PHASES = ('rest', 'preparation', 'stroke', 'hold', 'retraction')  # GesturePhase's constants, in order
GROUPS = {'position': (0, 12), 'velocity': (12, 24), 'acceleration': (24, 36), 'speed': (36, 40)}
SIZE = 40
MIN_BODY = 1e-6  # head-spine distances below this are not a body: the frame's features are NaN

_MOVING = [JOINTS.index(name) for name in MOVING]
_HEAD, _SPINE = JOINTS.index('head'), JOINTS.index('spine')


def body_positions(positions: np.ndarray) -> np.ndarray:
    """(..., 6, 3) positions of `JOINTS` -> (..., 12): the moving joints relative to the spine, in body lengths."""
    spine = positions[..., _SPINE, :]
    length = np.linalg.norm(positions[..., _HEAD, :] - spine, axis=-1)[..., None, None]
    with np.errstate(invalid='ignore', divide='ignore'):
        relative = (positions[..., _MOVING, :] - spine[..., None, :]) / np.where(length > MIN_BODY, length, np.nan)
    return relative.reshape(*positions.shape[:-2], 12)


def features(positions: np.ndarray, rate: float = RATE) -> np.ndarray:
    """(frames, 6, 3) positions of `JOINTS` at `rate` -> (frames, `SIZE`) features (float32)."""
    position = body_positions(np.asarray(positions, dtype=np.float64))
    velocity = np.diff(position, axis=0, prepend=position[:1]) * rate
    acceleration = np.diff(velocity, axis=0, prepend=velocity[:1]) * rate
    speed = np.linalg.norm(velocity.reshape(-1, 4, 3), axis=-1)
    return np.concatenate([position, velocity, acceleration, speed], axis=1).astype(np.float32)


class GestureFeatures:
    """`features` one frame at a time; NaN positions (a stale stream) make NaN features and restart it."""

    def __init__(self, rate: float = RATE) -> None:
        self.rate = rate
        self.reset()

    def reset(self) -> None:
        self.position: np.ndarray | None = None
        self.velocity = np.zeros(12)

    def __call__(self, positions: np.ndarray) -> np.ndarray:
        """(6, 3) positions of `JOINTS` -> (`SIZE`,) features of this frame."""
        position = body_positions(np.asarray(positions, dtype=np.float64))
        if not np.isfinite(position).all():
            self.reset()
            return np.full(SIZE, np.nan, dtype=np.float32)
        velocity = np.zeros(12) if self.position is None else (position - self.position) * self.rate
        acceleration = (velocity - self.velocity) * self.rate if self.position is not None else np.zeros(12)
        self.position, self.velocity = position, velocity
        speed = np.linalg.norm(velocity.reshape(4, 3), axis=-1)
        return np.concatenate([position, velocity, acceleration, speed]).astype(np.float32)


def columns(groups: list[str] | tuple[str, ...]) -> np.ndarray:
    """Indices of the feature columns of `groups` (names of `GROUPS`), in `GROUPS` order."""
    unknown = sorted(set(groups) - set(GROUPS))
    if unknown:
        raise ValueError(f'unknown feature groups {unknown}; known: {list(GROUPS)}')
    return np.concatenate([np.arange(*GROUPS[name]) for name in GROUPS if name in groups])
