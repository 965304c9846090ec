"""partner_beat: the partner's beat from their movement, causally, beside the music's beats.

Topics:
    sync_frame (musmove_msgs/SyncFrame): the synchronizer's frames; their joints are named, in order, by
        `joint_names` (as mocap_source publishes them) and must include `joint`.
    partner_beats (musmove_msgs/Beat, frame_id 'partner'): an OBSERVED beat when one of the partner's
        movement passes, and every `prediction_period` the next PREDICTED one; tempo, phase and confidence
        are the partner's movement's. time_std is not estimated (0).

`musmove.beat.movement.MovementTracker` follows the height of `joint` along `up` (negated: the cycle's peak is its
lowest point) on its own `rate` clock, the joint interpolated linearly between frames. On dance-melody the
cycle a waltz dancer's spine keeps is the bar: `beats_per_cycle` 3 (docs/dance/partner.md). Nothing is
published while the confidence is below `min_confidence`; frames whose motion capture is STALE, or a gap
between frames longer than `max_gap`, restart the tracker.
"""

import numpy as np
from rclpy.time import Time

from musmove.beat.movement import MovementTracker
from musmove.gesture.features import JOINTS
from musmove.nodes import ConfigurationError, MusmoveNode, spin, validation
from musmove_msgs.msg import Beat, SyncFrame

NS = 10**9


class PartnerBeatNode(MusmoveNode):
    """Publish the partner's movement beats from the synchronized frames."""

    def __init__(self) -> None:
        super().__init__('partner_beat')
        p = self.parameter
        names = p('joint_names', list(JOINTS), 'Names of the SyncFrame joints, in their order.')
        joint = p('joint', 'spine', 'Joint whose height the tracker follows.')
        up = np.array(p('up', [0.0, 1.0, 0.0], 'Direction that points up in the joint positions (x, y, z).'))
        self.rate = p('rate', 25.0, "The tracker's frame rate [Hz].", low=5.0, high=200.0)
        beats_per_cycle = p('beats_per_cycle', 1, 'Beats per movement cycle (3: a waltz dancer rising once a bar).',
                            minimum=1)  # fmt: skip
        event_phase = p('event_phase', 0.0, "Beat phase at the cycle's lowest point [cycles].", low=0.0, high=1.0)
        window = p('window', 9.0, 'Span of movement each estimate uses [s].', low=2.0, high=60.0)
        min_bpm = p('min_bpm', 15.0, 'Slowest movement cycle [per minute].', above=0.0)
        max_bpm = p('max_bpm', 120.0, 'Fastest movement cycle [per minute].', above=0.0)
        self.min_confidence = p('min_confidence', 0.3, 'Below this confidence nothing is published.', low=0.0, high=1.0)
        self.period = round(NS * p('prediction_period', 0.1, 'Period of the PREDICTED beats [s].', above=0.0))
        self.max_gap = round(NS * p('max_gap', 0.5, 'A longer gap between frames restarts the tracker [s].', above=0))
        self.max_lead = p('max_stamp_lead', 1.0, 'Frames stamped further ahead of this clock are dropped [s].', above=0)
        if joint not in names:
            raise ConfigurationError(f'joint: {joint!r} is not in joint_names {names}')
        if up.shape != (3,) or not np.isfinite(up).all() or not np.linalg.norm(up) > 0:
            raise ConfigurationError(f'up: {up.tolist()} is not a direction (three finite numbers, not all 0)')
        if beats_per_cycle > 8:
            raise ConfigurationError(f'beats_per_cycle: {beats_per_cycle} is not in [1, 8]')
        if min_bpm >= max_bpm:
            raise ConfigurationError(f'min_bpm ({min_bpm}) must be below max_bpm ({max_bpm})')
        self.index, self.up = [names.index(joint)], up / np.linalg.norm(up)
        self.tracker = MovementTracker(self.rate, beats_per_cycle, event_phase, window, min_bpm, max_bpm)
        self.step = round(NS / self.rate)
        self.previous: tuple[int, float] | None = None  # the last frame: stamp, height
        self.tick = self.start = self.next_prediction = 0
        self.count = 0  # beats published since the tracker (re)started
        self.publisher = self.create_publisher(Beat, 'partner_beats', 50)
        self.create_subscription(SyncFrame, 'sync_frame', self.on_frame, 20)
        up_text = self.up.round(3).tolist()
        self.get_logger().info(f'{joint} height (up {up_text}) at {self.rate:g} Hz, {beats_per_cycle} beat(s) a cycle')

    def on_frame(self, frame: SyncFrame) -> None:
        try:
            stamp, positions = validation.sync_joints(frame, self.index, self.clock_ns(), self.max_lead)
        except validation.Rejected as error:
            self.reject('sync_frame', error)
            return
        if positions is None:  # no motion capture (yet), or STALE
            self.restart()
            return
        value = -float(positions[0] @ self.up)
        if self.previous is not None and stamp - self.previous[0] > self.max_gap:
            self.restart()
        if self.previous is None:
            self.tick = self.start = self.next_prediction = stamp
        elif stamp <= self.previous[0]:
            self.warn_limited('stamp', 'sync_frame: stamp not after the last frame; ignored')
            return
        last_stamp, last = self.previous or (stamp, value)
        while self.tick <= stamp:  # the tracker's clock, the joint interpolated between frames
            weight = (self.tick - last_stamp) / (stamp - last_stamp) if stamp > last_stamp else 1.0
            if estimate := self.tracker.step(last + weight * (value - last)):
                self.publish(estimate)
            self.tick += self.step
        self.previous = (stamp, value)

    def publish(self, estimate) -> None:
        """The OBSERVED beat that passed, if any, and the PREDICTED next one when one is due."""
        if estimate.confidence < self.min_confidence:
            return
        now = self.start + round(estimate.frame * self.step)
        kinds = [(Beat.OBSERVED, estimate.observed)] if estimate.observed is not None else []
        if now >= self.next_prediction:
            kinds.append((Beat.PREDICTED, estimate.next_beat))
            self.next_prediction = now + self.period
        for kind, frame in kinds:
            beat = Beat(kind=kind, index=self.count, tempo=float(estimate.tempo))
            beat.phase, beat.confidence = float(np.clip(estimate.phase, 0, 1)), float(estimate.confidence)
            beat.header.stamp = Time(nanoseconds=self.start + round(frame * self.step)).to_msg()
            beat.header.frame_id = 'partner'
            beat.estimated_at = Time(nanoseconds=now).to_msg()
            self.publisher.publish(beat)
            self.count += kind == Beat.OBSERVED

    def restart(self) -> None:
        if self.previous is not None:
            self.warn_limited('stale', 'sync_frame: motion capture stale or interrupted; tracking restarts')
        self.previous = None
        self.tracker.reset()
        self.count = 0


def main(args: list[str] | None = None) -> int:
    return spin(PartnerBeatNode, args)
