"""A drop-in for the `message_filters` Python API, matching with the C++ ApproximateTime policy.

    from musmove.sync import message_filters
    audio = message_filters.Subscriber(node, AudioFrame, 'audio', qos_profile=qos_profile_sensor_data)
    imu = message_filters.Subscriber(node, Imu, 'imu', qos_profile=qos_profile_sensor_data)
    sync = message_filters.ApproximateTimeSynchronizer([audio, imu], queue_size=10, slop=0.02)
    sync.registerCallback(on_pair)

Differences from ROS `message_filters` (Python), and why:
- ApproximateTimeSynchronizer emits, around each pivot, the set with the smallest stamp spread,
  as the C++ policy does (`musmove.sync.approximate_time`), instead of the first set that fits
  within `slop`; `slop` is the C++ `max_interval_duration`. Greedy matching pairs an IMU sample
  with whichever audio frame came first, which costs milliseconds of alignment.
- A set is emitted once it is provably optimal, so it can come one message later than with the
  greedy matcher; `inter_message_lower_bounds` (per input, seconds) lets it come sooner.
- `age_penalty` is exposed as in C++ (default 0.1).
"""

from collections.abc import Callable, Sequence
from typing import Any

from rclpy.clock import ROSClock
from rclpy.node import Node

from musmove.sync.approximate_time import FOREVER, ApproximateTimePolicy


class SimpleFilter:
    """A message source that calls registered callbacks."""

    def __init__(self) -> None:
        self.callbacks: dict[int, tuple[Callable, tuple]] = {}
        self._next_connection = 0

    def registerCallback(self, callback: Callable, *args: Any) -> int:
        """Call callback(*messages, *args) for each output; return a connection id."""
        connection = self._next_connection
        self._next_connection += 1
        self.callbacks[connection] = (callback, args)
        return connection

    def signalMessage(self, *messages: Any) -> None:
        for callback, args in list(self.callbacks.values()):
            callback(*(messages + args))


class Subscriber(SimpleFilter):
    """A ROS subscription as a filter input."""

    def __init__(self, node: Node, msg_type: type, topic: str, **kwargs: Any) -> None:
        super().__init__()
        qos = kwargs.pop('qos_profile', 10)
        self.topic = topic
        self.sub = node.create_subscription(msg_type, topic, self.signalMessage, qos, **kwargs)

    def getTopic(self) -> str:
        return self.topic


def stamp_ns(message: Any) -> int:
    stamp = message.header.stamp
    return stamp.sec * 10**9 + stamp.nanosec


class TimeSynchronizer(SimpleFilter):
    """Emit sets of messages with exactly equal header stamps, one per input."""

    def __init__(self, fs: Sequence[SimpleFilter], queue_size: int) -> None:
        super().__init__()
        self.queue_size = queue_size
        self.queues: list[dict[int, Any]] = [{} for _ in fs]
        self.input_connections = [f.registerCallback(self.add, i) for i, f in enumerate(fs)]

    def add(self, message: Any, index: int) -> None:
        stamp = stamp_ns(message)
        self.queues[index][stamp] = message
        while len(self.queues[index]) > self.queue_size:
            del self.queues[index][min(self.queues[index])]
        if all(stamp in queue for queue in self.queues):
            matched = [queue.pop(stamp) for queue in self.queues]
            for queue in self.queues:  # older stamps can no longer complete
                for old in [s for s in queue if s < stamp]:
                    del queue[old]
            self.signalMessage(*matched)


class ApproximateTimeSynchronizer(SimpleFilter):
    """Emit the minimum-spread set of messages, one per input, spread at most `slop` seconds."""

    def __init__(
        self,
        fs: Sequence[SimpleFilter],
        queue_size: int,
        slop: float,
        allow_headerless: bool = False,
        age_penalty: float = 0.1,
        inter_message_lower_bounds: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        bounds = [round(b * 1e9) for b in inter_message_lower_bounds] if inter_message_lower_bounds else None
        max_interval = FOREVER if slop == float('inf') else round(slop * 1e9)
        self.policy = ApproximateTimePolicy(len(fs), queue_size, max_interval, age_penalty, bounds)
        self.allow_headerless = allow_headerless
        self.clock = ROSClock()
        self.input_connections = [f.registerCallback(self.add, i) for i, f in enumerate(fs)]

    def add(self, message: Any, index: int) -> None:
        if hasattr(message, 'header'):
            stamp = stamp_ns(message)
        elif self.allow_headerless:
            stamp = self.clock.now().nanoseconds
        else:
            raise ValueError(
                f'{type(message).__name__} has no header; pass allow_headerless=True to stamp it on arrival'
            )
        for matched in self.policy.add(index, stamp, message):
            self.signalMessage(*(item for _, item in matched))
