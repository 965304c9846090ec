"""Simulated position-controlled robots: a fast kinematic model and a pybullet rigid-body model.

Both take position commands stamped with the time they were sent, advance by `step(dt)` and
report their measured joint `state()`. A command acts after a transport `delay`; the joints then
follow it with the lag of their actuators: a first-order lag in `KinematicRobot`, the PD position
motors of the physics engine, within the URDF's effort and velocity limits, in `BulletRobot`.
"""

import math
from collections import deque
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from musmove.robot.limits import JointLimits


class _DelayLine:
    """Commands stamped when sent, released `delay` seconds later (the newest due one holds)."""

    def __init__(self, position: np.ndarray, delay: float) -> None:
        self.delay, self.current = delay, position.copy()
        self.queue: deque[tuple[float, np.ndarray]] = deque()

    def push(self, positions: ArrayLike, t: float) -> None:
        self.queue.append((t, np.array(positions, dtype=np.float64)))

    def at(self, t: float) -> np.ndarray:
        """The command in force at time `t`."""
        while self.queue and self.queue[0][0] + self.delay <= t + 1e-12:
            self.current = self.queue.popleft()[1]
        return self.current


class KinematicRobot:
    """Joints that follow their command after a delay with a first-order lag, within the limits."""

    def __init__(
        self,
        limits: JointLimits,
        position: ArrayLike,
        delay: float = 0.02,
        lag: float = 0.02,
        timestep: float = 0.001,
        time: float = 0.0,
    ) -> None:
        """Start at rest at `position` at `time`; `delay` [s] transport delay, `lag` [s] time constant."""
        self.limits, self.lag, self.timestep = limits, lag, timestep
        self.position = np.array(position, dtype=np.float64)
        self.velocity = np.zeros_like(self.position)
        self.time = time
        self._commands = _DelayLine(self.position, delay)

    def command(self, positions: ArrayLike, t: float) -> None:
        """Send joint position targets at time `t`."""
        self._commands.push(positions, t)

    def step(self, dt: float) -> None:
        """Advance the simulation by `dt` seconds."""
        substeps = max(1, round(dt / self.timestep))
        h = dt / substeps
        decay = math.exp(-h / self.lag)
        top = self.limits.velocity * h
        for _ in range(substeps):
            reference = self._commands.at(self.time)  # held over the substep
            self.time += h
            move = np.clip((reference - self.position) * (1 - decay), -top, top)
            previous = self.position
            self.position = np.clip(self.position + move, self.limits.lower, self.limits.upper)
            self.velocity = (self.position - previous) / h

    def state(self) -> tuple[np.ndarray, np.ndarray]:
        """Measured joint (positions, velocities)."""
        return self.position.copy(), self.velocity.copy()


def panda_urdf() -> Path:
    """The Franka Panda model shipped in the pybullet_data package."""
    import pybullet_data

    return Path(pybullet_data.getDataPath(), 'franka_panda', 'panda.urdf')


class BulletRobot:
    """A URDF robot in pybullet (DIRECT mode), fixed base, position-controlled joints under gravity."""

    def __init__(
        self,
        joints: Sequence[str],
        position: ArrayLike,
        urdf: str | Path | None = None,
        timestep: float = 1 / 400,
        delay: float = 0.0,
        position_gain: float = 0.1,
        velocity_gain: float = 1.0,
        time: float = 0.0,
    ) -> None:
        """Load `urdf` (default: the Panda) and command `joints`, starting at rest at `position` at `time`.

        The motors are pybullet's position controllers with the URDF's effort limit as maximum
        force and its velocity limit as maximum velocity; `position_gain` and `velocity_gain` set
        their stiffness and damping, hence the lag: close to a first-order lag with time constant
        timestep / position_gain (25 ms by default). Other movable joints hold their zero position.
        """
        import pybullet

        self._bullet = pybullet
        self.client = pybullet.connect(pybullet.DIRECT)
        self.urdf = Path(urdf) if urdf is not None else panda_urdf()
        self.timestep, self.time = timestep, time
        pybullet.setGravity(0, 0, -9.81, physicsClientId=self.client)
        pybullet.setTimeStep(timestep, physicsClientId=self.client)
        self.body = pybullet.loadURDF(str(self.urdf), useFixedBase=True, physicsClientId=self.client)
        info = [pybullet.getJointInfo(self.body, j, physicsClientId=self.client) for j in range(self._count())]
        index = {i[1].decode(): i[0] for i in info}
        self.indices = [index[name] for name in joints]
        self.max_force = [info[j][10] for j in self.indices]
        self.max_velocity = [info[j][11] for j in self.indices]
        self.gains = (position_gain, velocity_gain)
        for j, q in zip(self.indices, np.asarray(position, dtype=np.float64), strict=True):
            pybullet.resetJointState(self.body, j, float(q), 0.0, physicsClientId=self.client)
        others = [i[0] for i in info if i[2] != pybullet.JOINT_FIXED and i[0] not in self.indices]
        for j in others:  # e.g. the gripper fingers
            pybullet.setJointMotorControl2(self.body, j, pybullet.POSITION_CONTROL, 0.0, physicsClientId=self.client)
        self._commands = _DelayLine(np.asarray(position, dtype=np.float64), delay)
        self._applied: np.ndarray | None = None
        self._debt = 0.0

    def _count(self) -> int:
        return self._bullet.getNumJoints(self.body, physicsClientId=self.client)

    def command(self, positions: ArrayLike, t: float) -> None:
        """Send joint position targets at time `t`."""
        self._commands.push(positions, t)

    def _apply(self, reference: np.ndarray) -> None:
        if self._applied is reference:
            return
        for j, q, force, speed in zip(self.indices, reference, self.max_force, self.max_velocity, strict=True):
            self._bullet.setJointMotorControl2(
                self.body,
                j,
                self._bullet.POSITION_CONTROL,
                targetPosition=float(q),
                force=force,
                maxVelocity=speed,
                positionGain=self.gains[0],
                velocityGain=self.gains[1],
                physicsClientId=self.client,
            )
        self._applied = reference

    def step(self, dt: float) -> None:
        """Advance by `dt` seconds, in whole physics steps (the remainder carries to the next call)."""
        self._debt += dt
        while self._debt >= self.timestep * (1 - 1e-9):
            self._debt -= self.timestep
            self._apply(self._commands.at(self.time))
            self._bullet.stepSimulation(physicsClientId=self.client)
            self.time += self.timestep

    def state(self) -> tuple[np.ndarray, np.ndarray]:
        """Measured joint (positions, velocities) at `time`."""
        states = self._bullet.getJointStates(self.body, self.indices, physicsClientId=self.client)
        return np.array([s[0] for s in states]), np.array([s[1] for s in states])

    def close(self) -> None:
        """Disconnect from the physics server."""
        if self._bullet.isConnected(self.client):
            self._bullet.disconnect(self.client)

    def __enter__(self) -> 'BulletRobot':
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
