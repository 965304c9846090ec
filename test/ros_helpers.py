"""Helpers for tests that run real ROS 2 processes and talk to them over DDS."""

import importlib
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import rclpy
from builtin_interfaces.msg import Time as Stamp
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rosidl_parser.definition import (
    AbstractGenericString,
    AbstractNestedType,
    Array,
    BasicType,
    NamespacedType,
)

from musmove.graph import node_executable


class NodeProcess:
    """A musmove node's console entry point running as a child process, output kept in files."""

    def __init__(self, name: str, ros_args: tuple[str, ...], log_dir: Path) -> None:
        self.name = name
        self.stdout_path = log_dir / f'{name}.stdout'
        self.stderr_path = log_dir / f'{name}.stderr'
        command = [str(node_executable(name)), '--ros-args', *ros_args]
        with self.stdout_path.open('w') as out, self.stderr_path.open('w') as err:
            self.popen = subprocess.Popen(command, stdout=out, stderr=err)

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def interrupt(self, timeout: float = 15.0) -> int:
        """Send SIGINT, as Ctrl-C does, and return the exit status."""
        self.popen.send_signal(signal.SIGINT)
        return self.popen.wait(timeout=timeout)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop as `ros2 launch` does: SIGINT, and SIGKILL only if the node has not exited within `timeout`.

        A node killed outright can leave Fast DDS's shared-memory transport broken for the processes it talked to
        (eProsima/Fast-DDS#5469), and the test process talks to every node of the session.
        """
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def stop_all(processes: Iterable[NodeProcess], timeout: float = 15.0) -> None:
    """Stop node processes together: SIGINT to all, then each waited for (killed past `timeout`)."""
    running = [p for p in processes if p.popen.poll() is None]
    for process in running:
        process.popen.send_signal(signal.SIGINT)
    for process in running:
        process.stop(timeout)


def wait_for(condition: Callable[[], bool], node: Node, timeout: float = 20.0) -> bool:
    """Spin `node` until `condition()` holds or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        rclpy.spin_once(node, timeout_sec=0.05)
    return condition()


def message_type(name: str) -> type:
    """The Python class of a type named like 'musmove_msgs/msg/Beat'."""
    package, kind, type_name = name.split('/')
    return getattr(importlib.import_module(f'{package}.{kind}'), type_name)


def filled(msg_type: type, seed: int = 1):
    """A message of `msg_type` with every field, nested ones too, set to a distinct non-default value."""
    message = msg_type()
    fields = zip(msg_type.get_fields_and_field_types(), msg_type.SLOT_TYPES, strict=True)
    for offset, (field, slot) in enumerate(fields):
        setattr(message, field, _value(slot, seed + offset))
    return message


def _value(slot, seed: int):
    if isinstance(slot, AbstractNestedType):
        count = slot.size if isinstance(slot, Array) else 3
        return [_value(slot.value_type, seed + k) for k in range(count)]
    if isinstance(slot, AbstractGenericString):
        return f'value-{seed}'
    if isinstance(slot, NamespacedType):
        return filled(message_type('/'.join([*slot.namespaces, slot.name])), seed)
    assert isinstance(slot, BasicType), slot
    if slot.typename == 'boolean':
        return seed % 2 == 1
    if slot.typename in ('float', 'double'):
        return seed + 0.25  # exact in float32
    if slot.typename == 'octet':
        return bytes([seed % 256])
    return seed % 100  # fits every integer type


def stamp(t: float) -> Stamp:
    sec, nanosec = divmod(round(t * 1e9), 10**9)
    return Stamp(sec=sec, nanosec=nanosec)


def seconds(t: Stamp) -> float:
    return t.sec + t.nanosec * 1e-9


class Rogue:
    """A process's worth of publishers and recorders, spun in a thread: the test's side of the graph."""

    def __init__(self, name: str) -> None:
        self.node = rclpy.create_node(name)
        self.received: dict[str, list] = {}
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def now(self) -> float:
        return self.node.get_clock().now().nanoseconds * 1e-9

    def record(self, kind: type, topic: str, qos=100) -> list:
        self.received[topic] = messages = []
        self.node.create_subscription(kind, topic, lambda m: messages.append((self.now(), m)), qos)
        return messages

    def status(self, name: str) -> dict[str, str]:
        """The newest diagnostics values of the status `name` (empty before any)."""
        for _, array in reversed(self.received.get('diagnostics', [])):
            for status in array.status:
                if status.name == name:
                    return {'message': status.message, **{v.key: v.value for v in status.values}}
        return {}

    def close(self) -> None:
        self.executor.shutdown()
        self.thread.join(timeout=5)
        self.node.destroy_node()


def wait(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()
