"""musmove's ROS 2 nodes; every node module has a `main` console entry point built on `spin`."""

import gc
import math
import re
import signal
import sys
import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import rclpy
import yaml
from rcl_interfaces.msg import IntegerRange, ParameterDescriptor
from rclpy.exceptions import InvalidHandle, ParameterException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.impl.implementation_singleton import rclpy_implementation
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions
from rclpy.subscription import Subscription
from rclpy.task import Future

RCLError = rclpy_implementation.RCLError
# QoS of the streams between musmove's nodes. Audio (our own AudioFrame) is reliable end to end, with a
# queue of 100 frames (2.3 s); our file sources publish IMU and motion capture reliably too. The
# synchronizer subscribes to IMU and motion capture best effort, so that a driver's sensor-data topic
# matches as well, but with a deep queue: on one machine a best-effort reader loses only what overflows it.
AUDIO_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
SOURCE_QOS = QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE)
SENSOR_QOS = QoSProfile(depth=200, reliability=ReliabilityPolicy.BEST_EFFORT)


class ConfigurationError(ValueError):
    """A node cannot run with the parameters it was given; the message says why."""


def check_range(
    name: str, value: float, low: float | None = None, high: float | None = None, above: float | None = None
) -> None:
    """Raise a `ConfigurationError` naming `name` and its range if `value` is outside it (or not finite)."""
    bounds = [f'> {above}'] if above is not None else []
    bounds += [f'>= {low}'] if low is not None else []
    bounds += [f'<= {high}'] if high is not None else []
    inside = math.isfinite(value) and (above is None or value > above)
    inside = inside and (low is None or value >= low) and (high is None or value <= high)
    if bounds and not inside:
        raise ConfigurationError(f'{name}: {value} is out of range (allowed: {" and ".join(bounds)})')


