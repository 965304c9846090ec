"""gesture_phase: the partner's gesture phase from the synchronized frames, causally.

Topics:
    sync_frame (musmove_msgs/SyncFrame): the synchronizer's frames; their joints are named, in order,
        by `joint_names` (as mocap_source publishes them), and must include `musmove.gesture.features.JOINTS`.
    beats (musmove_msgs/Beat): the beat, for the movement's phase relative to it.
    gesture_phase (musmove_msgs/GesturePhase): one per frame with joints, stamped as the frame.

The ONNX model `model` (checked against its card) runs at its own frame rate (the card's `frame_rate`,
30 Hz for the shipped models): the joints are interpolated linearly between frames onto that clock and
turned into `musmove.gesture.features` features; each published message carries the newest estimate. Frames
whose joints are STALE (NaN) publish nothing and restart the model, so that a consumer's watchdog sees
the stream stop; GAP and OUTLIER joints halve the confidence.
"""

import math

import numpy as np

from musmove.gesture.features import JOINTS, PHASES, GestureFeatures
from musmove.models import ModelError, StreamingModel
from musmove.nodes import ConfigurationError, MusmoveNode, spin, validation
from musmove_msgs.msg import Beat, GesturePhase, StreamStatus, SyncFrame

NS = 10**9
DOUBTFUL = (StreamStatus.GAP, StreamStatus.OUTLIER)
MAX_GAP = round(0.5 * NS)  # a longer gap between frames restarts the model instead of stepping through it


class GesturePhaseNode(MusmoveNode):
    """Classify the partner's gesture phase on every synchronized frame."""

    def __init__(self) -> None:
        super().__init__('gesture_phase')
        p = self.parameter
        self.model_name = p(
            'model', 'gesture_rnn.onnx', 'ONNX gesture-phase model (path, or a name in share/musmove/models).'
        )
        names = p('joint_names', list(JOINTS), 'Names of the SyncFrame joints, in their order.')
        self.max_lead = p('max_stamp_lead', 1.0, 'Frames stamped further ahead of this clock are dropped [s].', above=0)
        self.mocap_stream = p('mocap_stream', 'mocap', 'Name of the motion-capture stream in SyncFrame.streams.')
        try:
            self.model = StreamingModel(self.model_name, task='gesture')
        except ModelError as error:
            raise ConfigurationError(f'model: {error}') from error
        missing = [name for name in JOINTS if name not in names]
        if missing:
            raise ConfigurationError(f'joint_names: {missing} missing; the model needs {list(JOINTS)}')
        if self.model.card['features'].get('kind') != 'gesture_kinematics':
            raise ConfigurationError(f'model: {self.model_name} does not take gesture_kinematics features')
        self.index = [names.index(name) for name in JOINTS]
        self.columns = np.array(self.model.card['features']['columns'])
        self.period = round(NS / float(self.model.card['frame_rate']))
        self.features = GestureFeatures(float(self.model.card['frame_rate']))
        self.previous: tuple[int, np.ndarray] | None = None  # the last frame: stamp, positions
        self.tick = 0  # the model's clock: stamp of its next frame
        self.probabilities = np.full(len(PHASES), 1.0 / len(PHASES))
        self.beats: dict[int, tuple[int, float]] = {}  # beat index -> (stamp, tempo), newest estimates
        self.publisher = self.create_publisher(GesturePhase, 'gesture_phase', 20)
        self.create_subscription(SyncFrame, 'sync_frame', self.on_frame, 20)
        self.create_subscription(Beat, 'beats', self.on_beat, 50)
        rate = self.model.card['frame_rate']
        self.get_logger().info(f'{self.model_name} ({self.model.card["architecture"]}) at {rate:g} Hz on sync_frame')

    def on_beat(self, beat: Beat) -> None:
        try:
            validation.beat(beat)
        except validation.Rejected as error:
            self.reject('beats', error)
            return
        self.beats[beat.index] = (validation.stamp_ns(beat.header), beat.tempo)
        if len(self.beats) > 64:
            del self.beats[min(self.beats)]

    def beat_phase(self, stamp: int) -> float:
        """Cycles since the latest beat at or before `stamp` (NaN without one in the last two beats)."""
        past = [(t, tempo) for t, tempo in self.beats.values() if t <= stamp and tempo > 0]
        if not past:
            return math.nan
        t, tempo = max(past)
        cycles = (stamp - t) / NS * tempo / 60
        return cycles % 1.0 if cycles < 2 else math.nan

    def on_frame(self, frame: SyncFrame) -> None:
        try:
            stamp, positions = validation.sync_joints(frame, self.index, self.clock_ns(), self.max_lead)
        except validation.Rejected as error:
            self.reject('sync_frame', error)
            return
        if positions is None:  # no motion capture (yet), or STALE
            self.restart()
            return
        if self.previous is not None and stamp - self.previous[0] > MAX_GAP:  # a gap: start afresh, no catching up
            self.restart()
        if self.previous is None:
            self.tick = stamp
        elif stamp <= self.previous[0]:
            self.warn_limited('stamp', 'sync_frame: stamp not after the last frame; ignored')
            return
        self.run_model(stamp, positions)
        if not np.isfinite(self.probabilities).all():  # never publish what the model could not make sense of
            self.reject('sync_frame', validation.Rejected('model', 'sync_frame: the model gave no finite phase'))
            self.restart()
            return
        states = {s.name: s.state for s in frame.streams}
        doubtful = states.get(self.mocap_stream) in DOUBTFUL
        message = GesturePhase(phase=int(self.probabilities.argmax()), beat_phase=self.beat_phase(stamp))
        message.header = frame.header
        message.probabilities = self.probabilities.astype(np.float32).tolist()
        message.confidence = float(self.probabilities.max()) * (0.5 if doubtful else 1.0)
        self.publisher.publish(message)

    def run_model(self, stamp: int, positions: np.ndarray) -> None:
        """Step the model on every tick of its clock up to `stamp`, joints interpolated from the last frame."""
        last_stamp, last = self.previous if self.previous is not None else (stamp, positions)
        while self.tick <= stamp:
            weight = (self.tick - last_stamp) / (stamp - last_stamp) if stamp > last_stamp else 1.0
            features = self.features(last + weight * (positions - last))
            self.probabilities = self.model(features[self.columns])
            self.tick += self.period
        self.previous = (stamp, positions)

    def restart(self) -> None:
        if self.previous is not None:
            self.warn_limited('stale', 'sync_frame: motion capture stale; no gesture phase until it is back')
        self.previous = None
        self.features.reset()
        self.model.reset()


def main(args: list[str] | None = None) -> int:
    return spin(GesturePhaseNode, args)
