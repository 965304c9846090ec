"""robot_controller and robot_sim over DDS, each its own process, with a scripted 120 BPM beat stream.

One performance (about 25 s) is recorded from the test process: the robot dances, is stopped by
the emergency-stop service and released, and goes home when the beats stop. The tests check it:
motion events land on the beats, every command keeps to the limits, silence and the emergency
stop bring the robot to rest, and the controller reports asynchrony and latency.
"""

import math
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import rclpy
import yaml
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSDurabilityPolicy, QoSProfile
from ros_helpers import NodeProcess, stop_all, wait
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from musmove.robot.asynchrony import Asynchrony, asynchrony, detect_events, estimate_latency
from musmove.robot.limits import JointLimits
from musmove.robot.moves import PANDA_HOME
from musmove.robot.sim import panda_urdf
from musmove_msgs.msg import Beat, CoordinationMetrics

CONFIG = str(Path(__file__).resolve().parent.parent / 'config' / 'coordination.yaml')
TOPIC = 'joint_trajectory_controller/joint_trajectory'
NAMES = list(PANDA_HOME)
HOME = np.array(list(PANDA_HOME.values()))
LIMITS = JointLimits.from_urdf(panda_urdf(), 10.0, NAMES)  # the config's acceleration_limits
NOD_JOINT = NAMES.index('panda_joint6')  # the nod's marking joint: at a minimum on every beat
DT = 0.01  # control period
LEAD = yaml.safe_load(Path(CONFIG).read_text())['/**/robot_controller']['ros__parameters']['command_lead']
BEAT = 0.5  # 120 BPM
LOOKAHEAD = 0.093  # a beat is reported OBSERVED this long after it, as beat_tracker does
LATCHED = QoSProfile(depth=1, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)


def seconds(stamp: Time) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def stamp(t: float) -> Time:
    sec, nanosec = divmod(round(t * 1e9), 10**9)
    return Time(sec=sec, nanosec=nanosec)


