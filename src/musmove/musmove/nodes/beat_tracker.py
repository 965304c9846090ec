"""beat_tracker: observed and predicted beats from audio frames, causally.

Topics:
    audio (musmove_msgs/AudioFrame, reliable): the music, frame by frame.
    beats (musmove_msgs/Beat): each beat once confirmed (OBSERVED, `lookahead` frames after it),
        and the next `predicted_beats` beats (PREDICTED, stamped in the future) after every
        observed beat and every `prediction_period` seconds. With audio stamped ahead of this
        node's clock (known music: audio_source `lookahead`), a prediction also carries the newest
        observed beat while it is still ahead of the clock (time_std 0, its index): it is known.
    partner_beats (musmove_msgs/Beat; with `partner_tempo`): the partner's movement beats (partner_beat).
        A PREDICTED one of at least `partner_min_confidence` weighs the tracker's tempo toward its tempo
        (`BeatTracker.tempo_evidence`: the dancer decides the metrical level) until `partner_timeout`
        passes on this node's clock without another.

The beat and downbeat activations come from the ONNX model `model` (`musmove.beat.model`; several, separated by
commas: the mean of their activations, the default), or, with
`model` empty or when the audio is not in the model's format, from the spectral-flux DSP fallback
(no downbeats). The tracker is `musmove.beat.tracking.BeatTracker`; downbeats come from
`BarTracker` on the downbeat activation at each observed beat. Every beat's time is moved by `calibration`:
the default is fitted on the validation split by `bench/live_tuning.py` (minus the median of the OBSERVED beats -
the performed beats: +0.8 ms with the default models, beat_crnn2 trained on labels at the performed beat).
"""

from collections import deque

import numpy as np

from musmove.beat import model as beat_model
from musmove.beat.tracking import BarTracker, BeatTracker, Estimate
from musmove.models import ModelError
from musmove.nodes import AUDIO_QOS, ConfigurationError, MusmoveNode, spin, validation
from musmove.nodes.validation import Rejected, audio_samples, not_ahead, stamp_ns
from musmove_msgs.msg import AudioFrame, Beat

NS = 10**9

SWITCH_AFTER = 1.0  # [s] of frames in a new format, none in the old, before tracking restarts in it


