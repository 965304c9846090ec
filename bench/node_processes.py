"""Shared by the benchmarks that run musmove nodes as processes: a private ROS domain, the child processes.

Importing this module puts the process in a private ROS domain on this host only (as the tests do): import it
before rclpy is initialised.
"""

import os
import random
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

os.environ['ROS_DOMAIN_ID'] = str(random.Random(os.getpid()).randrange(1, 200))
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'

from builtin_interfaces.msg import Time
from rclpy.executors import SingleThreadedExecutor

from musmove.graph import node_executable

NS = 10**9


def stamp_ns(stamp: Time) -> int:
    return stamp.sec * NS + stamp.nanosec


class Child:
    """A musmove node in its own process, output kept in `log_dir`."""

    def __init__(self, name: str, ros_args: list[str], log_dir: Path) -> None:
        self.name, self.log = name, log_dir / f'{name}.log'
        with self.log.open('w') as out:
            command = [str(node_executable(name)), '--ros-args', *ros_args]
            self.popen = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)


def stop(children: list[Child]) -> list[int]:
    """SIGINT to all, as Ctrl-C does; kill those still running 5 s later. Their exit statuses."""
    for child in children:
        if child.popen.poll() is None:
            child.popen.send_signal(signal.SIGINT)
    for child in children:
        try:
            child.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.popen.kill()
            child.popen.wait()
    return [child.popen.returncode for child in children]


def spin_until(
    executor: SingleThreadedExecutor, done: Callable[[], object], timeout: float, children: list[Child]
) -> bool:
    """Spin until done() holds, `timeout` s pass or a child exits; whether done() holds."""
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        if exited := [c for c in children if c.popen.poll() is not None]:
            raise RuntimeError(f'{exited[0].name} exited: {exited[0].log.read_text()[-2000:]}')
        executor.spin_once(timeout_sec=0.02)
    return done()
