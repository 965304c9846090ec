"""musmove's ROS 2 nodes; every node module has a `main` console entry point built on `spin`."""

import signal
import sys
import time
from collections.abc import Callable
from typing import Any

import rclpy
from rcl_interfaces.msg import IntegerRange, ParameterDescriptor
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from rclpy.task import Future


class ConfigurationError(ValueError):
    """A node cannot run with the parameters it was given; the message says why."""


class MusmoveNode(Node):
    """A node that may finish by itself (`finished` done) and declares documented parameters."""

    def __init__(self, name: str, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.finished = Future()
        self._warned: dict[str, tuple[float, int]] = {}

    def parameter(self, name: str, default: Any, description: str, *, minimum: int | None = None) -> Any:
        """Declare a read-only parameter with its description (and lower bound) and return its value.

        A list default must not be empty: ROS 2 parameter files cannot hold an empty list.
        """
        descriptor = ParameterDescriptor(description=description, read_only=True)
        if minimum is not None:
            descriptor.integer_range = [IntegerRange(from_value=minimum, to_value=2**31 - 1, step=1)]
        value = self.declare_parameter(name, default, descriptor).value
        return list(value) if isinstance(default, list) else value

    def on_finish(self) -> bool:
        """Called once when the node finishes, before its context shuts down; True if it published a last word."""
        return False

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


def spin(make_node: Callable[[], MusmoveNode], args: list[str] | None = None) -> int:
    """Run a node until it finishes, SIGINT or SIGTERM; return the process exit status.

    A configuration error is reported on one line on stderr, with exit status 2.
    """
    signal.signal(signal.SIGINT, _finish)
    signal.signal(signal.SIGTERM, _finish)
    try:
        with rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO):
            node = make_node()
            _spinning.append(node)
            executor = SingleThreadedExecutor()
            executor.add_node(node)
            while not node.finished.done():
                executor.spin_once(timeout_sec=WAKE)
            if node.on_finish():
                time.sleep(LINGER)  # for DDS to deliver it before the context goes
            executor.shutdown()
            return 0
    except (ConfigurationError, ParameterException) as error:
        print(f'{sys.argv[0].rsplit("/", 1)[-1]}: error: {error}', file=sys.stderr)
        return 2
    except (KeyboardInterrupt, ExternalShutdownException):
        return 0
