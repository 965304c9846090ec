"""File sources: a recording published sample by sample, paced like the live sensor it stands for."""

from collections.abc import Callable

import numpy as np
from rclpy.duration import Duration
from rclpy.publisher import Publisher
from rclpy.time import Time

from musmove.nodes import MusmoveNode

CATCH_UP = 1.0  # [s] a source this late after its start_time resumes at the sample due now


class FileSource(MusmoveNode):
    """A node that replays a recorded file: pacing, looping, start time and stamp offset.

    Sample k is played at start + clock_offset + time_scale * times[k] and stamped then plus `time_offset`
    (a sensor's latency: the stamp moves, not the playing), so a replay is deterministic and several sources
    given the same `start_time` share one clock. A source that starts more than
    `CATCH_UP` after `start_time` (a respawn, a slow start) resumes at the sample due now, with the
    stamps of that clock: it never bursts out the part of the file its clock has passed.
    """

    def declare_replay_parameters(self, file_description: str, rescalable: bool = False) -> None:
        """The replay's parameters; `rescalable`: also `time_scale` and `clock_offset`, for a recording made on
        a clock of its own."""
        p = self.parameter
        self.file = p('file', '', file_description)
        self.realtime = p('realtime', True, 'Pace the file in real time; false: as fast as possible.')
        self.loop = p('loop', False, 'Restart the file at its end instead of finishing.')
        self.wait_for = p('wait_for_subscribers', 0, 'Start once this many subscribers are matched.', minimum=0)
        self.start_time = p('start_time', 0.0, 'Clock time [s] of the first sample; 0: when playing starts.', low=0.0)
        self.time_offset = p(
            'time_offset', 0.0, 'Added to every stamp, not to the sending [s]: a latency.', low=-60.0, high=60.0
        )
        self.frame_id = p('frame_id', '', 'header.frame_id; empty: from the recording.')
        self.time_scale, self.clock_offset = 1.0, 0.0
        if rescalable:
            self.time_scale = p(
                'time_scale', 1.0, "Seconds of the common clock per second of the file's clock.", low=0.5, high=2.0
            )
            self.clock_offset = p(
                'clock_offset', 0.0, "Time [s] of the file's time 0 after start_time.", low=-60.0, high=60.0
            )

    def start_replay(
        self,
        times: np.ndarray,
        publisher: Publisher,
        publish: Callable[[int, Time], None],
        due_after: int = 0,
        delay: int = 0,
    ) -> None:
        """Call publish(index, stamp) for each sample once it is due, `times` [ns] from the first.

        A sample is due `due_after` ns after its time (an audio frame once its last sample is in; negative:
        before its time, a file published ahead). Without a `start_time`, the file's time 0 is `delay` ns
        (the time publishing ahead and a sound card's latency need), and any negative clock_offset, after
        playing starts.
        """
        times = np.asarray(times, dtype=np.float64) * self.time_scale + self.clock_offset * 1e9
        self.times = np.round(times).astype(np.int64)
        self.delay, self.start = delay, None
        step = int(np.median(np.diff(self.times))) if len(self.times) > 1 else 10**7
        self.period = int(self.times[-1] - self.times[0]) + step  # one pass of a looping file
        self.publisher, self.publish, self.due_after = publisher, publish, due_after
        self.tick = min(step / 1e9, 0.01) if self.realtime else 0.0
        self.next = 0
        self.timer = self.create_timer(0.01, self._start_when_ready)

    def _start_when_ready(self) -> None:
        if self.publisher.get_subscription_count() < self.wait_for:
            return
        now = self.get_clock().now()
        first = int(self.times[0]) + self.due_after  # when the first sample is due, from the start
        if self.start is None:
            start = now.nanoseconds + self.delay + max(0, -int(self.times[0]))  # a file clock ahead: time to play it
            start = round(self.start_time * 1e9) if self.start_time else start
            self.start = Time(nanoseconds=start, clock_type=now.clock_type)
            self.on_start()
        late = (now - self.start).nanoseconds
        if late < min(first, 0) - 5_000_000:
            return  # wait for the first sample's time on the common clock (less what is published ahead)
        self.timer.cancel()
        if self.realtime and late > CATCH_UP * 1e9:
            self.next = self.resume_at(late)
            self.get_logger().warning(f'{late / 1e9:.1f} s after start_time: resuming at sample {self.next}')
        self.offset = Duration(nanoseconds=round(self.time_offset * 1e9))
        looping = ', looping' if self.loop else ''
        self.get_logger().info(f'playing {self.file}: {len(self.times)} samples, {self.period / 1e9:.1f} s{looping}')
        self.timer = self.create_timer(self.tick, self._publish_due)

    def on_start(self) -> None:
        """Called once the clock time of the first sample (`start`) is known, before any is published."""

    def resume_at(self, elapsed: int) -> int:
        """The number of the first sample not yet due `elapsed` ns after the start (past the end: the end)."""
        due = self.times + self.due_after
        if not self.loop:
            return int(np.searchsorted(due, elapsed, side='right'))
        cycle, into = divmod(elapsed - int(self.times[0]), self.period)
        return cycle * len(self.times) + int(np.searchsorted(due - self.times[0], into, side='right'))

    def _publish_due(self) -> None:
        elapsed = (self.get_clock().now() - self.start).nanoseconds
        while True:
            cycle, index = divmod(self.next, len(self.times))
            if cycle and not self.loop:
                self.timer.cancel()
                self.get_logger().info(f'end of {self.file}: {self.next} samples published')
                self.finished.set_result(self.next)
                return
            time = cycle * self.period + int(self.times[index])
            if self.realtime and time + self.due_after > elapsed:
                return
            self.publish(index, self.start + Duration(nanoseconds=time) + self.offset)
            self.next += 1
            if not self.realtime:
                return
