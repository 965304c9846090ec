"""robot_sim: a simulated position-controlled arm behind a JointTrajectoryController's topic.

Topics:
    trajectory_topic (trajectory_msgs/JointTrajectory): the commands. As in a ros2_control
        JointTrajectoryController, a trajectory replaces the previous one on arrival: the reference
        goes from where it is then, linearly (positions only), through the points, each due at the
        trajectory's start (header stamp; zero: its arrival) plus its `time_from_start`, and holds
        the last one. A trajectory a JointTrajectoryController would refuse is dropped with a warning
        and counted (`musmove.nodes.validation.trajectory`: no points, times not increasing from >= 0,
        non-finite values, positions beyond the URDF limits, segments faster than its velocity limits).
        The reference then passes through a `Limiter` (URDF positions and velocities, the configured
        accelerations) at `rate`: a point already due, or any jump, is approached within the limits.
    joint_states (sensor_msgs/JointState): the measured joints at `rate`, stamped with the
        simulation time, which follows the node clock.
    diagnostics (diagnostic_msgs/DiagnosticArray): trajectories taken, rejected by cause, limited steps (the
        limiter moved the reference by more than 1 mrad: a late, jumping or infeasible command).

The robot (`musmove.robot.sim`) is the Franka Panda in pybullet (DIRECT mode, under gravity) or a
kinematic model: a transport `delay`, then a first-order `lag` within the URDF's limits.

When the node is stopped (SIGINT or SIGTERM) it brakes every joint to a standstill within the limits, as a
real arm's driver does, and publishes the braking before it exits: a launcher that stops every process at
once (`ros2 launch`) still leaves the robot at rest, and the recorder (which lingers) sees it.
"""

import time

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from sensor_msgs.msg import JointState
from trajectory_msgs.msg import JointTrajectory

from musmove.nodes import ConfigurationError, MusmoveNode, spin, validation
from musmove.robot.limits import JointLimits, Limiter
from musmove.robot.moves import PANDA_HOME
from musmove.robot.sim import BulletRobot, KinematicRobot, panda_urdf

NS = 10**9
ROBOTS = ('panda', 'kinematic')
LIMITED = 1e-3  # [rad or m] a step the limiter moved the reference further than this is counted as limited
AT_REST = 1e-3  # [rad/s or m/s] the measured joints are at rest below this speed
BRAKE_TIMEOUT = 3.0  # [s] the longest a stopped node keeps simulating while the robot brakes


class Reference:
    """The reference of a trajectory controller: piecewise linear through knots, held after the last."""

    def __init__(self, position: np.ndarray) -> None:
        self.times, self.positions = np.zeros(1), position[None].copy()

    def at(self, t: float) -> np.ndarray:
        """The reference at time `t`."""
        return np.array([np.interp(t, self.times, column) for column in self.positions.T])

    def replace(self, now: float, times: np.ndarray, positions: np.ndarray) -> None:
        """From the reference `now`, go through `positions` due at `times` (those past: at once)."""
        self.positions = np.vstack([self.at(now), positions])
        self.times = np.concatenate([[now], np.maximum.accumulate(np.maximum(times, now))])