class Probe:
    """The test's side of the graph: a scripted beat source and recorders, spun in a thread of its own."""

    def __init__(self) -> None:
        self.node = rclpy.create_node('robot_probe')
        self.first_beat = self.silence = math.inf  # [s] the beats play from first_beat until silence
        self.observed = 0
        self.commands: list[tuple[float, list[float], float]] = []  # (command time, positions, arrival)
        self.states: list[tuple[float, list[float]]] = []
        self.twists: list[tuple[float, float]] = []  # (arrival, yaw rate)
        self.metrics: list[tuple[float, CoordinationMetrics]] = []
        self.diagnostics: list[tuple[float, dict[str, str]]] = []
        self.latched: list[bool] = []
        self.beats = self.node.create_publisher(Beat, 'beats', 20)
        node = self.node
        node.create_subscription(JointTrajectory, TOPIC, self.on_trajectory, 1000)
        node.create_subscription(JointState, 'joint_states', self.on_state, 1000)
        node.create_subscription(Twist, 'cmd_vel', lambda m: self.twists.append((self.now(), m.angular.z)), 1000)
        node.create_subscription(CoordinationMetrics, 'coordination_metrics', self.on_metrics, 100)
        node.create_subscription(DiagnosticArray, 'diagnostics', self.on_diagnostics, 100)
        node.create_timer(0.1, self.play)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def now(self) -> float:
        return self.node.get_clock().now().nanoseconds * 1e-9

    def on_trajectory(self, message: JointTrajectory) -> None:
        start = seconds(message.header.stamp) - LEAD - DT  # a point is reached a period and the lead after its time
        arrival = self.now()
        for point in message.points:
            self.commands.append((start + seconds(point.time_from_start), list(point.positions), arrival))

    def on_state(self, message: JointState) -> None:
        self.states.append((seconds(message.header.stamp), list(message.position)))

    def on_metrics(self, message: CoordinationMetrics) -> None:
        self.metrics.append((self.now(), message))

    def on_diagnostics(self, message: DiagnosticArray) -> None:
        for status in message.status:
            if status.name == 'robot_controller: dance':
                self.diagnostics.append((self.now(), {v.key: v.value for v in status.values}))

    def silence_in_commands(self, begin: float, end: float, longest: float = 0.5) -> str | None:
        """Why the controller's commands did not arrive throughout `begin`..`end` (probe clock), or None if they did."""
        arrivals = np.array(sorted(a for _, _, a in self.commands if begin <= a <= end + longest))
        edges = np.concatenate(([begin], arrivals, [end]))
        gap = int(np.diff(edges).argmax())
        if edges[gap + 1] - edges[gap] <= longest:
            return None
        heard = [
            f'{name} last at {max(times, default=math.nan) - begin:.2f} s'
            for name, times in (
                ('joint_states', [s for s, _ in self.states]),
                ('diagnostics', [t for t, _ in self.diagnostics]),
            )
        ]
        last = self.diagnostics[-1][1] if self.diagnostics else {}
        return (
            f'no command arrived from {edges[gap] - begin:.2f} to {edges[gap + 1] - begin:.2f} s '
            f'({arrivals.size} arrived); {", ".join(heard)}; the last diagnostics: {last}'
        )

    def beat(self, kind: int, index: int, now: float, horizon: int = 0) -> Beat:
        message = Beat(kind=kind, index=index, tempo=60 / BEAT, confidence=0.9, time_std=0.01 * horizon)
        message.header.stamp = stamp(self.first_beat + index * BEAT)
        message.estimated_at = stamp(now)
        return message

    def play(self) -> None:
        """Every 100 ms, like beat_tracker: beats just heard as OBSERVED, the next four as PREDICTED."""
        now = self.now()
        if not self.first_beat < math.inf or now >= self.silence:
            return
        while self.first_beat + self.observed * BEAT <= now - LOOKAHEAD:
            self.beats.publish(self.beat(Beat.OBSERVED, self.observed, now))
            self.observed += 1
        coming = max(0, math.ceil((now - self.first_beat) / BEAT))
        for k in range(4):
            self.beats.publish(self.beat(Beat.PREDICTED, coming + k, now, k + 1))

    def call(self, service: str) -> tuple[float, float, Trigger.Response]:
        """Call a Trigger service; (request time, response time, response)."""
        client = self.node.create_client(Trigger, service)
        assert client.wait_for_service(timeout_sec=10), service
        sent = self.now()
        future = client.call_async(Trigger.Request())
        assert wait(future.done, 10), service
        return sent, self.now(), future.result()

    def close(self) -> None:
        self.executor.shutdown()
        self.thread.join(timeout=5)
        self.node.destroy_node()


def pause_until(probe: Probe, t: float) -> None:
    time.sleep(max(0.0, t - probe.now()))


@dataclass
class Performance:
    """What the test process saw, and when it acted (node-clock seconds)."""

    start: float  # the first beat is 1 s later
    beats: np.ndarray
    estop: tuple[float, float, Trigger.Response]
    release: tuple[float, float, Trigger.Response]
    silence: float
    command_times: np.ndarray
    commands: np.ndarray
    command_arrivals: np.ndarray  # a late controller catches up: commands may arrive well after their time
    state_times: np.ndarray
    states: np.ndarray
    twists: np.ndarray
    metrics: list[tuple[float, CoordinationMetrics]]
    diagnostics: list[tuple[float, dict[str, str]]]
    latched: list[bool]
    exit_codes: list[int]
    stderr: str

    def events(self, begin: float, end: float) -> np.ndarray:
        """Minima of the nod's marking joint in the joint states between `begin` and `end`."""
        span = (self.state_times >= begin) & (self.state_times <= end)
        return detect_events(self.state_times[span], self.states[span, NOD_JOINT], 'min', prominence=0.01)

    def asynchrony(self, begin: float, end: float) -> Asynchrony:
        """Asynchrony of the robot's nods to the beats between `begin` and `end`."""
        beats = self.beats[(self.beats >= begin + BEAT / 4) & (self.beats <= end - BEAT / 4)]
        return asynchrony(self.events(begin, end), beats)


