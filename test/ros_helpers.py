"""Helpers for tests that run real ROS 2 processes and talk to them over DDS."""

import importlib
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import rclpy
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

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()


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
