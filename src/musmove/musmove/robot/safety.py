"""The last stage before the robot: a watchdog on the inputs, smooth start and stop, an emergency stop.

Every command passes through a `Limiter`, so none exceeds a joint limit or jumps. The dance is
blended with the home pose by a gain that rises over `ramp` seconds while every watched input is
fresh and the dance is started, and falls back to home when one goes stale (no message for
`timeout` seconds) or the dance is stopped. An emergency stop latches: every joint brakes at its
full acceleration limit and holds still until `release`; the robot then returns home slowly and
the dance fades in again.
"""

from collections.abc import Iterable

import numpy as np
from numpy.typing import ArrayLike

from musmove.robot.limits import Limiter
from musmove.robot.moves import smoothstep


class Watchdog:
    """Guards the command stream of a `Limiter` (stepped once per control period)."""

    def __init__(
        self,
        limiter: Limiter,
        home: ArrayLike,
        sources: Iterable[str] = ('beats', 'joint_states'),
        timeout: float = 0.5,
        ramp: float = 1.0,
        homing_speed: float = 0.3,
    ) -> None:
        """Watch `sources` (fed by name); start at rest, at the limiter's position, dance stopped.

        Args:
            timeout: age [s] at which an input is stale.
            ramp: time [s] to fade the dance in or out.
            homing_speed: fraction of the velocity and acceleration limits used to return home
                from wherever the robot is (at start and after an emergency stop).
        """
        self.limiter, self.home = limiter, np.asarray(home, dtype=np.float64)
        self.timeout, self.ramp, self.homing_speed = timeout, ramp, homing_speed
        self.fed = dict.fromkeys(sources, -np.inf)
        self.running = self.estopped = False
        self.level = 0.0  # dance gain before smoothing, in [0, 1]
        self.homing = True

    def feed(self, source: str, t: float) -> None:
        """Record that `source` delivered a message at time `t`."""
        if source not in self.fed:
            raise KeyError(f'unwatched source {source!r}; watched: {sorted(self.fed)}')
        self.fed[source] = max(self.fed[source], t)

    def stale(self, t: float) -> list[str]:
        """The watched inputs with no message in the last `timeout` seconds at time `t`."""
        return [source for source, last in self.fed.items() if t - last > self.timeout]

    def start(self) -> None:
        """Fade the dance in (once the inputs are fresh)."""
        self.running = True

    def stop(self) -> None:
        """Fade the dance out, back to home."""
        self.running = False

    def estop(self) -> None:
        """Emergency stop: brake at full deceleration and hold until `release`."""
        self.estopped = True

    def release(self) -> None:
        """Clear an emergency stop: return home slowly, then fade the dance in if running."""
        self.estopped, self.level, self.homing = False, 0.0, True

    @property
    def gain(self) -> float:
        """The weight of the dance in the command, 0 (home) to 1."""
        return smoothstep(self.level)

    def step(self, target: ArrayLike, t: float) -> np.ndarray:
        """The command at time `t` for a dance `target`."""
        if self.estopped:
            return self.limiter.step(None)
        dt = self.limiter.dt
        up = self.running and not self.homing and not self.stale(t)
        self.level = min(self.level + dt / self.ramp, 1.0) if up else max(self.level - dt / self.ramp, 0.0)
        wanted = self.home + self.gain * (np.asarray(target, dtype=np.float64) - self.home)
        command = self.limiter.step(wanted, self.homing_speed if self.homing else 1.0)
        if self.homing and np.allclose(command, self.home, atol=1e-6) and not self.limiter.velocity.any():
            self.homing = False  # home and at rest: the dance may fade in
        return command
