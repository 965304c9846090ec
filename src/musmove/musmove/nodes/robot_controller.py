"""robot_controller: joint motion whose movement events land on the beats, always within the limits.

Topics:
    beats (musmove_msgs/Beat): PREDICTED beats steer the oscillator, one prediction per
        `estimated_at`, once the beat is locked (`gate_*`: evenly spaced OBSERVED beats that the
        predictions agreed with); OBSERVED beats open the gate and are the reference of the asynchrony.
        Predictions with time_std at most `direct_std` (known music: the coming observed beats, 0) steer
        the motion phase directly, onto each beat (`musmove.robot.schedule`); the oscillator is the fallback.
    joint_states (sensor_msgs/JointState, any reliability): the measured robot.
    gesture_phase (musmove_msgs/GesturePhase), with `follow_partner`: the partner's movement
        energy (1 - P(REST)) scales the dance, and a HOLD freezes it.
    partner_beats (musmove_msgs/Beat), with `follow_partner_beats`: the partner's movement beats
        (partner_beat), a second beat source with a lock gate of its own, blended with the music's by
        confidence times `partner_weight` (`musmove.robot.beat_sources`): the robot keeps time with its
        partner when the music is quiet or ambiguous. Their PREDICTED beats carry no spread: they steer
        with `partner_std`.
    trajectory_topic (trajectory_msgs/JointTrajectory): each control period, the new command as a
        point reached one period after the trajectory's stamp, the command's time plus `command_lead`
        (a controller held up for less than that still delivers in time): the streaming input of a
        ros2_control JointTrajectoryController.
    base_topic (geometry_msgs/Twist), if not empty: a mobile base's yaw rate, swaying with the beats.
    emergency_stop (std_msgs/Bool, transient local): true stops, false releases; the node
        publishes its own state there when a service changes it.
    emergency_stop/state (std_msgs/Bool, transient local): the stop the controller is in, published
        whenever it changes (by topic, service or the enable heartbeat): the confirmation to wait for.
    enable (std_msgs/Bool), with `enable_timeout` > 0: a heartbeat; the robot moves only while a true
        arrived in the last `enable_timeout` seconds, and otherwise brakes and holds, like a stop.
    coordination_metrics (musmove_msgs/CoordinationMetrics): asynchrony of the robot's movement
        events (velocity reversals of the move's first joint) to the OBSERVED beats since the lock (the
        tracker's estimate of the performed beat: its `calibration` moves them onto the drum notes);
        with `follow_partner_beats`, a second message (its `reference` says which) to the partner's.
    diagnostics (diagnostic_msgs/DiagnosticArray): state, stale inputs, tempo, command-to-motion latency.

Services (std_srvs/Trigger): emergency_stop (brake at full deceleration and hold), release.

The core is `musmove.robot.controller.DanceController`: an adaptive oscillator with feed-forward
of the command-to-motion latency, the movement vocabulary, and a watchdog that fades to home
when an input goes stale, through a limiter that keeps every command within the joint limits.
The latency is fixed or measured: the lag between commanded and measured joint motion, starting from
`latency_prior` or the value measured last time on this robot (`latency_state`: robot_latency.json in the
user's musmove cache, keyed by the resolved trajectory topic).
"""

import math

import numpy as np
from builtin_interfaces.msg import Duration, Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Twist, Vector3
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from musmove.nodes import ConfigurationError, MusmoveNode, spin, validation
from musmove.robot.asynchrony import Asynchrony
from musmove.robot.beat_sources import MUSIC, PARTNER
from musmove.robot.controller import DanceController
from musmove.robot.gate import LockGate
from musmove.robot.limits import JointLimits, Limiter
from musmove.robot.measurement import LatencyEstimator, MotionLog, live_asynchrony, save_latency, saved_latency
from musmove.robot.moves import PANDA_HOME, PANDA_MOVES, Move
from musmove.robot.oscillator import Oscillator
from musmove.robot.safety import Watchdog
from musmove.robot.schedule import BeatSchedule
from musmove.robot.sim import panda_urdf
from musmove_msgs.msg import Beat, CoordinationMetrics, GesturePhase

NS = 10**9
LATCHED = QoSProfile(depth=1, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)


