"""The robot controller's core, free of ROS: beats and partner in, safe joint commands out.

Each control period: the oscillator advances to now, the dancer poses the robot at the command
phase (the phase one actuation latency ahead), and the watchdog blends that pose with home and
passes it through the limiter. With a `LockGate` the predictions steer nothing until the beat is
locked: the robot stays home, then the newest prediction sets phase and tempo at once and the dance
fades in over the watchdog's ramp. Once dancing, a prediction whose tempo (folded by octaves) is off the
oscillator's by more than `tempo_tolerance` does not steer: the oscillator keeps its tempo through a fill
or a tracker's excursion to another level (folded, 3/2 or 4/3 of it), for at most `hold` seconds; a tempo that
stays off that long is a new tempo, taken at once. A smaller change (a tempo that steps by 10 %) steers at once.
Precise predictions (known music: the coming observed beats, time_std 0) set the command phase directly through a
`BeatSchedule`, landing on each beat; the oscillator is the fallback. With a `partner_weight` the partner's
movement beats are a second source, locked by a gate of their own and blended with the music's by confidence
(`musmove.robot.beat_sources`): the robot keeps time with its partner when the music is quiet or ambiguous. A ROS
node only has to call the `on_*` methods from its subscriptions and `step` from a timer at the control period.
"""

from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike

from musmove.robot.beat_sources import MUSIC, PARTNER, BeatSources, Prediction
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
        tempo_tolerance: float = 0.15,
        schedule: BeatSchedule | None = None,
        partner_weight: float | None = None,
    ) -> None:
        """Start at rest at the measured `position`; the dance begins with `start` once beats arrive.

        `schedule` (default: known beats, time_std 0, steer directly) lands the motion on precise predictions;
        `partner_weight` (None: no partner beats) weighs the partner's beats against the music's;
        `tempo_tolerance` (a fraction) is how far a prediction's tempo may be off the oscillator's and still steer."""
        self.dt = dt
        self.oscillator = oscillator or Oscillator()
        self.dancer = Dancer(limits, home, moves, move)
        sources = ('beats', 'joint_states', 'partner') if watch_partner else ('beats', 'joint_states')
        self.watchdog = Watchdog(Limiter(limits, dt, position), home, sources, timeout, ramp)
        self.energy = 1.0
        self.gate = gate
        gates = {MUSIC: gate}
        if partner_weight is not None:  # the partner's beats lock by the same rules, on their own
            gates[PARTNER] = None if gate is None else LockGate(gate.count, gate.spacing, gate.agreement, gate.horizon)
        spacing = gate.spacing if gate is not None else 0.08
        self.sources = BeatSources(gates, {PARTNER: partner_weight or 0.0}, timeout, spacing)
        self.leading: list[str] = []  # the sources in the newest steering prediction
        self.hold, self.tempo_tolerance = hold, tempo_tolerance
        self.off_tempo: float | None = None  # since when the predictions' tempo is off the oscillator's
        self.schedule = schedule or BeatSchedule()

    def on_beats(
        self,
        t: float,
        beats: ArrayLike,
        tempo: float | None,
        std: float,
        confidence: float,
        received: float | None = None,
        source: str = MUSIC,
    ) -> None:
        """A beat prediction of `source` made at `t` (see `Oscillator.update`), received at `received` (default `t`).

        The watchdog is fed with the time it was received, on the controller's own clock: what a
        message says about its own time can never keep the beats fresh.
        """
        received = t if received is None else received
        times = np.atleast_1d(np.asarray(beats, dtype=np.float64))
        self.sources.predict(source, Prediction(t, times, tempo, std, confidence, received))
        self._steer(received)

    def _steer(self, now: float) -> None:
        """Steer the oscillator by the sources that count at `now` (see `BeatSources.steering`)."""
        prediction, self.leading = self.sources.steering(now)
        if prediction is None:
            return
        osc, tempo = self.oscillator, prediction.tempo
        if self.gate is not None and osc.locked and tempo is not None and tempo > 0:
            if abs(osc.fold(tempo / 60)[0] / osc.frequency - 1) > self.tempo_tolerance:
                self.off_tempo = prediction.t if self.off_tempo is None else self.off_tempo
                if prediction.t - self.off_tempo < self.hold:
                    self.watchdog.feed('beats', now)  # the beats still come: dance on at the old tempo
                    return
                osc.locked = False  # a new tempo: phase and tempo at once
            self.off_tempo = None
        p = prediction
        if osc.update(p.t, p.beats, p.tempo, p.std, p.confidence):
            self.schedule.predict(p.t, p.beats, p.tempo, p.std)
            self.watchdog.feed('beats', now)

    def on_observed(self, beat: float, received: float, source: str = MUSIC) -> None:
        """An OBSERVED beat of `source` at time `beat`, received at `received`: it may open its gate (lock)."""
        first = not self.sources.counting(received)
        if self.sources.observe(source, beat, received):
            if first:
                self.oscillator.locked = False  # the newest prediction sets phase and tempo at once
            self._steer(received)

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
        stale = 'beats' in self.watchdog.stale(t)
        if self.sources.close_stale(t, every=stale) and not self.sources.counting(t):
            osc.locked, self.off_tempo, self.leading = False, None, []
        before, start = osc.command_phase, osc.time
        osc.advance(t)
        if start is not None and t > start and self.schedule.active(t, osc):
            phase = self.schedule.command_phase(before, start + osc.latency, t - start, osc)
            if phase is not None:
                osc.phase = phase - osc.frequency * osc.latency
        # The moves' levels are capped at the fastest the phase runs: while the oscillator catches up, at its
        # frequency plus the correction, or the limiter would clip the motion and hold it late.
        target = self.dancer.target(osc.command_phase, max(osc.frequency, osc.rate), self.energy, self.dt)
        return self.watchdog.step(target, t)
