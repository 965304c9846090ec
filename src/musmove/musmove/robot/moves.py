"""The movement vocabulary: periodic joint offsets about a home pose, as functions of the beat phase.

Every move marks each beat (beat phase 0 mod 1) with a velocity reversal of its first joint, the
marking joint:

- nod: one cycle per beat, offset A (1 - cos 2 pi phase) / 2. On the beat the joint is back at
  home and turns (a minimum of the offset for A > 0), like a head that drops onto the beat.
- sway: half a cycle per beat, offset A cos(pi phase): one side on even beats, the other on odd.
- wave: a sway that travels along the joints, each one `lag` of a cycle behind the previous.

A `Dancer` mixes the moves: each has a level that follows the partner's energy (the selected
move) or fades out (the others). Levels change only between beats, weighted by sin^2(pi phase),
so a changing amplitude never moves the turning point off the beat. Levels are capped so the
motion stays within the joint limits at the current tempo. To mirror a partner's hold, `hold`
slows the dance's own phase and levels to a stop: the robot freezes smoothly along its path.
Released, the phase speeds up again and catches up with the beat.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from musmove.robot.limits import JointLimits


@dataclass(frozen=True)
class Move:
    """A periodic movement of `joints`, `amplitude` [rad] at full energy; the first joint marks the beats."""

    name: str
    joints: tuple[str, ...]
    amplitude: tuple[float, ...]
    cycles_per_beat: float = 1.0  # 1: a cycle per beat; 0.5: one side per beat
    lag: tuple[float, ...] = ()  # per joint, in cycles of the move (default 0)
    centred: bool = True  # offsets in [-A, A]; False: in [0, A], at 0 on the beat

    def __post_init__(self) -> None:
        if len(self.amplitude) != len(self.joints) or (self.lag and len(self.lag) != len(self.joints)):
            raise ValueError(f'{self.name}: one amplitude (and lag) per joint expected')
        if 2 * self.cycles_per_beat not in (1, 2) or (self.lag and self.lag[0] != 0):
            raise ValueError(f'{self.name}: 0.5 or 1 cycles per beat, and no lag of the marking joint')

    def offsets(self, phase: float | np.ndarray) -> np.ndarray:
        """(..., joints) offsets at the beat phase(s), at full amplitude."""
        lag = np.asarray(self.lag or np.zeros(len(self.joints)))
        wave = np.cos(2 * np.pi * (self.cycles_per_beat * np.asarray(phase, dtype=np.float64)[..., None] - lag))
        return np.asarray(self.amplitude) * (wave if self.centred else (1 - wave) / 2)

    def peak_rates(self, frequency: float) -> tuple[np.ndarray, np.ndarray]:
        """Largest |velocity| and |acceleration| per joint at full amplitude and `frequency` beats/s."""
        omega = 2 * np.pi * self.cycles_per_beat * frequency
        size = np.abs(np.asarray(self.amplitude)) * (1.0 if self.centred else 0.5)
        return size * omega, size * omega**2


def nod(joints: Sequence[str], amplitude: Sequence[float]) -> Move:
    """A nod of `joints` (e.g. wrist and elbow pitch), at home on every beat."""
    return Move('nod', tuple(joints), tuple(amplitude), 1.0, centred=False)


def sway(joints: Sequence[str], amplitude: Sequence[float]) -> Move:
    """A side-to-side sway, at one extreme on every beat."""
    return Move('sway', tuple(joints), tuple(amplitude), 0.5)


def wave(joints: Sequence[str], amplitude: Sequence[float], lag: float = 0.1) -> Move:
    """A wave travelling from the first joint to the last, `lag` of a cycle per joint."""
    return Move('wave', tuple(joints), tuple(amplitude), 0.5, tuple(lag * np.arange(len(joints))))


PANDA_MOVES = {
    'nod': nod(['panda_joint6', 'panda_joint4'], [0.3, -0.15]),
    'sway': sway(['panda_joint1', 'panda_joint7'], [0.35, -0.3]),
    'wave': wave(['panda_joint5', 'panda_joint6', 'panda_joint7'], [0.5, 0.35, 0.5]),
}
"""Moves for the Franka Panda (pybullet_data's franka_panda/panda.urdf) about `PANDA_HOME`."""

PANDA_HOME = {
    'panda_joint1': 0.0,
    'panda_joint2': -0.3,
    'panda_joint3': 0.0,
    'panda_joint4': -2.2,
    'panda_joint5': 0.0,
    'panda_joint6': 2.0,
    'panda_joint7': 0.8,
}


OVER_CAP_TIME = 0.05  # [s] a level over the cap falls to it with this time constant (between the beats)
RESYNC_GAIN = 2.0  # [1/s] after a hold, the dance's phase approaches the beat phase at this rate
RESYNC_RATE = 0.5  # [beats/s] but no faster than this


def smoothstep(x: float) -> float:
    """3x^2 - 2x^3 on [0, 1]: from 0 to 1 with zero slope at both ends."""
    x = min(max(x, 0.0), 1.0)
    return x * x * (3 - 2 * x)


class Dancer:
    """Joint targets for the whole robot from the beat phase, the partner's energy and holds."""

    def __init__(
        self,
        limits: JointLimits,
        home: ArrayLike,
        moves: Mapping[str, Move],
        move: str,
        energy_time: float = 0.5,
        hold_time: float = 0.5,
        margin: float = 0.8,
    ) -> None:
        """Dance `move` about `home` (one position per joint of `limits`).

        Args:
            energy_time: time constant [s] with which a move's level follows the energy.
            hold_time: time [s] to ease into and out of a hold.
            margin: fraction of the velocity, acceleration and position room a move may use.
        """
        self.limits, self.home = limits, np.asarray(home, dtype=np.float64)
        self.moves = dict(moves)
        self.index = {name: [limits.names.index(joint) for joint in m.joints] for name, m in self.moves.items()}
        self.energy_time, self.hold_time, self.margin = energy_time, hold_time, margin
        self.levels = dict.fromkeys(self.moves, 0.0)
        self.move = ''
        self.select(move)
        self.holding, self.speed = False, 1.0
        self.phase: float | None = None  # the dance's own phase: the beat phase, unless held
        self._input = 0.0  # the previous beat phase given

    def select(self, move: str) -> None:
        """Switch to another move: the current one fades out while the new one fades in."""
        if move not in self.moves:
            raise KeyError(f'unknown move {move!r}; known: {sorted(self.moves)}')
        self.move = move

    def hold(self, holding: bool) -> None:
        """Ease to a standstill where the dance is (True), or back into time with the beats (False)."""
        self.holding = holding

    def cap(self, move: Move, frequency: float) -> float:
        """The largest level of `move` within the margin of the limits at `frequency` beats/s."""
        index, lim, amplitude = self.index[move.name], self.limits, np.asarray(move.amplitude)
        velocity, acceleration = move.peak_rates(frequency)
        extent = np.abs(amplitude) * move.centred  # how far the offsets reach on the other side
        high = np.where(amplitude > 0, np.abs(amplitude), extent)
        low = np.where(amplitude < 0, np.abs(amplitude), extent)
        room = np.concatenate([lim.velocity[index], lim.acceleration[index], lim.upper[index] - self.home[index]])
        room = np.concatenate([room, self.home[index] - lim.lower[index]])
        need = np.concatenate([velocity, acceleration, high, low])
        ratios = np.divide(room, need, out=np.full_like(room, np.inf), where=need > 0)
        return float(np.clip(self.margin * ratios.min(), 0.0, 1.0))

    def target(self, phase: float, frequency: float, energy: float, dt: float) -> np.ndarray:
        """Joint targets at beat `phase` (the oscillator's command phase) after `dt` seconds."""
        self._advance(phase, dt)
        energy = float(np.clip(energy, 0.0, 1.0)) if math.isfinite(energy) else 0.0
        rate = smoothstep(self.speed) * (1 - math.exp(-dt / self.energy_time))  # a hold freezes levels too
        between = 2 * math.sin(math.pi * self.phase) ** 2  # 0 on the beat, 2 halfway
        pose = self.home.copy()
        for name, move in self.moves.items():
            cap = self.cap(move, frequency)
            goal = min(energy, cap) if name == self.move else 0.0
            # Over the cap (the tempo rose), the level falls within the beat: the limiter would hold the motion late.
            fall = rate if self.levels[name] <= cap else smoothstep(self.speed) * (1 - math.exp(-dt / OVER_CAP_TIME))
            level = self.levels[name] = self.levels[name] + min(between * fall, 1.0) * (goal - self.levels[name])
            if level > 0:
                pose[self.index[name]] += level * move.offsets(self.phase)
        return pose

    def _advance(self, phase: float, dt: float) -> None:
        """Move the dance's phase with the beat phase, slowed to a stop by a hold and resynchronised after."""
        if self.phase is None:
            self.phase = self._input = phase
        self.speed = min(max(self.speed + (-dt if self.holding else dt) / self.hold_time, 0.0), 1.0)
        lag = self._input - self.phase  # how far the dance is behind the beat phase
        lag -= 2 * round(lag / 2)  # every move repeats after two beats
        catch_up = 0.0 if self.holding else float(np.clip(RESYNC_GAIN * lag, -RESYNC_RATE, RESYNC_RATE))
        self.phase += smoothstep(self.speed) * (phase - self._input + catch_up * dt)
        self._input = phase
