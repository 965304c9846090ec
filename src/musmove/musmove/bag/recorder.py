"""Record topics into a rosbag2 bag: serialized CDR passthrough, so any installed message type works."""

import signal
import threading
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import rclpy
from rclpy.event_handler import QoSMessageLostInfo, SubscriptionEventCallbacks
from rclpy.executors import SingleThreadedExecutor
from rclpy.signals import SignalHandlerOptions
from rosbags.rosbag2 import WriterError

from musmove.bag.privacy import DROPPED, private
from musmove.bag.storage import BagWriter, Topic
from musmove.bag.types import bag_qos, definition, deserialize, message_class, subscription_qos
from musmove.nodes import MusmoveNode

# Messages that count themselves: a jump of this field means messages were lost before the recorder.
SEQUENCE_FIELDS = {'musmove_msgs/msg/AudioFrame': 'frame_index'}
DISCOVERY_PERIOD = 0.1  # s between looks for new topics (rosbag2's default polling interval)
LINGER = 1.0  # s recorded after the stop signal, while the other processes stop (the robot brakes)


@dataclass
class TopicCount:
    """What happened to one topic's messages."""

    msgtype: str
    received: int = 0
    written: int = 0
    lost: int = 0  # samples DDS reported lost (message_lost events)
    missing: int = 0  # gaps in the message's own sequence field
    last_index: int | None = None

    def sequence(self, index: int) -> None:
        """Count the indices skipped before `index` (a smaller one starts a new stream)."""
        if self.last_index is not None and index > self.last_index + 1:
            self.missing += index - self.last_index - 1
        self.last_index = index


class Recorder(MusmoveNode):
    """Subscribe to every topic (or the given ones) as it appears and write what arrives into a bag."""

    def __init__(
        self, bag: BagWriter, topics: list[str] | None = None, flush_period: float = 1.0, privacy: bool = False
    ) -> None:
        super().__init__('musmove_recorder')
        self.bag, self.privacy = bag, privacy
        self.wanted = None if topics is None else {self.resolve_topic_name(name) for name in topics}
        self.counts: dict[str, TopicCount] = {}
        self.skipped: set[str] = set()
        self.last_time = 0
        self._discover()
        self.create_timer(DISCOVERY_PERIOD, self._discover)
        self.create_timer(flush_period, bag.flush)

    def _discover(self) -> None:
        for name, types in self.get_topic_names_and_types():
            if name in self.counts or name in self.skipped or (self.wanted is not None and name not in self.wanted):
                continue
            publishers = self.get_publishers_info_by_topic(name)
            if publishers and self.privacy and types[0] in DROPPED:
                self.get_logger().info(f'privacy: not recording {name} ({types[0]})')
                self.skipped.add(name)
            elif publishers:
                self._subscribe(name, types[0], publishers)

    def _subscribe(self, name: str, msgtype: str, publishers: list) -> None:
        try:
            msg_class = message_class(msgtype)
        except (ImportError, ValueError) as error:
            self.get_logger().warning(f'not recording {name}: {error}')
            self.skipped.add(name)
            return
        try:
            msgdef, digest = definition(msgtype)
        except KeyError:
            msgdef, digest = '', str(publishers[0].topic_type_hash)
        self.bag.add_topic(Topic(name, msgtype, msgdef, digest, [bag_qos(p.qos_profile) for p in publishers]))
        self.counts[name] = TopicCount(msgtype)
        events = SubscriptionEventCallbacks(message_lost=partial(self._lost, name))
        qos = subscription_qos(publishers)
        self.create_subscription(msg_class, name, partial(self._receive, name), qos, raw=True, event_callbacks=events)
        self.get_logger().info(f'recording {name} ({msgtype}, {qos.reliability.name.lower()})')

    def _receive(self, name: str, data: bytes) -> None:
        count = self.counts[name]
        count.received += 1
        if count.received == 1:
            self.get_logger().info(f'first message on {name}')
        self.last_time = max(time.time_ns(), self.last_time)  # non-decreasing: unindexed files stay in order
        if self.privacy:
            data = private(data, count.msgtype)
        try:
            self.bag.write(name, self.last_time, data)
        except (OSError, WriterError) as error:
            self.warn_limited('write', f'cannot write a message of {name}: {error}')
            return
        count.written += 1
        if field := SEQUENCE_FIELDS.get(count.msgtype):
            count.sequence(int(getattr(deserialize(data, count.msgtype), field)))

    def _lost(self, name: str, info: QoSMessageLostInfo) -> None:
        self.counts[name].lost += info.total_count_change

    def summary(self) -> str:
        """One line per topic: received, written, lost in DDS, missing from its sequence."""
        width = max([len(name) for name in self.counts] + [5])
        lines = [f'{"topic":{width}}  {"received":>9} {"written":>9} {"lost":>6} {"missing":>8}  type']
        for name, c in sorted(self.counts.items()):
            lines.append(f'{name:{width}}  {c.received:9d} {c.written:9d} {c.lost:6d} {c.missing:8d}  {c.msgtype}')
        drops = sum(c.received - c.written + c.lost + c.missing for c in self.counts.values())
        lines.append(
            f'{self.bag.path}: {sum(c.written for c in self.counts.values())} messages, '
            f'{len(self.bag.files)} file(s), {self.bag.size / 2**20:.1f} MiB; '
            + (f'{drops} DROPPED' if drops else 'no drops')
        )
        return '\n'.join(lines)


def record(
    path: Path,
    topics: list[str] | None = None,
    storage: str = 'mcap',
    max_bytes: int = 0,
    max_duration: float = 0.0,
    args: list[str] | None = None,
    privacy: bool = False,
    linger: float = LINGER,
) -> int:
    """Record until SIGINT or SIGTERM and `linger` s after it, then close the bag and print the per-topic summary.

    The linger keeps what the other processes publish while they stop: a launcher that signals every process at
    once (`ros2 launch`) still gets the robot's braking into the bag.

    `privacy`: no raw audio, images or rigid bodies, skeletons anonymised (`musmove.bag.privacy`).

    The signals only set a flag that the loop checks between callbacks: one arriving in the middle of a
    write must not leave the storage file half-updated, as an exception raised there would.
    """
    bag = BagWriter(path, storage, max_bytes, max_duration)
    stop = threading.Event()
    previous = {number: signal.signal(number, lambda *_: stop.set()) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        with rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO):
            recorder = Recorder(bag, topics, privacy=privacy)
            executor = SingleThreadedExecutor()
            executor.add_node(recorder)
            try:
                while not stop.is_set():
                    executor.spin_once(timeout_sec=0.1)
                deadline = time.monotonic() + linger
                while time.monotonic() < deadline:
                    executor.spin_once(timeout_sec=max(0.0, min(0.1, deadline - time.monotonic())))
            finally:
                bag.close()
                print(recorder.summary(), flush=True)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    return 0