class MusmoveNode(Node):
    """A node that may finish by itself (`finished` done) and declares documented parameters."""

    def __init__(self, name: str, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.finished = Future()
        self._warned: dict[str, tuple[float, int]] = {}
        self._draining: list[Callable[[], None]] = []  # take what is queued on each draining subscription

    def parameter(
        self,
        name: str,
        default: Any,
        description: str,
        *,
        minimum: int | None = None,
        low: float | None = None,
        high: float | None = None,
        above: float | None = None,
    ) -> Any:
        """Declare a read-only parameter with its description and return its value.

        `minimum` bounds an integer (in its descriptor); `low` <= value <= `high` and value > `above`
        bound a number: a value outside stops the node with a `ConfigurationError` naming the range.
        A list default must not be empty: ROS 2 parameter files cannot hold an empty list.
        """
        descriptor = ParameterDescriptor(description=description, read_only=True)
        if minimum is not None:
            descriptor.integer_range = [IntegerRange(from_value=minimum, to_value=2**31 - 1, step=1)]
        value = self.declare_parameter(name, default, descriptor).value
        if isinstance(value, int | float) and not isinstance(value, bool):
            check_range(name, value, low, high, above)
        return list(value) if isinstance(default, list) else value

    def check_overrides(self) -> None:
        """Refuse parameters given (-p, a parameter file) that the node does not declare: a misspelt name."""
        unknown = sorted(set(self._parameter_overrides) - set(self._parameters))
        if unknown:
            known = ', '.join(sorted(self._parameters))
            raise ConfigurationError(f'unknown parameter(s) {", ".join(unknown)} for {self.get_name()}; known: {known}')

    def create_draining_subscription(
        self, kind: type, topic: str, callback: Callable[[Any], None], qos: QoSProfile | int, limit: int = 256
    ) -> Subscription:
        """A subscription whose callback also takes what else is queued on it, up to `limit` messages.

        rclpy's executor takes one message per ready subscription per wait: on a starved machine the fastest
        stream (a 200 Hz IMU beside 43 Hz audio) falls behind the others and stays behind. Draining takes the
        backlog at once, with the executor's own call (`handle.take_message`).
        """
        subscription: Subscription | None = None

        def take_queued() -> None:
            for _ in range(limit):
                try:
                    with subscription.handle:
                        taken = subscription.handle.take_message(subscription.msg_type, subscription.raw)
                except InvalidHandle:  # destroyed meanwhile
                    return
                if taken is None:
                    return
                callback(taken[0])

        def drain(message: Any) -> None:
            callback(message)
            take_queued()

        subscription = self.create_subscription(kind, topic, drain, qos)
        self._draining.append(take_queued)
        return subscription

    def take_queued(self) -> None:
        """Take what is queued on every draining subscription now: before a decision that waits for all of them
        (a starved executor may not have run their callbacks yet)."""
        for take in self._draining:
            take()

    def clock_ns(self) -> int:
        """The node's clock now [ns]: what received stamps and staleness are judged against."""
        return self.get_clock().now().nanoseconds

    def on_finish(self) -> float:
        """Called once when the node finishes, before its context shuts down: seconds its last messages need to act.

        The node then stays that long (and at least `LINGER`, for DDS to deliver them) before it exits; 0: none.
        """
        return 0.0

    def warn_limited(self, key: str, message: str, period: float = 5.0) -> None:
        """Log a warning at most once per `period` seconds for each `key`, counting those held back."""
        now = time.monotonic()
        last, held = self._warned.get(key, (float('-inf'), 0))
        if now - last < period:
            self._warned[key] = (last, held + 1)
            return
        suffix = f' ({held} more since the last report)' if held else ''
        self.get_logger().warning(message + suffix)
        self._warned[key] = (now, 0)

    def reject(self, topic: str, error: ValueError) -> None:
        """Log a dropped message of `topic`, rate-limited per topic and cause (`validation.Rejected.cause`)."""
        self.warn_limited(f'{topic}:{getattr(error, "cause", "invalid")}', f'{error}; ignored')


_spinning: list[MusmoveNode] = []  # the node `spin` runs, once it is built
WAKE = 0.1  # s: the longest the executor waits, so that a signal is handled soon
LINGER = 0.3  # s: a node's last messages are sent before it shuts down


def _finish(signum: int, frame: Any) -> None:
    """Finish the spinning node on the first SIGINT or SIGTERM and ignore later ones.

    The node finishes between callbacks, before its context shuts down, so no callback publishes into a
    dead context; and a terminal's Ctrl-C reaches every process of a `ros2 launch`, which then sends its
    own SIGINT: the second one must not kill the shutdown.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if not _spinning:
        raise KeyboardInterrupt  # still starting: nothing to finish yet
    if not _spinning[0].finished.done():
        _spinning[0].finished.set_result(None)


def check_ros_args(args: list[str]) -> None:
    """Refuse what rcl would refuse with a log line and a traceback: a missing value, an unreadable parameter file."""
    ros = args[args.index('--ros-args') + 1 :] if '--ros-args' in args else []
    for flag, value in pairwise([*ros, None]):
        if flag in ('-p', '--param', '-r', '--remap', '--params-file') and (value is None or value.startswith('-')):
            raise ConfigurationError(f'{flag} needs a value')
        if flag == '--params-file':
            try:
                content = yaml.safe_load(Path(value).read_text())
            except (OSError, yaml.YAMLError) as error:
                raise ConfigurationError(f'--params-file {value}: {" ".join(str(error).split())}') from None
            if not isinstance(content, dict):
                raise ConfigurationError(f'--params-file {value}: not a mapping of node names to ros__parameters')


def _refuse(reason: str) -> None:
    """The one line of a refused start, on stderr at once."""
    print(f'{sys.argv[0].rsplit("/", 1)[-1]}: error: {reason}', file=sys.stderr, flush=True)


def spin(make_node: Callable[[], MusmoveNode], args: list[str] | None = None) -> int:
    """Run a node until it finishes, SIGINT or SIGTERM; return the process exit status.

    A configuration error is reported on one line on stderr, with exit status 2. A node refused while it is built
    is reported at once and freed while rclpy is still up: freed after the shutdown, its handles could crash the
    process (SIGSEGV, rarely) before the line was written.
    """
    signal.signal(signal.SIGINT, _finish)
    signal.signal(signal.SIGTERM, _finish)
    try:
        check_ros_args(sys.argv if args is None else args)
        with rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO):
            try:
                node = make_node()
                node.check_overrides()
            except (ConfigurationError, ParameterException) as error:
                _refuse(str(error))
                error.__traceback__ = None  # its frames hold the half-built node
                if 'node' in locals():
                    node.destroy_node()
                del error
                gc.collect()
                return 2
            _spinning.append(node)
            executor = SingleThreadedExecutor()
            executor.add_node(node)
            while not node.finished.done():
                executor.spin_once(timeout_sec=WAKE)
            if linger := node.on_finish():
                time.sleep(max(linger, LINGER))  # for DDS to deliver the last word, and for it to act
            executor.shutdown()
            return 0
    except (ConfigurationError, ParameterException) as error:  # the command line, before rclpy starts
        _refuse(str(error))
        return 2
    except RCLError as error:  # bad --ros-args: a missing or unparsable parameter file, a dangling -p
        _refuse(re.sub(r',? at /\S+:\d+', '', str(error)).strip())
        return 2
    except (KeyboardInterrupt, ExternalShutdownException):
        return 0