class RobotSimNode(MusmoveNode):
    """Step a simulated robot at `rate`, command it from trajectories, publish its joint states."""

    def __init__(self) -> None:
        super().__init__('robot_sim')
        p = self.parameter
        kind = p('robot', 'panda', 'Simulator: panda (pybullet) or kinematic.')
        rate = p('rate', 100.0, 'Simulation step and joint_states rate [Hz].', above=0.0, high=10_000.0)
        self.joints = p('joints', list(PANDA_HOME), 'Commanded joints, in the order of joint_states.')
        initial = p('initial', list(PANDA_HOME.values()), 'Joint positions at start [rad or m].')
        urdf = p('urdf', '', 'Robot model (URDF); empty: the Panda of pybullet_data.')
        delay = p('delay', 0.02, 'Transport delay of the commands [s].', low=0.0, high=1.0)
        lag = p('lag', 0.02, 'Time constant of the joints of the kinematic model [s].', above=0.0, high=1.0)
        topic = p('trajectory_topic', 'joint_trajectory_controller/joint_trajectory', 'JointTrajectory commands.')
        acceleration = p('acceleration_limits', [10.0], 'Acceleration limits [/s^2], one for all or per joint.')
        if kind not in ROBOTS:
            raise ConfigurationError(f'robot: {kind!r} is not one of {", ".join(ROBOTS)}')
        if len(initial) != len(self.joints) or not rate > 0 or delay < 0 or not lag > 0:
            raise ConfigurationError('one initial position per joint, a positive rate and lag, and delay >= 0')
        self.origin = self.get_clock().now().nanoseconds
        self.time = 0.0  # simulated up to here [s since origin]
        self.limits = self.joint_limits(urdf or str(panda_urdf()), acceleration)  # checks the URDF first
        self.robot = self.make_robot(kind, urdf or str(panda_urdf()), np.array(initial, dtype=float), delay, lag)
        self.reference = Reference(np.array(initial, dtype=float))
        self.moving = False  # the measured joints moved at the last step
        self.dt, self.limited_until, self.braking = 1.0 / rate, 0.0, False
        self.limiter = Limiter(self.limits, self.dt, np.array(initial, dtype=float))
        self.counts = {'trajectories': 0, 'limited_steps': 0}
        self.publisher = self.create_publisher(JointState, 'joint_states', 10)
        self.diagnostics = self.create_publisher(DiagnosticArray, 'diagnostics', 10)
        self.create_subscription(JointTrajectory, topic, self.on_trajectory, 10)
        self.create_timer(self.dt, self.step)
        self.create_timer(1.0, self.publish_diagnostics)
        self.get_logger().info(f'{kind} robot at {rate:g} Hz, commands on {topic}')

    def make_robot(
        self, kind: str, urdf: str, initial: np.ndarray, delay: float, lag: float
    ) -> BulletRobot | KinematicRobot:
        """The simulator, starting at rest at `initial` at time 0 (the node's start)."""
        try:
            if kind == 'panda':
                return BulletRobot(self.joints, initial, urdf, delay=delay)
            # The kinematic model keeps to position and velocity limits; the acceleration (1.0) is unused.
            limits = JointLimits.from_urdf(urdf, 1.0, self.joints)
            return KinematicRobot(limits, initial, delay=delay, lag=lag)
        except (OSError, KeyError, ValueError) as error:
            raise ConfigurationError(f'urdf: cannot simulate {self.joints} with {urdf}: {error}') from error

    def joint_limits(self, urdf: str, acceleration: list[float]) -> JointLimits:
        """The URDF's position and velocity limits of the joints, with the configured accelerations."""
        if len(acceleration) not in (1, len(self.joints)) or min(acceleration) <= 0:
            raise ConfigurationError(f'acceleration_limits: one positive value, or one per joint; got {acceleration}')
        per_joint = acceleration[0] if len(acceleration) == 1 else dict(zip(self.joints, acceleration, strict=True))
        try:
            return JointLimits.from_urdf(urdf, per_joint, self.joints)
        except (OSError, KeyError, ValueError) as error:
            raise ConfigurationError(f'urdf: no limits for {self.joints} in {urdf}: {error}') from error

    def seconds(self, nanoseconds: int) -> float:
        """Node-clock nanoseconds as seconds since the node started (the simulation time)."""
        return (nanoseconds - self.origin) / NS

    def on_trajectory(self, message: JointTrajectory) -> None:
        try:
            offsets, positions = validation.trajectory(message, self.limits)
        except validation.Rejected as error:
            key = f'rejected_{error.cause}'
            self.counts[key] = self.counts.get(key, 0) + 1
            self.reject('trajectory', error)
            return
        self.counts['trajectories'] += 1
        now = self.get_clock().now().nanoseconds
        start = self.seconds(validation.stamp_ns(message.header) or now)
        self.reference.replace(self.seconds(now), start + offsets, positions)

    def step(self) -> None:
        now = self.seconds(self.get_clock().now().nanoseconds)
        if now > self.time:
            self.robot.step(now - self.time)  # pybullet advances in whole physics steps: its time may lag
            self.time = now
        while self.limited_until + self.dt <= self.robot.time + 1e-9:  # the limiter's fixed steps up to now
            self.limited_until += self.dt
            if self.braking:
                self.limiter.step(None)
                continue
            target = np.clip(self.reference.at(self.limited_until), self.limits.lower, self.limits.upper)
            if np.abs(self.limiter.step(target) - target).max() > LIMITED:
                self.counts['limited_steps'] += 1
        self.robot.command(self.limiter.position, self.robot.time)
        position, velocity = self.robot.state()
        message = JointState(name=self.joints, position=position.tolist(), velocity=velocity.tolist())
        message.header.stamp.sec, message.header.stamp.nanosec = divmod(self.origin + round(self.robot.time * NS), NS)
        self.publisher.publish(message)
        self.moving = bool(np.abs(velocity).max() >= AT_REST)

    def on_finish(self) -> float:
        """Brake to a standstill within the limits, simulating and publishing in real time (at most BRAKE_TIMEOUT)."""
        self.braking = True
        deadline = time.monotonic() + BRAKE_TIMEOUT
        while (self.limiter.velocity.any() or self.moving) and time.monotonic() < deadline:
            time.sleep(self.dt)
            self.step()
        self.get_logger().info('stopped: the robot is at rest' if not self.moving else 'stopped while still moving')
        return self.dt

    def publish_diagnostics(self) -> None:
        level = DiagnosticStatus.WARN if len(self.counts) > 2 or self.counts['limited_steps'] else DiagnosticStatus.OK
        status = DiagnosticStatus(level=level, name=f'{self.get_name()}: trajectories', hardware_id=self.get_name())
        status.message = 'commands rejected or limited' if level else 'commands within the limits'
        status.values = [KeyValue(key=key, value=str(value)) for key, value in self.counts.items()]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self.diagnostics.publish(array)


def main(args: list[str] | None = None) -> int:
    return spin(RobotSimNode, args)
