"""The robot controller's core, free of ROS: beats and partner in, safe joint commands out.

Each control period: the oscillator advances to now, the dancer poses the robot at the command
phase (the phase one actuation latency ahead), and the watchdog blends that pose with home and
passes it through the limiter. With a `LockGate` the predictions steer nothing until the beat is
locked: the robot stays home, then the newest prediction sets phase and tempo at once and the dance
fades in over the watchdog's ramp. A ROS node only has to call the `on_*` methods from its
subscriptions and `step` from a timer at the control period.
"""

from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike

from musmove.robot.gate import LockGate
from musmove.robot.limits import JointLimits, Limiter
from musmove.robot.moves import Dancer, Move
from musmove.robot.oscillator import Oscillator
from musmove.robot.safety import Watchdog


class DanceController:
    """Oscillator, dancer and watchdog, stepped at a fixed control period `dt`."""

    def __init__(
        self,
        limits: JointLimits,
        home: ArrayLike,
        moves: Mapping[str, Move],
        move: str,
        dt: float,
        position: ArrayLike,
        oscillator: Oscillator | None = None,
        timeout: float = 0.5,
        ramp: float = 1.0,
        watch_partner: bool = False,
        gate: LockGate | None = None,
    ) -> None:
        """Start at rest at the measured `position`; the dance begins with `start` once beats arrive."""
        self.dt = dt
        self.oscillator = oscillator or Oscillator()
        self.dancer = Dancer(limits, home, moves, move)
        sources = ('beats', 'joint_states', 'partner') if watch_partner else ('beats', 'joint_states')
        self.watchdog = Watchdog(Limiter(limits, dt, position), home, sources, timeout, ramp)
        self.energy = 1.0
        self.gate = gate
        self.prediction: tuple | None = None  # the newest prediction's arguments, applied when the gate opens

    def on_beats(
        self,
        t: float,
        beats: ArrayLike,
        tempo: float | None,
        std: float,
        confidence: float,
        received: float | None = None,
    ) -> None:
        """A beat prediction made at `t` (see `Oscillator.update`), received at `received` (default `t`).

        The watchdog is fed with the time it was received, on the controller's own clock: what a
        message says about its own time can never keep the beats fresh.
        """
        if self.gate is not None:
            self.gate.predict(t, beats)
            self.prediction = (t, beats, tempo, std, confidence, received)
            if not self.gate.open:
                return
        self._steer(t, beats, tempo, std, confidence, received)

    def _steer(
        self, t: float, beats: ArrayLike, tempo: float | None, std: float, confidence: float, received: float | None
    ) -> None:
        if self.oscillator.update(t, beats, tempo, std, confidence):
            self.watchdog.feed('beats', t if received is None else received)

    def on_observed(self, beat: float, received: float) -> None:
        """An OBSERVED beat at time `beat`, received at `received`: it may open the gate (lock)."""
        if self.gate is not None and self.gate.observe(beat, received) and self.prediction is not None:
            self.oscillator.locked = False  # the newest prediction sets phase and tempo at once
            self._steer(*self.prediction)

    def on_partner(self, t: float, energy: float, holding: bool) -> None:
        """The partner's movement energy in [0, 1] and whether they hold (gesture phase HOLD)."""
        self.energy = energy
        self.dancer.hold(holding)
        if 'partner' in self.watchdog.fed:
            self.watchdog.feed('partner', t)

    def on_joint_state(self, t: float) -> None:
        """A measured joint state arrived at `t`."""
        self.watchdog.feed('joint_states', t)

    def step(self, t: float) -> np.ndarray:
        """The joint position command for time `t`."""
        osc = self.oscillator
        if self.gate is not None and self.gate.open and osc.stale(t):
            self.gate.close()
        osc.advance(t)
        target = self.dancer.target(osc.command_phase, osc.frequency, self.energy, self.dt)
        return self.watchdog.step(target, t)
