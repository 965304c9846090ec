"""Replay a rosbag2 bag: serialized messages republished with their recorded spacing, and /clock."""

import math
import sys
import time
from pathlib import Path

import rclpy
from builtin_interfaces.msg import Time
from rclpy.duration import Duration
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosbags.interfaces import Connection
from rosbags.rosbag2 import Reader
from rosgraph_msgs.msg import Clock

from musmove.bag.storage import BagError, open_bag
from musmove.bag.types import message_class, replay_qos
from musmove.progress import Progress

SETTLE = 0.25  # s: a subscriber matches a publisher shortly after the publisher matched it (best effort loses those)
LINGER = 0.5  # s: publishers stay after the last message, for best-effort subscribers to receive it
CLOCK_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)  # what rclpy's TimeSource asks for


class Player:
    """Publish a bag's messages paced by their recorded times / `rate`; /clock at `clock_hz` (0: none)."""

    def __init__(self, node: Node, reader: Reader, connections: list[Connection], rate: float, clock_hz: float) -> None:
        self.node, self.reader, self.connections, self.rate = node, reader, connections, rate
        self.publishers = {}
        for c in connections:
            if c.topic not in self.publishers:
                qos = replay_qos(list(c.ext.offered_qos_profiles))
                self.publishers[c.topic] = node.create_publisher(message_class(c.msgtype), c.topic, qos)
        self.clock = node.create_publisher(Clock, '/clock', CLOCK_QOS) if clock_hz else None
        self.clock_period = round(1e9 / clock_hz) if clock_hz else 0
        self.published = 0

    def wait_for_subscribers(self, count: int) -> None:
        """Return once every topic has `count` subscribers, and their side of the match is done too."""
        if count <= 0:
            return
        while any(p.get_subscription_count() < count for p in self.publishers.values()):
            self._sleep(0.01)
        self._sleep(SETTLE)

    def play(self, start: int, label: str) -> None:
        """Play once from bag time `start` [ns] to the end."""
        self.start, self.origin, self.next_tick = start, time.monotonic_ns(), 0
        progress = Progress(label, math.ceil((self.reader.end_time - start) / 1e9))
        for connection, timestamp, data in self.reader.messages(self.connections, start=start):
            self._wait_until(self.origin + round((timestamp - start) / self.rate))
            self.publishers[connection.topic].publish(data)
            self.published += 1
            progress.show(int((timestamp - start) // 10**9))
        progress.close()

    def wait_for_acknowledgements(self, timeout: float = 5.0) -> None:
        """Give subscribers the time to receive the last messages before the publishers go: reliable ones
        acknowledge; best-effort ones get no acknowledgement, so a short linger covers their last sample."""
        for publisher in self.publishers.values():
            publisher.wait_for_all_acked(Duration(seconds=timeout))
        time.sleep(LINGER)

    def _wait_until(self, due: int) -> None:
        while (now := time.monotonic_ns()) < due or (self.clock and now >= self.next_tick):
            if self.clock and now >= self.next_tick:
                self._tick(now)
            wake = min(due, self.next_tick) if self.clock else due
            if wake > now:
                self._sleep((wake - now) / 1e9)

    def _tick(self, now: int) -> None:
        """Publish the bag time that corresponds to the wall-clock time `now`."""
        sec, nanosec = divmod(self.start + round((now - self.origin) * self.rate), 10**9)
        self.clock.publish(Clock(clock=Time(sec=sec, nanosec=nanosec)))
        self.next_tick = max(self.next_tick, now - self.clock_period) + self.clock_period

    def _sleep(self, seconds: float) -> None:
        """Sleep, looking every 0.1 s whether SIGINT or SIGTERM shut the context down."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            if not self.node.context.ok():
                raise ExternalShutdownException()
            time.sleep(min(left, 0.1))


def select(reader: Reader, topics: list[str] | None, path: Path) -> list[Connection]:
    """The bag's connections on `topics` (all if None) whose message types are installed."""
    available = {c.topic for c in reader.connections}
    wanted = None if topics is None else {name if name.startswith('/') else f'/{name}' for name in topics}
    if wanted is not None and (unknown := wanted - available):
        names = ', '.join(sorted(available)) or 'none'
        raise BagError(f'no topic {", ".join(sorted(unknown))} in {path}; its topics: {names}')
    selected = []
    for connection in reader.connections:
        if wanted is not None and connection.topic not in wanted:
            continue
        try:
            message_class(connection.msgtype)
        except (ImportError, ValueError) as error:
            if wanted is not None:
                raise BagError(f'cannot play {connection.topic}: {error}') from error
            print(f'musmove: warning: skipping {connection.topic}: {error}', file=sys.stderr)
            continue
        selected.append(connection)
    return selected


def play(
    path: Path,
    rate: float = 1.0,
    loop: bool = False,
    start_offset: float = 0.0,
    topics: list[str] | None = None,
    clock_hz: float = 0.0,
    wait_for_subscribers: int = 0,
    args: list[str] | None = None,
) -> int:
    """Play a bag until its end (or, looping, until SIGINT or SIGTERM)."""
    if rate <= 0 or clock_hz < 0 or start_offset < 0:
        raise BagError('--rate must be positive, --clock and --start-offset not negative')
    reader = open_bag(path)
    try:
        connections = select(reader, topics, path)
        start = reader.start_time + round(start_offset * 1e9)
        if not connections or start >= reader.end_time:
            raise BagError(f'nothing to play in {path} (topics {topics or "all"}, from {start_offset} s)')
        _play(reader, connections, start, rate, loop, clock_hz, wait_for_subscribers, args)
    finally:
        reader.close()
    return 0


def _play(
    reader: Reader,
    connections: list[Connection],
    start: int,
    rate: float,
    loop: bool,
    clock_hz: float,
    wait_for: int,
    args: list[str] | None,
) -> None:
    with rclpy.init(args=args):
        node = rclpy.create_node('musmove_player')
        player = Player(node, reader, connections, rate, clock_hz)
        label = f'playing {Path(reader.path).name} [s]'
        try:
            player.wait_for_subscribers(wait_for)
            player.play(start, label)
            while loop:
                player.play(start, label)
            player.wait_for_acknowledgements()
        except (KeyboardInterrupt, ExternalShutdownException):
            pass
        print(f'published {player.published} messages on {len(player.publishers)} topics', flush=True)