def per_joint(name: str, values: list[float], count: int) -> np.ndarray:
    """One value per joint from a parameter holding one for all or one each."""
    if len(values) not in (1, count):
        raise ConfigurationError(f'{name}: one value, or one per joint ({count}), expected; got {values}')
    return np.broadcast_to(np.asarray(values, dtype=float), (count,))


class RobotControllerNode(MusmoveNode):
    """Dance to the predicted beats; publish joint trajectories, live asynchrony and diagnostics."""

    def __init__(self) -> None:
        super().__init__('robot_controller')
        self.declare()
        self.origin = self.get_clock().now().nanoseconds
        self.controller: DanceController | None = None  # made at the first joint state
        self.base: Watchdog | None = None
        self.estopped = False
        self.tick = 0  # index of the newest command on the control grid
        self.log = MotionLog(len(self.limits.names), max(self.metrics_window, self.latency_window))
        self.predicted = {MUSIC: (math.nan, []), PARTNER: (math.nan, [])}  # newest: estimated_at, [(beat, std)]
        self.prediction_arrived = -math.inf  # when the newest prediction arrived [s, node clock]
        self.latency_estimator = LatencyEstimator(self.latency_window, self.dt, self.oscillator.latency)
        self.saved = self.oscillator.latency  # the latency in the state file (or the prior)
        self.locked_at = math.inf  # when the beat last locked
        self.full_since = math.inf  # since when the dance is at its full level (the latency is measured from then)
        self.result = self.partner_result = Asynchrony(np.empty(0), 0)
        self.trajectory = self.create_publisher(JointTrajectory, self.trajectory_topic, 10)
        self.twist = self.create_publisher(Twist, self.base_topic, 10) if self.base_topic else None
        self.estop_publisher = self.create_publisher(Bool, 'emergency_stop', LATCHED)
        self.state_publisher = self.create_publisher(Bool, 'emergency_stop/state', LATCHED)
        self.enabled_at = -math.inf  # when the newest true arrived on `enable`
        self.state_published = False
        self.held = False  # the stop the watchdogs are in: an emergency stop, or a stale enable heartbeat
        self.metrics = self.create_publisher(CoordinationMetrics, 'coordination_metrics', 10)
        self.diagnostics = self.create_publisher(DiagnosticArray, 'diagnostics', 10)
        self.beats = self.create_subscription(Beat, 'beats', self.on_beat, 20)
        self.create_subscription(JointState, 'joint_states', self.on_joint_state, qos_profile_sensor_data)
        if self.follow_partner:
            self.create_subscription(GesturePhase, 'gesture_phase', self.on_gesture, 10)
        if self.follow_partner_beats:
            self.partner_beats = self.create_subscription(Beat, 'partner_beats', self.on_partner_beat, 50)
        self.create_subscription(Bool, 'emergency_stop', self.on_estop, LATCHED)
        if self.enable_timeout > 0:
            self.create_subscription(Bool, 'enable', self.on_enable, 10)
        self.create_service(Trigger, 'emergency_stop', self.on_estop_service)
        self.create_service(Trigger, 'release', self.on_release_service)
        self.create_timer(self.dt, self.control)
        self.create_timer(self.metrics_period, self.report)
        self.get_logger().info(f'{self.move} on {self.limits.names}, commands on {self.trajectory_topic}')

    # --- configuration --------------------------------------------------------------------
    def declare(self) -> None:
        """Declare every parameter (read-only, documented in config/coordination.yaml) and check them."""
        self.declare_robot()
        self.declare_outputs()
        self.declare_dance()

    def declare_robot(self) -> None:
        """The joints, their limits and home, and the control period."""
        p = self.parameter
        urdf = p('urdf', '', 'Robot model (URDF) with the joint limits; empty: the Panda of pybullet_data.')
        joints = p('joints', list(PANDA_HOME), 'Commanded joints, in command order.')
        home = p('home', list(PANDA_HOME.values()), 'Home pose, one position per joint [rad or m].')
        acceleration = p('acceleration_limits', [10.0], 'Acceleration limits [/s^2], one for all or per joint.')
        velocity = p('velocity_limits', [0.0], 'Velocity limits below the URDF ones [/s]; 0: the URDF limit.')
        rate = p('rate', 100.0, 'Control rate [Hz].')
        if len(home) != len(joints):
            raise ConfigurationError(f'home: one position per joint expected, got {home} for {joints}')
        if not rate > 0:
            raise ConfigurationError(f'rate: {rate} is not positive')
        self.dt, self.home = 1.0 / rate, np.array(home, dtype=float)
        self.limits = self.joint_limits(urdf or str(panda_urdf()), joints, acceleration, velocity)

    def declare_outputs(self) -> None:
        """Where commands and metrics go: arm, mobile base, coordination metrics."""
        p = self.parameter
        self.trajectory_topic = p(
            'trajectory_topic', 'joint_trajectory_controller/joint_trajectory', 'JointTrajectory command topic.'
        )
        self.lead = p('command_lead', 0.03, 'Commands are stamped this far ahead, for late deliveries [s].')
        self.base_topic = p('base_topic', '', 'geometry_msgs/Twist topic of a mobile base; empty: none.')
        self.base_amplitude = p('base_amplitude', 0.1, 'Yaw amplitude of the base sway [rad].')
        velocity = p('base_velocity', 1.0, 'Yaw rate limit of the base [rad/s].')
        acceleration = p('base_acceleration', 4.0, 'Yaw acceleration limit of the base [rad/s^2].')
        self.metrics_window = p('metrics_window', 8.0, 'Sliding window of the asynchrony [s].')
        self.metrics_period = p('metrics_period', 1.0, 'Period of the metrics and diagnostics [s].')
        if self.lead < 0 or min(self.metrics_window, self.metrics_period, velocity, acceleration) <= 0:
            raise ConfigurationError('command_lead must be >= 0, the base limits and the metrics times positive')
        self.base_limits = JointLimits(('base_yaw',), [-np.inf], [np.inf], [velocity], [acceleration])

    def declare_dance(self) -> None:
        """The move, the oscillator and its latency compensation, the watchdog."""
        p = self.parameter
        self.move = p('move', 'nod', 'Move of the vocabulary: nod, sway or wave.')
        self.energy = p('energy', 1.0, 'Dance level [0, 1] when not following a partner.')
        self.follow_partner = p('follow_partner', False, 'Follow the partner on gesture_phase (energy, holds).')
        self.follow_partner_beats = p(
            'follow_partner_beats', False, "Keep time with the partner's beats (partner_beats) too, by confidence."
        )
        self.partner_weight = p(
            'partner_weight', 1.0, "Weight of the partner's beats against the music's (each times its confidence).",
            low=0.0, high=10.0,
        )  # fmt: skip
        self.partner_std = p(
            'partner_std', 0.04, "Spread of the partner's PREDICTED beats, which carry none [s].", low=0.001, high=0.2
        )
        self.latency = p('latency', -1.0, 'Command-to-motion latency [s] to compensate; negative: measured.')
        self.latency_window = p('latency_window', 4.0, 'Span of motion the latency is measured over [s].')
        prior = p('latency_prior', 0.08, 'Measured latency to start from [s].', low=0.0, high=0.2)
        self.keep_latency = p('latency_state', True, 'Start from, and save, the last measured latency of this robot.')
        count = p('gate_beats', 4, 'OBSERVED beats that make a lock.', minimum=3)
        spacing = p('gate_spacing', 0.08, 'Largest deviation of a locked beat interval [fraction].', low=0.01, high=0.5)
        agreement = p('gate_agreement', 0.05, 'Largest locked beat - prediction [s].', low=0.005, high=0.2)
        self.hold = p('gate_hold', 2.0, 'Longest an off tempo is not followed [s].', low=0.0, high=10.0)
        self.tempo_tolerance = p(
            'tempo_tolerance', 0.15, "Largest prediction tempo off the oscillator's that steers [fraction].",
            low=0.01, high=0.5,
        )  # fmt: skip
        self.direct_std = p(
            'direct_std',
            0.0,
            'Predictions this precise steer the phase directly [s]; negative: never.',
            low=-1.0,
            high=0.1,
        )
        min_bpm = p('min_bpm', 50.0, 'Slowest beat rate of the oscillator [BPM]; tempi are folded by octaves.')
        max_bpm = p('max_bpm', 150.0, 'Fastest beat rate of the oscillator [BPM].')
        self.timeout = p('watchdog_timeout', 0.5, 'Beats or joint states older than this send the robot home [s].')
        self.max_lead = p('max_stamp_lead', 1.0, 'Messages stamped further ahead of this clock are dropped [s].')
        self.ramp = p('ramp', 1.0, 'Time to fade the dance in or out [s].')
        self.enable_timeout = p(
            'enable_timeout', 0.0, 'Move only while `enable` is true within this [s]; 0: no heartbeat.', low=0.0
        )
        if not 0 <= self.energy <= 1:
            raise ConfigurationError(f'energy: {self.energy} is not in [0, 1]')
        if min(self.timeout, self.ramp, self.latency_window, self.max_lead) <= 0:
            raise ConfigurationError('watchdog_timeout, ramp, latency_window and max_stamp_lead must be positive')
        self.moves = self.vocabulary(list(self.limits.names))
        self.gate = LockGate(count, spacing, agreement)
        self.robot_key = self.resolve_topic_name(self.trajectory_topic)
        if self.latency >= 0:
            latency = self.latency
        else:
            latency = (saved_latency(self.robot_key) if self.keep_latency else None) or prior
        try:
            self.oscillator = Oscillator(min_bpm=min_bpm, max_bpm=max_bpm, latency=latency, timeout=self.timeout)
        except ValueError as error:
            raise ConfigurationError(f'min_bpm, max_bpm: {error}') from error

    def joint_limits(self, urdf: str, joints: list[str], acceleration: list, velocity: list) -> JointLimits:
        """Limits of `joints` from the URDF, with configured accelerations and lower velocities."""
        accelerations = per_joint('acceleration_limits', acceleration, len(joints))
        velocities = per_joint('velocity_limits', velocity, len(joints))
        try:
            limits = JointLimits.from_urdf(urdf, dict(zip(joints, accelerations, strict=True)), joints)
            velocity = np.where(velocities > 0, np.minimum(velocities, limits.velocity), limits.velocity)
            limits = JointLimits(limits.names, limits.lower, limits.upper, velocity, limits.acceleration)
        except (OSError, KeyError, ValueError) as error:
            raise ConfigurationError(f'urdf: no limits for {joints} in {urdf}: {error}') from error
        if not np.all((limits.lower <= self.home) & (self.home <= limits.upper)):
            raise ConfigurationError(f'home: {self.home.tolist()} is outside the joint limits')
        return limits

    def vocabulary(self, joints: list[str]) -> dict[str, Move]:
        """The moves of the vocabulary that `joints` can dance; `move` must be one of them."""
        moves = {name: move for name, move in PANDA_MOVES.items() if set(move.joints) <= set(joints)}
        if self.move not in moves:
            raise ConfigurationError(f'move: {self.move!r} is not one of {", ".join(moves) or "none"} for {joints}')
        return moves

    # --- time ----------------------------------------------------------------------------
    def seconds(self, stamp: Time) -> float:
        """A stamp as seconds since the node started (the controller's time)."""
        return (stamp.sec * NS + stamp.nanosec - self.origin) / NS

    def stamp(self, t: float) -> Time:
        sec, nanosec = divmod(self.origin + round(t * NS), NS)
        return Time(sec=sec, nanosec=nanosec)

    def now(self) -> float:
        return (self.get_clock().now().nanoseconds - self.origin) / NS

    # --- inputs --------------------------------------------------------------------------
    def on_beat(self, beat: Beat) -> None:
        self.take_beat(beat, MUSIC)

    def on_partner_beat(self, beat: Beat) -> None:
        self.take_beat(beat, PARTNER)

    def take_beat(self, beat: Beat, source: str) -> None:
        """A beat of the music (beats) or of the partner (partner_beats), checked, to the controller."""
        topic = 'beats' if source == MUSIC else 'partner_beats'
        now = self.get_clock().now().nanoseconds
        try:
            validation.beat(beat)
            validation.not_ahead(topic, validation.time_ns(beat.estimated_at), now, self.max_lead)
            if beat.kind == Beat.OBSERVED:
                validation.not_ahead(topic, validation.stamp_ns(beat.header), now, self.max_lead)
        except validation.Rejected as error:
            self.reject(topic, error)
            return
        t, received = self.seconds(beat.header.stamp), (now - self.origin) / NS
        if beat.kind == Beat.OBSERVED:
            (self.log.beats if source == MUSIC else self.log.partner_beats).append(t)
            if self.controller is not None:
                self.controller.on_observed(t, received, source)
            return
        estimated_at = self.seconds(beat.estimated_at)
        made, beats = self.predicted[source]
        if estimated_at != made:  # a new prediction: the beats of one share their estimated_at
            beats = []
            self.predicted[source] = (estimated_at, beats)
        beats.append((t, beat.time_std if source == MUSIC else self.partner_std))
        if source == MUSIC:
            self.prediction_arrived = received
        if self.controller is not None:
            times, stds = zip(*beats, strict=True)
            self.controller.on_beats(estimated_at, times, beat.tempo, min(stds), beat.confidence, received, source)

    def on_joint_state(self, message: JointState) -> None:
        try:
            position = validation.joint_positions(message, self.limits.names)
            now_ns = self.get_clock().now().nanoseconds
            validation.not_ahead('joint_states', validation.stamp_ns(message.header), now_ns, self.max_lead)
        except validation.Rejected as error:
            self.reject('joint_states', error)
            return
        stamp = self.seconds(message.header.stamp)
        if self.log.states and stamp <= self.log.states[-1][0]:  # a repeated or older state: no new measurement
            self.warn_limited('joint_states:stamp', 'joint_states not newer than the last one ignored')
            return
        now = self.now()
        if self.controller is None:
            self.start(position, now)
        self.controller.on_joint_state(now)
        self.log.states.append((stamp, position))

    def start(self, position: np.ndarray, t: float) -> None:
        """Take control from the measured `position`: home slowly, then dance once beats arrive."""
        self.controller = DanceController(
            self.limits,
            self.home,
            self.moves,
            self.move,
            self.dt,
            position,
            self.oscillator,
            timeout=self.timeout,
            ramp=self.ramp,
            watch_partner=self.follow_partner,
            gate=self.gate,
            hold=self.hold,
            tempo_tolerance=self.tempo_tolerance,
            schedule=BeatSchedule(max_std=self.direct_std),
            partner_weight=self.partner_weight if self.follow_partner_beats else None,
        )
        self.controller.energy = self.energy
        self.controller.watchdog.start()
        self.base = Watchdog(Limiter(self.base_limits, self.dt, [0.0]), [0.0], (), self.timeout, self.ramp)
        self.base.fed = self.controller.watchdog.fed  # the base watches the arm's inputs
        self.base.start()
        self.tick = round(t / self.dt)
        self.sync_estop()
        self.get_logger().info('joint states received: taking control')

    def on_gesture(self, message: GesturePhase) -> None:
        try:
            energy = 1.0 - float(validation.gesture_phase(message)[GesturePhase.REST])
        except validation.Rejected as error:
            self.reject('gesture_phase', error)
            return
        if self.controller is not None:
            self.controller.on_partner(self.now(), energy, message.phase == GesturePhase.HOLD)

    # --- emergency stop ------------------------------------------------------------------
    def on_estop(self, message: Bool) -> None:
        if message.data == self.estopped:
            return
        self.estopped = message.data
        self.sync_estop()
        if self.estopped:
            self.get_logger().error('EMERGENCY STOP: braking, then holding still until release')
        else:
            self.get_logger().info('emergency stop released: returning home, then dancing again')

    def on_enable(self, message: Bool) -> None:
        self.enabled_at = self.now() if message.data else -math.inf
        self.sync_estop()

    def sync_estop(self) -> None:
        """Brake and hold (stopped, or the heartbeat stale), or return home and dance: the arm and the base alike."""
        stale = self.enable_timeout > 0 and self.now() - self.enabled_at > self.enable_timeout
        held = self.estopped or stale
        watchdogs = [self.base] + ([self.controller.watchdog] if self.controller else [])
        for watchdog in (w for w in watchdogs if w is not None and w.estopped != held):
            if held:
                watchdog.estop()
            else:
                watchdog.release()
        if held != self.held or not self.state_published:
            self.held, self.state_published = held, True
            self.state_publisher.publish(Bool(data=held))
            if stale and not self.estopped:
                self.warn_limited('enable', 'enable heartbeat stale: braking, then holding still', period=2.0)

    def on_estop_service(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        self.publish_estop(True)
        response.success, response.message = True, 'stopped: holding still until release'
        return response

    def on_release_service(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        response.success = self.estopped
        response.message = 'released: returning home' if self.estopped else 'not stopped'
        self.publish_estop(False)
        return response

    def publish_estop(self, stopped: bool) -> None:
        """Apply the emergency stop state and latch it on the topic for every controller."""
        self.on_estop(Bool(data=stopped))
        self.estop_publisher.publish(Bool(data=stopped))

    # --- control -------------------------------------------------------------------------
    def control(self) -> None:
        """Step the controller for every control period since the last (normally one) and send the commands."""
        if self.enable_timeout > 0:
            self.sync_estop()  # the heartbeat may have gone stale
        if self.controller is None:
            self.warn_limited('waiting', 'waiting for joint_states before commanding the robot')
            return
        due = math.floor(self.now() / self.dt + 0.5) - self.tick
        if due > round(1.0 / self.dt):  # stalled for over a second: resume from now
            self.tick, due = self.tick + due - 1, 1
        times = [(self.tick + k) * self.dt for k in range(1, due + 1)]
        if not times:
            return
        self.tick += due
        self.take_latency(due * self.dt)
        commands = []
        for t in times:
            commands.append(self.controller.step(t))
            if self.twist is not None:
                self.sway_base(t)
        self.log.commands.extend(zip(times, commands, strict=True))
        self.send(times[0], commands)

    def on_finish(self) -> float:
        """Brake every joint to a standstill within the limits: the robot's last trajectory ends at rest.

        The node stays until the robot should have stopped (the trajectory's end and the measured latency),
        so that a launch that stops the controller first sees the robot at rest before it stops the rest.
        """
        if self.controller is None:
            return 0.0
        limiter = self.controller.watchdog.limiter
        commands = []
        while limiter.velocity.any() and len(commands) < round(10.0 / self.dt):
            commands.append(limiter.step(None))
        if not commands:
            return 0.0
        start = (self.tick + 1) * self.dt
        self.send(start, commands)
        self.tick += len(commands)
        self.get_logger().info(f'stopping: braked to a standstill in {len(commands) * self.dt:.2f} s')
        return start + self.lead + len(commands) * self.dt - self.now() + max(self.oscillator.latency, 0.0)

    def send(self, start: float, commands: list[np.ndarray]) -> None:
        """Commands one period apart from time `start`, each to be reached one period and the lead after its time."""
        message = JointTrajectory(joint_names=list(self.limits.names))
        message.header.stamp = self.stamp(start + self.lead)
        for k, command in enumerate(commands, start=1):
            sec, nanosec = divmod(round(k * self.dt * NS), NS)
            point = JointTrajectoryPoint(positions=command.tolist())
            point.time_from_start = Duration(sec=sec, nanosec=nanosec)
            message.points.append(point)
        self.trajectory.publish(message)

    def sway_base(self, t: float) -> None:
        """Yaw the base half a cycle per beat with the dance (its phase, holds included), within the base's limits."""
        omega = math.pi * self.oscillator.frequency
        amplitude = min(self.base_amplitude, 0.8 * self.base_limits.velocity[0] / omega)
        amplitude = min(amplitude, 0.8 * self.base_limits.acceleration[0] / omega**2) * self.controller.energy
        self.base.step([amplitude * math.cos(math.pi * self.controller.dancer.phase)], t)
        self.twist.publish(Twist(angular=Vector3(z=float(self.base.limiter.velocity[0]))))

    def take_latency(self, elapsed: float) -> None:
        """Move the compensated latency towards the measured one, gradually."""
        self.oscillator.latency = self.latency_estimator.slew(self.oscillator.latency, elapsed)

    # --- reports -------------------------------------------------------------------------
    def report(self) -> None:
        t = self.now()
        self.log.trim(t)
        full = self.controller is not None and self.controller.watchdog.gain >= 1.0
        self.full_since = (self.full_since if self.full_since < math.inf else t) if full else math.inf
        if self.latency < 0:
            self.latency_estimator.measure(self.log, t, self.full_since)
            self.keep(self.latency_estimator.target)
        move = self.moves[self.move]
        joint = self.limits.names.index(move.joints[0])
        self.locked_at = self.locked_at if self.gate.opened is None else self.gate.opened  # the newest lock
        self.result, newest = live_asynchrony(self.log, t, self.metrics_window, joint, move, self.locked_at)
        self.publish_metrics(self.result, newest, f'{self.beats.topic_name} OBSERVED since the lock')
        if self.follow_partner_beats:
            beats = self.log.partner_beats
            self.partner_result, newest = live_asynchrony(self.log, t, self.metrics_window, joint, move, beats=beats)
            self.publish_metrics(self.partner_result, newest, f'{self.partner_beats.topic_name} OBSERVED')
        self.publish_diagnostics(t)
        if self.result.matched:
            latency = self.oscillator.latency * 1e3
            self.get_logger().info(f'asynchrony {self.result}; latency {latency:.1f} ms', throttle_duration_sec=5.0)

    def keep(self, latency: float) -> None:
        """Save a newly measured latency (1 ms or more from the saved one) as this robot's next prior."""
        if self.keep_latency and self.latency_estimator.estimates and abs(latency - self.saved) >= 1e-3:
            try:
                save_latency(self.robot_key, latency)
                self.saved = latency
            except OSError as error:
                self.warn_limited('latency_state', f'latency_state: cannot save the latency: {error}', period=60.0)

    def publish_metrics(self, result: Asynchrony, newest: float, reference: str) -> None:
        message = CoordinationMetrics(source='robot', reference=reference)
        message.header.stamp = self.stamp(newest)
        sec, nanosec = divmod(round(self.metrics_window * NS), NS)
        message.window = Duration(sec=sec, nanosec=nanosec)
        message.matched, message.missed = result.matched, result.missed
        message.mean_asynchrony, message.sd_asynchrony = result.mean, result.sd
        message.mean_absolute_asynchrony = result.mean_absolute
        self.metrics.publish(message)

    def state(self, t: float) -> tuple[int, str, list[str]]:
        """(diagnostic level, what the controller does, stale inputs) at time `t`."""
        if self.controller is None:
            return DiagnosticStatus.WARN, 'waiting for joint_states', []
        watchdog = self.controller.watchdog
        stale = watchdog.stale(t)
        if watchdog.estopped:
            return DiagnosticStatus.ERROR, 'emergency stop' if self.estopped else 'enable heartbeat stale', stale
        locked = self.gate.open or self.controller.leading  # the music's beat, or the partner's, steers
        if not locked and t - self.prediction_arrived <= self.timeout:  # predictions come, not yet locked
            return DiagnosticStatus.OK, 'waiting for the beat to lock', [s for s in stale if s != 'beats']
        if stale:
            return DiagnosticStatus.WARN, f'stale {", ".join(stale)}: going home', stale
        return DiagnosticStatus.OK, 'homing' if watchdog.homing else 'dancing', stale

    def scheduled(self, t: float) -> bool:
        """Whether precise (known) beats steer the motion phase directly at time `t`."""
        return self.controller is not None and self.controller.schedule.active(t, self.oscillator)

    def publish_diagnostics(self, t: float) -> None:
        level, message, stale = self.state(t)
        estimator = self.latency_estimator
        values = {
            'latency_ms': f'{self.oscillator.latency * 1e3:.1f}',
            'latency_source': 'fixed' if self.latency >= 0 else f'measured ({len(estimator.estimates)} estimates)',
            'lock_s': f'{self.gate.opened:.2f}' if self.gate.opened is not None else 'not locked',
            'latency_measured_ms': f'{estimator.target * 1e3:.1f}',
            'bpm': f'{self.oscillator.bpm:.1f}',
            'phase_source': 'known beats' if self.scheduled(t) else 'oscillator',
            'dance_gain': f'{self.controller.watchdog.gain:.2f}' if self.controller else '0.00',
            'stale_inputs': ' '.join(stale),
            'asynchrony': str(self.result),
        }
        if self.follow_partner_beats and self.controller is not None:
            values['beat_sources'] = ' '.join(self.controller.leading) or 'none'
            values['partner_asynchrony'] = str(self.partner_result)
        status = DiagnosticStatus(level=level, name=f'{self.get_name()}: dance', message=message)
        status.hardware_id = self.get_name()
        status.values = [KeyValue(key=key, value=value) for key, value in values.items()]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self.diagnostics.publish(array)


def main(args: list[str] | None = None) -> int:
    return spin(RobotControllerNode, args)