def perform(probe: Probe) -> dict:
    """Dance 14 s, emergency stop for 1.5 s, release, dance on, then silence; what happened when."""
    assert wait(lambda: probe.states and probe.commands, 30), 'the controller never commanded the robot'
    start = probe.now()
    probe.first_beat = start + 1.0
    pause_until(probe, start + 15.0)
    estop = probe.call('emergency_stop')
    probe.node.create_subscription(Bool, 'emergency_stop', lambda m: probe.latched.append(m.data), LATCHED)
    pause_until(probe, estop[1] + 1.5)
    release = probe.call('release')
    pause_until(probe, release[1] + 4.5)
    probe.silence = probe.now()
    pause_until(probe, probe.silence + 4.0)
    beats = probe.first_beat + BEAT * np.arange(round((probe.silence - probe.first_beat) / BEAT) + 1)
    return {'start': start, 'beats': beats, 'estop': estop, 'release': release, 'silence': probe.silence}


@pytest.fixture(scope='module')
def performance(ros_node, tmp_path_factory) -> Performance:
    """One performance of robot_sim (kinematic model) and robot_controller, from the config file."""
    folder = tmp_path_factory.mktemp('robot')
    processes = [
        NodeProcess('robot_sim', ('--params-file', CONFIG, '-p', 'robot:=kinematic'), folder),
        NodeProcess(
            'robot_controller',
            ('--params-file', CONFIG, '-p', 'base_topic:=cmd_vel', '-p', 'latency_state:=false'),
            folder,
        ),
    ]
    try:
        probe = Probe()
        try:
            happened = perform(probe)
        finally:
            probe.close()
        crashed = [process.name for process in processes if process.popen.poll() is not None]
        assert not crashed, f'{crashed} stopped: ' + ''.join(process.stderr for process in processes)
        exit_codes = [process.interrupt() for process in processes]
    finally:
        stop_all(processes)
    commands, states = sorted(probe.commands), sorted(probe.states)
    return Performance(
        **happened,
        command_times=np.array([t for t, _, _ in commands]),
        commands=np.array([q for _, q, _ in commands]),
        command_arrivals=np.array([arrival for _, _, arrival in commands]),
        state_times=np.array([t for t, _ in states]),
        states=np.array([q for _, q in states]),
        twists=np.array(probe.twists),
        metrics=probe.metrics,
        diagnostics=probe.diagnostics,
        latched=probe.latched,
        exit_codes=exit_codes,
        stderr=''.join(process.stderr for process in processes),
    )


def test_motion_events_land_on_the_beats(performance):
    p = performance
    intervals = np.diff(p.state_times)
    assert np.median(intervals) == pytest.approx(DT, abs=2e-4)  # joint states at 100 Hz
    dancing = p.asynchrony(p.start + 7.0, p.estop[0])  # once faded in and latency-compensated
    print(f'over DDS: {dancing}; joint states every {1e3 * np.mean(intervals):.2f} ms on average')
    assert dancing.matched >= 14 and dancing.missed == 0
    assert dancing.mean_absolute < 0.010 and dancing.sd < 0.010  # measured: about 1 ms
    assert p.exit_codes == [0, 0] and 'Traceback' not in p.stderr


def test_every_command_keeps_to_the_limits(performance):
    p = performance
    np.testing.assert_allclose(np.diff(p.command_times), DT, atol=1e-6)  # every period, none lost
    assert LIMITS.violations(p.commands, DT) == 0
    yaw_rate = p.twists[:, 1]
    assert np.abs(yaw_rate).max() > 0.05  # the base swayed too
    assert np.all(np.abs(yaw_rate) <= 1.0 + 1e-9)  # base_velocity
    assert np.all(np.abs(np.diff(yaw_rate)) <= 4.0 * DT + 1e-9)  # base_acceleration, one message per period


