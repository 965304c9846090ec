"""The robot controller's core, free of ROS: beats and partner in, safe joint commands out.

Each control period: the oscillator advances to now, the dancer poses the robot at the command
phase (the phase one actuation latency ahead), and the watchdog blends that pose with home and
passes it through the limiter. With a `LockGate` the predictions steer nothing until the beat is
locked: the robot stays home, then the newest prediction sets phase and tempo at once and the dance
fades in over the watchdog's ramp. Once dancing, a prediction whose tempo (folded by octaves) is off the
oscillator's by more than the gate's `spacing` does not steer: the oscillator keeps its tempo through a fill
or a tracker's excursion to another level, for at most `hold` seconds; a tempo that stays off that long is
a new tempo, taken at once. Precise predictions (known music: the coming observed beats, time_std 0) set the
command phase directly through a `BeatSchedule`, landing on each beat; the oscillator is the fallback. A ROS node
only has to call the `on_*` methods from its subscriptions and `step` from a timer at the control period.
"""

from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike

from musmove.robot.gate import LockGate
from musmove.robot.limits import JointLimits, Limiter
from musmove.robot.moves import Dancer, Move
from musmove.robot.oscillator import Oscillator
from musmove.robot.safety import Watchdog
from musmove.robot.schedule import BeatSchedule


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
        hold: float = 2.0,
        schedule: BeatSchedule | None = None,
    ) -> None:
        """Start at rest at the measured `position`; the dance begins with `start` once beats arrive.

        `schedule` (default: known beats, time_std 0, steer directly) lands the motion on precise predictions."""
        self.dt = dt
        self.oscillator = oscillator or Oscillator()
        self.dancer = Dancer(limits, home, moves, move)
        sources = ('beats', 'joint_states', 'partner') if watch_partner else ('beats', 'joint_states')
        self.watchdog = Watchdog(Limiter(limits, dt, position), home, sources, timeout, ramp)
        self.energy = 1.0
        self.gate = gate
        self.prediction: tuple | None = None  # the newest prediction's arguments, applied when the gate opens
        self.hold, self.off_tempo = hold, None  # since when the predictions' tempo is off the oscillator's
        self.schedule = schedule or BeatSchedule()

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
        osc, received = self.oscillator, t if received is None else received
        if self.gate is not None and osc.locked and tempo is not None and tempo > 0:
            if abs(osc.fold(tempo / 60)[0] / osc.frequency - 1) > self.gate.spacing:
                self.off_tempo = t if self.off_tempo is None else self.off_tempo
                if t - self.off_tempo < self.hold:
                    self.watchdog.feed('beats', received)  # the beats still come: dance on at the old tempo
                    return
                osc.locked = False  # a new tempo: phase and tempo at once
            self.off_tempo = None
        if osc.update(t, beats, tempo, std, confidence):
            self.schedule.predict(t, beats, tempo, std)
            self.watchdog.feed('beats', received)

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
        if self.gate is not None and self.gate.open and 'beats' in self.watchdog.stale(t):
            self.gate.close()
            osc.locked, self.off_tempo = False, None
        before, start = osc.command_phase, osc.time
        osc.advance(t)
        if start is not None and t > start and self.schedule.active(t, osc):
            phase = self.schedule.command_phase(before, start + osc.latency, t - start, osc)
            if phase is not None:
                osc.phase = phase - osc.frequency * osc.latency
        target = self.dancer.target(osc.command_phase, osc.frequency, self.energy, self.dt)
        return self.watchdog.step(target, t)
