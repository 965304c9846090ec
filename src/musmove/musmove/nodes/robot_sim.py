"""robot_sim: a simulated position-controlled arm behind a JointTrajectoryController's topic.

Topics:
    trajectory_topic (trajectory_msgs/JointTrajectory): the commands. As in a ros2_control
        JointTrajectoryController, a trajectory replaces the previous one on arrival: the reference
        goes from where it is then, linearly (positions only), through the points, each due at the
        trajectory's start (header stamp; zero: its arrival) plus its `time_from_start`, and holds
        the last one. A point already due is jumped to.
    joint_states (sensor_msgs/JointState): the measured joints at `rate`, stamped with the
        simulation time, which follows the node clock.

The robot (`musmove.robot.sim`) is the Franka Panda in pybullet (DIRECT mode, under gravity) or a
kinematic model: a transport `delay`, then a first-order `lag` within the URDF's limits.
"""

import numpy as np
from rclpy.duration import Duration
from rclpy.time import Time
from sensor_msgs.msg import JointState
from trajectory_msgs.msg import JointTrajectory

from musmove.nodes import ConfigurationError, MusmoveNode, spin
from musmove.nodes.validation import Rejected, trajectory_positions
from musmove.robot.limits import JointLimits
from musmove.robot.moves import PANDA_HOME
from musmove.robot.sim import BulletRobot, KinematicRobot, panda_urdf

NS = 10**9
ROBOTS = ('panda', 'kinematic')


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
        rate = p('rate', 100.0, 'Simulation step and joint_states rate [Hz].')
        self.joints = p('joints', list(PANDA_HOME), 'Commanded joints, in the order of joint_states.')
        initial = p('initial', list(PANDA_HOME.values()), 'Joint positions at start [rad or m].')
        urdf = p('urdf', '', 'Robot model (URDF); empty: the Panda of pybullet_data.')
        delay = p('delay', 0.02, 'Transport delay of the commands [s].')
        lag = p('lag', 0.02, 'Time constant of the joints of the kinematic model [s].')
        topic = p('trajectory_topic', 'joint_trajectory_controller/joint_trajectory', 'JointTrajectory commands.')
        if kind not in ROBOTS:
            raise ConfigurationError(f'robot: {kind!r} is not one of {", ".join(ROBOTS)}')
        if len(initial) != len(self.joints) or not rate > 0 or delay < 0 or not lag > 0:
            raise ConfigurationError('one initial position per joint, a positive rate and lag, and delay >= 0')
        self.origin = self.get_clock().now().nanoseconds
        self.time = 0.0  # simulated up to here [s since origin]
        self.robot = self.make_robot(kind, urdf or str(panda_urdf()), np.array(initial, dtype=float), delay, lag)
        self.reference = Reference(np.array(initial, dtype=float))
        self.publisher = self.create_publisher(JointState, 'joint_states', 10)
        self.create_subscription(JointTrajectory, topic, self.on_trajectory, 10)
        self.create_timer(1.0 / rate, self.step)
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

    def seconds(self, nanoseconds: int) -> float:
        """Node-clock nanoseconds as seconds since the node started (the simulation time)."""
        return (nanoseconds - self.origin) / NS

    def on_trajectory(self, message: JointTrajectory) -> None:
        try:
            positions = trajectory_positions(message, tuple(self.joints))
        except Rejected as error:
            self.reject('trajectory', error)
            return
        now = self.get_clock().now().nanoseconds
        start = Time.from_msg(message.header.stamp).nanoseconds or now
        due = [self.seconds(start + Duration.from_msg(point.time_from_start).nanoseconds) for point in message.points]
        self.reference.replace(self.seconds(now), np.array(due), positions)

    def step(self) -> None:
        now = self.seconds(self.get_clock().now().nanoseconds)
        if now > self.time:
            self.robot.step(now - self.time)  # pybullet advances in whole physics steps: its time may lag
            self.time = now
        self.robot.command(self.reference.at(self.robot.time), self.robot.time)
        position, velocity = self.robot.state()
        message = JointState(name=self.joints, position=position.tolist(), velocity=velocity.tolist())
        message.header.stamp.sec, message.header.stamp.nanosec = divmod(self.origin + round(self.robot.time * NS), NS)
        self.publisher.publish(message)


def main(args: list[str] | None = None) -> int:
    return spin(RobotSimNode, args)