def test_emergency_stop_brakes_holds_and_release_resumes(performance):
    p = performance
    (_, stopped, response), (freed, _, released) = p.estop, p.release
    assert response.success and released.success
    velocity = np.abs(np.diff(p.commands, axis=0)) / DT
    speed = velocity[p.command_times[1:] >= stopped]
    # Computed while stopped: after the stop's response (plus the half period a timer may run
    # early), and sent before the release was asked for (a late controller computes several
    # past periods at once, so a command's time alone does not say whether it saw the release).
    before_release = p.command_arrivals < freed
    brake = (p.command_times[1:] >= stopped + DT) & before_release[1:]
    assert np.all(np.diff(velocity[brake], axis=0) <= 1e-9)  # braking only, never speeding up
    braked = stopped + (speed[0] / LIMITS.acceleration).max() + 2 * DT
    held = p.commands[(p.command_times >= braked) & before_release]
    assert len(held) > 100 and np.ptp(held, axis=0).max() == 0.0  # still, to the bit
    twist = p.twists[(p.twists[:, 0] >= braked + 0.05) & (p.twists[:, 0] <= freed)]
    assert np.all(twist[:, 1] == 0.0)
    assert p.latched[:1] == [True] and p.latched[-1] is False  # latched for late joiners, then released
    after = p.commands[(p.command_times > freed) & (p.command_times < freed + 0.5)]
    assert np.ptp(after, axis=0).max() > 0  # moving again: home first
    again = p.states[(p.state_times > p.silence - 1.0) & (p.state_times < p.silence), NOD_JOINT]
    assert np.ptp(again) > 0.05  # and dancing again before the silence


def test_silence_brings_the_robot_home(performance):
    p = performance
    # watchdog_timeout 0.5 s, then the dance fades out over ramp 1 s
    home = p.commands[p.command_times > p.silence + 2.0]
    assert len(home) > 100
    np.testing.assert_allclose(home, np.broadcast_to(HOME, home.shape), atol=1e-9)
    resting = p.states[p.state_times > p.silence + 2.5]
    np.testing.assert_allclose(resting, np.broadcast_to(HOME, resting.shape), atol=1e-4)


UNMEASURED = 'measured (0 estimates)'  # the controller's latency_source before its first estimate


def test_asynchrony_and_latency_are_reported(performance):
    p = performance
    arrived, metrics = [(t, m) for t, m in p.metrics if t < p.estop[0]][-1]
    mine = p.asynchrony(arrived - 8.0, arrived)  # the same window, from the test's joint states
    print(f'controller: {metrics.matched} matched, mean {1e3 * metrics.mean_asynchrony:+.1f} ms, '
          f'mean absolute {1e3 * metrics.mean_absolute_asynchrony:.1f} ms; test: {mine}')  # fmt: skip
    assert (metrics.source, metrics.reference, metrics.window.sec) == ('robot', '/beats OBSERVED since the lock', 8)
    assert metrics.matched >= 12 and metrics.missed == 0
    assert metrics.mean_absolute_asynchrony < 0.010 and metrics.sd_asynchrony < 0.010
    assert metrics.mean_absolute_asynchrony == pytest.approx(mine.mean_absolute, abs=0.002)
    dance = (p.command_times > p.start + 7.0) & (p.command_times < p.estop[0])
    motion = (p.state_times > p.start + 7.0) & (p.state_times < p.estop[0])
    latency = estimate_latency(p.command_times[dance], p.commands[dance], p.state_times[motion], p.states[motion])
    # What the controller measured, once it has (before, it reports its prior: how soon depends on the load), and
    # the latency it compensates, taken in gradually: by the emergency stop, the measured one
    reports = [d for t, d in p.diagnostics if p.start + 7.0 < t < p.estop[0]]
    measured = [float(d['latency_measured_ms']) / 1e3 for d in reports if d['latency_source'] != UNMEASURED]
    compensated = float(reports[-1]['latency_ms']) / 1e3
    print(f'latency: measured {1e3 * np.mean(measured):.1f} ms and compensated {1e3 * compensated:.1f} ms by the '
          f'controller, measured by the test {1e3 * latency:.1f} ms')  # fmt: skip
    assert 0.02 < latency < 0.15
    assert len(measured) >= 3 and np.abs(np.array(measured) - latency).max() < 0.01
    assert abs(compensated - latency) < 0.01


