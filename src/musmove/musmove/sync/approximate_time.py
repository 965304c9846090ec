"""The ApproximateTime matching policy of ROS `message_filters`, without ROS.

From streams of stamped items (one stream per topic, each in stamp order) it emits sets of
one item per topic. For each set it fixes a *pivot*: the topic whose oldest waiting item is
the newest among the topics' oldest items. Among the sets that contain the pivot item it
emits the one with the smallest spread (newest minus oldest stamp), as soon as that is
provably optimal: because later items can only be later, or because a stream's
inter-message lower bound says no better item can still arrive. Items older than an
emitted set are dropped. This is the algorithm of the C++ policy
(`message_filters::sync_policies::ApproximateTime`), including its tie rules, its age
penalty, `max_interval_duration` and the per-topic queue limit; the Python
`message_filters.ApproximateTimeSynchronizer` instead matches greedily within a slop.

Stamps are integer nanoseconds. A duration is scaled by 1 + age_penalty as `rclcpp::Duration`
scales it: the product in long double, truncated toward zero (a plain float product differs, e.g.
10 ns x 1.7 is 17 ns in double but 16 ns in C++).
"""

from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np

Item = tuple[int, Any]  # (stamp in ns, payload)
FOREVER = 2**63 - 1


class ApproximateTimePolicy:
    """Streaming ApproximateTime matcher over `topics` streams.

    Args:
        topics: number of input streams (at least 2).
        queue_size: items kept per topic while waiting for a match; the oldest is dropped beyond it.
        max_interval: largest spread [ns] of an emitted set.
        age_penalty: how much a later set must improve the spread to be preferred (C++ default 0.1).
        lower_bounds: smallest gap [ns] between two items of each topic, used to prove optimality early.
    """

    def __init__(
        self,
        topics: int,
        queue_size: int,
        max_interval: int = FOREVER,
        age_penalty: float = 0.1,
        lower_bounds: Sequence[int] | None = None,
    ) -> None:
        if topics < 2:
            raise ValueError(f'ApproximateTime needs at least 2 topics, got {topics}')
        if queue_size < 1:
            raise ValueError(f'queue_size must be at least 1, got {queue_size}')
        if max_interval < 0 or age_penalty < 0:
            raise ValueError('max_interval and age_penalty must not be negative')
        self.topics, self.queue_size = topics, queue_size
        self.max_interval, self.age_penalty = max_interval, age_penalty
        self.scale = np.longdouble(1.0 + age_penalty)
        self.lower_bounds = list(lower_bounds) if lower_bounds is not None else [0] * topics
        if len(self.lower_bounds) != topics or min(self.lower_bounds) < 0:
            raise ValueError(f'lower_bounds needs {topics} non-negative durations')
        self.queues: list[deque[Item]] = [deque() for _ in range(topics)]
        self.past: list[list[Item]] = [[] for _ in range(topics)]
        self.dropped = [False] * topics
        self.candidate: list[Item] | None = None
        self.candidate_start = self.candidate_end = self.pivot_time = 0
        self.pivot: int | None = None
        self.out: list[list[Item]] = []

    def add(self, topic: int, stamp: int, payload: Any = None) -> list[list[Item]]:
        """Add one item; return the sets completed by it (oldest first)."""
        self.out = []
        queue = self.queues[topic]
        queue.append((stamp, payload))
        if len(queue) == 1 and self._all_waiting():
            self._process()
        if len(queue) + len(self.past[topic]) > self.queue_size:
            self._recover_all()
            queue.popleft()
            self.dropped[topic] = True
            if self.pivot is not None:
                self.candidate, self.pivot = None, None
                self._process()
        return self.out

    # --- the search -----------------------------------------------------------------
    def _all_waiting(self) -> bool:
        return all(self.queues)

    def _fronts(self) -> tuple[int, int, int, int]:
        """(start topic, start time, end topic, end time) over the oldest waiting items.

        Ties: the first topic is the start, the last topic is the end, as in C++.
        """
        times = [queue[0][0] for queue in self.queues]
        return self._bounds(times)

    @staticmethod
    def _bounds(times: list[int]) -> tuple[int, int, int, int]:
        start = min(range(len(times)), key=lambda i: (times[i], i))
        end = max(range(len(times)), key=lambda i: (times[i], i))
        return start, times[start], end, times[end]

    def _worse(self, end_time: int, other_start: int) -> bool:
        """True when a set ending at end_time cannot beat the candidate (start side: other_start)."""
        aged = int(np.longdouble(end_time - self.candidate_end) * self.scale)
        return aged >= other_start - self.candidate_start

    def _process(self) -> None:
        while self._all_waiting():
            start, start_time, end, end_time = self._fronts()
            for topic in range(self.topics):
                if topic != end:
                    self.dropped[topic] = False
            if self.pivot is None:
                if end_time - start_time > self.max_interval or self.dropped[end]:
                    self._delete_front(start)
                    continue
                self._make_candidate(start_time, end_time)
                self.pivot, self.pivot_time = end, end_time
            elif not self._worse(end_time, start_time):
                self._make_candidate(start_time, end_time)
            self._move_front_to_past(start)
            if start == self.pivot or self._worse(end_time, self.pivot_time):
                self._publish()
            elif not self._all_waiting():
                self._virtual_search()

    def _virtual_search(self) -> None:
        """Try to prove the candidate optimal with the topics' inter-message lower bounds."""
        moves = [0] * self.topics
        while True:
            start, start_time, _, end_time = self._bounds([self._virtual_time(i) for i in range(self.topics)])
            if self._worse(end_time, self.pivot_time):
                self._publish()
                return
            if not self._worse(end_time, start_time):
                for topic, count in enumerate(moves):
                    for _ in range(count):
                        self.queues[topic].appendleft(self.past[topic].pop())
                return
            self._move_front_to_past(start)
            moves[start] += 1

    def _virtual_time(self, topic: int) -> int:
        """The oldest stamp topic can still show: its oldest waiting item, or a bound on its next one."""
        if self.queues[topic]:
            return self.queues[topic][0][0]
        return max(self.past[topic][-1][0] + self.lower_bounds[topic], self.pivot_time)

    # --- bookkeeping ------------------------------------------------------------------
    def _make_candidate(self, start_time: int, end_time: int) -> None:
        self.candidate = [queue[0] for queue in self.queues]
        for past in self.past:
            past.clear()
        self.candidate_start, self.candidate_end = start_time, end_time

    def _publish(self) -> None:
        self.out.append(self.candidate)
        self.candidate, self.pivot = None, None
        self._recover_all()
        for queue in self.queues:
            queue.popleft()  # the candidate's item: everything older was discarded

    def _recover_all(self) -> None:
        for queue, past in zip(self.queues, self.past, strict=True):
            queue.extendleft(reversed(past))
            past.clear()

    def _delete_front(self, topic: int) -> None:
        self.queues[topic].popleft()

    def _move_front_to_past(self, topic: int) -> None:
        self.past[topic].append(self.queues[topic].popleft())