class BeatTrackerNode(MusmoveNode):
    """Track the beat of the `audio` frames and publish observed and predicted `beats`."""

    def __init__(self) -> None:
        super().__init__('beat_tracker')
        p = self.parameter
        self.lookahead = p('lookahead', 4, 'Frames of evidence after a beat before it is reported.', minimum=1)
        self.count = p('predicted_beats', 4, 'Upcoming beats published as predictions.', minimum=0)
        self.period = round(NS * p('prediction_period', 0.1, 'Longest time between predictions [s].', above=0.0))
        self.min_bpm = p('min_bpm', 55.0, 'Slowest tempo tracked [BPM].', low=10.0, high=400.0)
        self.max_bpm = p('max_bpm', 215.0, 'Fastest tempo tracked [BPM].', low=10.0, high=400.0)
        if self.min_bpm >= self.max_bpm:
            raise ConfigurationError(f'min_bpm ({self.min_bpm}) must be below max_bpm ({self.max_bpm})')
        self.max_lead = p('max_stamp_lead', 1.0, 'Frames stamped further ahead of this clock are dropped [s].', above=0)
        self.calibration = round(NS * p('calibration', -0.0008, 'Added to every beat time [s].', low=-0.1, high=0.1))
        self.min_confidence = p(
            'min_confidence', 0.3, 'Beats are reported only above this confidence.', low=0.0, high=1.0
        )
        self.model = p(
            'model',
            beat_model.SHIPPED,
            'ONNX beat model (path or name in share/musmove/models; comma-separated: their mean); empty or none: DSP',
        )
        try:  # a missing, corrupt or mismatched model stops the node here, with the reason
            self.onnx = beat_model.open_model(self.model) if self.model not in ('', 'none') else None
        except ModelError as error:
            raise ConfigurationError(f'model: {error}') from error
        partner = p('partner_tempo', False, "Weigh the tempo by the partner's movement beats (partner_beats).")
        self.partner_confidence = p(
            'partner_min_confidence', 0.3, 'Partner beats count from this confidence on.', low=0.0, high=1.0
        )
        timeout = p('partner_timeout', 2.0, 'Partner beats older than this count for nothing [s].', above=0.0)
        self.partner_timeout = round(NS * timeout)
        self.partner: tuple[float, int] | None = None  # tempo and arrival (this node's clock) of the newest
        self.publisher = self.create_publisher(Beat, 'beats', 20)
        self.create_subscription(AudioFrame, 'audio', self.on_audio, AUDIO_QOS)
        if partner:
            self.create_subscription(Beat, 'partner_beats', self.on_partner, 50)
        self.tracker: BeatTracker | None = None
        self.format: tuple[int, int] | None = None  # (sample rate, frame size) the tracker runs at
        self.other_format: tuple[tuple[int, int], int] | None = None  # another format and its frames in a row
        self.last_index = self.last_stamp = None
        self.last_prediction = 0
        self.observed_count = 0

    def start(self, frame: AudioFrame, hop: int) -> None:
        self.rate, self.hop = frame.sample_rate, hop
        self.last_index = self.last_stamp = None
        fps = self.rate / hop
        self.tracker = BeatTracker(
            fps, self.min_bpm, self.max_bpm, lookahead=self.lookahead, min_confidence=self.min_confidence
        )
        self.activation: beat_model.BeatActivation = beat_model.OnsetActivation(self.rate, hop)
        if self.onnx is not None:
            try:
                self.onnx.check(self.rate, hop)
                self.onnx.reset()
                self.activation = self.onnx
            except ModelError as error:
                self.warn_limited('model-format', f'{error}; using the DSP onset fallback instead', period=10.0)
        self.bars = BarTracker()
        self.downbeats: deque[float] = deque(maxlen=self.lookahead + 2)  # recent frames' downbeat activations

    def adopt_format(self, frame: AudioFrame, hop: int) -> None:
        """Start tracking at a frame's format: the first one, or one that has replaced the old for `SWITCH_AFTER` s."""
        new = (frame.sample_rate, hop)
        if self.tracker is not None:
            count = self.other_format[1] + 1 if self.other_format and self.other_format[0] == new else 1
            self.other_format = (new, count)
            if count * hop < SWITCH_AFTER * frame.sample_rate:
                raise Rejected('format', f'audio: {hop} samples at {frame.sample_rate} Hz, tracking {self.format}')
            self.warn_limited('audio:format', f'audio: now {hop} samples at {frame.sample_rate} Hz; tracking restarts')
        self.format, self.other_format = new, None
        self.start(frame, hop)

    def on_partner(self, message: Beat) -> None:
        try:
            validation.beat(message)
        except Rejected as error:
            self.reject('partner_beats', error)
            return
        if message.kind == Beat.PREDICTED and message.confidence >= self.partner_confidence:
            self.partner = (float(message.tempo), self.clock_ns())

    def on_audio(self, frame: AudioFrame) -> None:
        try:
            mono = np.nan_to_num(audio_samples(frame))
            stamp = not_ahead('audio', stamp_ns(frame.header), self.get_clock().now().nanoseconds, self.max_lead)
            if self.tracker is None or (frame.sample_rate, len(mono)) != self.format:
                self.adopt_format(frame, len(mono))
            else:
                self.other_format = None
        except Rejected as error:
            self.reject('audio', error)
            return
        if self.last_stamp is not None and stamp <= self.last_stamp:
            self.warn_limited('audio:stamp', f'audio: stamp of frame {frame.frame_index} not after the last; ignored')
            return
        elif (
            self.last_index is not None and frame.frame_index > self.last_index + 1
        ):  # lost frames: silence keeps the tracker's clock
            lost = frame.frame_index - self.last_index - 1
            self.warn_limited('audio:lost', f'audio: {lost} frame(s) lost before frame {frame.frame_index}')
            for _ in range(min(frame.frame_index - self.last_index - 1, round(2 * self.rate / self.hop))):
                self.tracker.step(0.0)
                self.downbeats.append(0.0)
        self.last_index, self.last_stamp = frame.frame_index, stamp
        beat, downbeat = self.activation(mono)
        self.downbeats.append(downbeat)
        fresh = self.partner is not None and self.clock_ns() - self.partner[1] <= self.partner_timeout
        self.tracker.tempo_evidence(self.partner[0] if fresh else None)
        estimate = self.tracker.step(beat)
        self.publish(estimate, stamp, frame.header.frame_id)

    def bar_position(self, estimate: Estimate) -> int:
        """Position in the bar of the beat observed in `estimate` (the downbeat activation about its frame)."""
        back = estimate.frame - int(estimate.observed)  # frames since the beat
        recent = list(self.downbeats)[::-1]  # recent[k]: k frames ago
        return self.bars.observe(max(recent[max(back - 1, 0) : back + 2], default=0.0))

    def publish(self, estimate: Estimate, stamp: int, frame_id: str) -> None:
        """Beats of the estimate made at the frame stamped `stamp`, frame times relative to it."""
        frame_ns = self.hop * NS / self.rate

        def beat(kind: int, frame: float, std: float, index: int) -> Beat:
            position = self.bars.position(index)
            message = Beat(kind=kind, index=index, tempo=estimate.tempo, phase=estimate.phase)
            message.position_in_bar, message.downbeat = position, position == 1
            message.header.stamp.sec, message.header.stamp.nanosec = divmod(
                stamp + round((frame - estimate.frame) * frame_ns) + self.calibration, NS
            )
            message.header.frame_id = frame_id
            message.estimated_at.sec, message.estimated_at.nanosec = divmod(stamp + round(frame_ns), NS)
            message.time_std = std * frame_ns / NS
            message.confidence = estimate.confidence
            return message

        if estimate.observed is not None:
            self.bar_position(estimate)
            self.publisher.publish(beat(Beat.OBSERVED, estimate.observed, 0.0, self.observed_count))
            self.observed_count += 1
        due = estimate.observed is not None or stamp - self.last_prediction >= self.period
        if self.count and due and estimate.confidence >= self.min_confidence:
            self.last_prediction = stamp
            period = 60 * self.rate / self.hop / estimate.tempo
            unconfirmed = estimate.next_beat - period > self.tracker.last_observed + period / 2  # heard, not reported
            first = self.observed_count + int(unconfirmed)
            last = self.tracker.last_observed
            if self.observed_count and stamp + (last - estimate.frame) * frame_ns > self.clock_ns():
                # known music: the newest observed beat is not heard yet; it leads the prediction, exactly
                self.publisher.publish(beat(Beat.PREDICTED, last, 0.0, self.observed_count - 1))
            for k, (frame, std) in enumerate(self.tracker.predictions(estimate, self.count)):
                self.publisher.publish(beat(Beat.PREDICTED, frame, std, first + k))


def main(args: list[str] | None = None) -> int:
    return spin(BeatTrackerNode, args)