def test_the_panda_in_pybullet_follows_a_trajectory(ros_node, node_process):
    states: list[JointState] = []
    probe = rclpy.create_node('panda_probe')
    probe.create_subscription(JointState, 'joint_states', states.append, 1000)
    publisher = probe.create_publisher(JointTrajectory, TOPIC, 10)
    sim = node_process('robot_sim', '--params-file', CONFIG, '-p', 'robot:=panda')
    executor = SingleThreadedExecutor()
    executor.add_node(probe)
    try:
        ready = lambda: len(states) > 100 and publisher.get_subscription_count() > 0  # noqa: E731
        assert wait_spinning(executor, ready, 30), sim.stderr
        target = HOME + np.array([0.2, 0.0, 0.0, 0.1, 0.0, -0.1, 0.0])
        point = JointTrajectoryPoint(positions=target[::-1].tolist())  # joints in any order, by name
        point.time_from_start.nanosec = 500_000_000
        publisher.publish(JointTrajectory(joint_names=NAMES[::-1], points=[point]))
        sent = len(states)
        wait_spinning(executor, lambda: False, 1.5)
    finally:
        executor.shutdown()
        probe.destroy_node()
    held, moved = states[:sent], states[-1]
    assert np.abs(np.array([s.position for s in held]) - HOME).max() < 0.01  # against gravity
    assert list(moved.name) == NAMES and np.abs(np.array(moved.position) - target).max() < 0.01
    times = np.array([seconds(s.header.stamp) for s in states])
    assert np.median(np.diff(times)) == pytest.approx(DT, abs=1e-3)
    assert np.all(np.abs([s.velocity for s in states]) <= LIMITS.velocity + 1e-6)
    assert sim.interrupt() == 0 and 'Traceback' not in sim.stderr


def wait_spinning(executor: SingleThreadedExecutor, condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.05)
    return condition()


@pytest.mark.parametrize(
    ('node', 'argument', 'message'),
    [
        ('robot_controller', 'move:=spin', "move: 'spin' is not one of nod, sway, wave"),
        ('robot_controller', 'home:=[0.0]', 'home: one position per joint'),
        ('robot_sim', 'robot:=ur5', "robot: 'ur5' is not one of panda, kinematic"),
    ],
)
def test_bad_parameters_stop_the_node_in_one_line(node_process, node, argument, message):
    process = node_process(node, '-p', argument)
    assert process.popen.wait(timeout=30) == 2
    errors = process.stderr.strip().splitlines()
    assert len(errors) == 1 and message in errors[0], process.stderr


def test_stopped_all_at_once_the_robot_brakes_to_rest_and_the_bag_shows_it(dancing, node_process, tmp_path):
    """All signalled at once, as `ros2 launch` does on Ctrl-C: robot_sim brakes itself, the recorder lingers."""
    from rosbags.highlevel import AnyReader

    _, _, _, controller, states = dancing
    sim = next(process for process in node_process.started if process.name == 'robot_sim')
    bag, log = tmp_path / 'bag', tmp_path / 'recorder.log'
    with log.open('w') as out:
        command = ['musmove', 'record', '-o', str(bag), '--topics', '/joint_states']
        recorder = subprocess.Popen(command, stdout=out, stderr=out)
    try:
        # The recorder has joint states (a subscriber count can include a stale one) and the robot is moving fast.
        assert wait(lambda: 'first message on /joint_states' in log.read_text(), 30), log.read_text()
        fast = lambda: len(states) > 0 and np.abs(states[-1][1].velocity).max() > 0.05  # noqa: E731
        assert wait(fast, 30), np.abs(states[-1][1].velocity).max()
        for process in (controller.popen, sim.popen, recorder):
            process.send_signal(signal.SIGINT)
        assert [p.wait(timeout=30) for p in (controller.popen, sim.popen, recorder)] == [0, 0, 0], log.read_text()
    finally:
        if recorder.poll() is None:
            recorder.kill()
    with AnyReader([bag]) as reader:
        recorded = [reader.deserialize(data, c.msgtype) for c, _, data in reader.messages()]
    speeds = np.abs([s.velocity for s in recorded]).max(axis=1)
    assert speeds.max() > 0.05  # it was dancing in the bag
    assert speeds[-1] < 1e-3, speeds[-30:]  # and the bag ends with it braked to rest
    assert 'stopped: the robot is at rest' in sim.stderr, sim.stderr[-2000:]
