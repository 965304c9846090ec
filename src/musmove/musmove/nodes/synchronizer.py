"""synchronizer: audio, IMU and motion capture resampled onto the audio frame clock, filtered and checked.

Topics:
    audio (musmove_msgs/AudioFrame, reliable): the reference clock.
    imu_topics (sensor_msgs/Imu): one stream each; a driver's topic by remap or name.
    mocap_topics: one geometry_msgs/PoseArray (mocap_type PoseArray), or one geometry_msgs/PoseStamped
        per rigid body (mocap_type PoseStamped: VRPN, OptiTrack, Vicon drivers). IMU and motion capture
        are taken best effort with a deep queue (`musmove.nodes.SENSOR_QOS`), so drivers match too.
    sync_frame (musmove_msgs/SyncFrame): published for every audio frame.
    diagnostics (diagnostic_msgs/DiagnosticArray): per stream rate, latency, drops, estimated offset.

Every bad input (non-finite values, out-of-order or duplicate stamps, clock jumps, a sample-rate
change, empty frames, dropouts) is logged once per cause every few seconds, counted in the
diagnostics, and the node goes on with what it has.
"""

from collections import deque
from statistics import median

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Pose, PoseArray, PoseStamped
from scipy.signal import resample_poly
from sensor_msgs.msg import Imu

from musmove.beat.features import AUDIO_FEATURES, AudioFeatures
from musmove.nodes import AUDIO_QOS, SENSOR_QOS, ConfigurationError, MusmoveNode, spin
from musmove.nodes.validation import Rejected, audio_samples, not_ahead, stamp_ns
from musmove.sync.filters import RunningNormalizer
from musmove.sync.streams import GAP, IMU, OK, Settings, Stream, pose_layout
from musmove.sync.synchronizer import Frame, Synchronizer
from musmove_msgs.msg import AudioFrame, StreamStatus, SyncFrame

NS = 10**9
MOCAP_TYPES = ('PoseArray', 'PoseStamped', 'none')


def imu_values(message: Imu) -> np.ndarray:
    a, w, q = message.linear_acceleration, message.angular_velocity, message.orientation
    values = np.array([a.x, a.y, a.z, w.x, w.y, w.z, q.x, q.y, q.z, q.w])
    if message.orientation_covariance[0] == -1:  # orientation unknown (REP 145): identity
        values[6:] = (0.0, 0.0, 0.0, 1.0)
    return values


def pose_values(poses: list[Pose]) -> np.ndarray:
    rows = [(p.position, p.orientation) for p in poses]
    return np.array([(t.x, t.y, t.z, q.x, q.y, q.z, q.w) for t, q in rows]).ravel()


def to_poses(values: np.ndarray) -> list[Pose]:
    poses = []
    for joint in values.reshape(-1, 7):
        pose = Pose()
        pose.position.x, pose.position.y, pose.position.z = (float(v) for v in joint[:3])
        o = pose.orientation
        o.x, o.y, o.z, o.w = (float(v) for v in joint[3:])
        poses.append(pose)
    return poses


class SynchronizerNode(MusmoveNode):
    """Publish one SyncFrame per audio frame with every stream resampled to its time."""

    def __init__(self) -> None:
        super().__init__('synchronizer')
        p = self.parameter
        imu_topics = [t for t in p('imu_topics', ['imu'], 'sensor_msgs/Imu topics, one stream each.') if t]
        imu_latencies = p('imu_latencies', [0.0], 'Latency of each IMU topic [s]; one value: all.')
        mocap_type = p('mocap_type', 'PoseArray', 'Message type of mocap_topics: PoseArray, PoseStamped or none.')
        mocap_topics = [t for t in p('mocap_topics', ['mocap'], 'Motion-capture topics (see mocap_type).') if t]
        self.audio_latency = round(NS * p('audio_latency', 0.0, 'Latency of the audio frames [s].'))
        mocap_latency = p('mocap_latency', 0.0, 'Latency of the motion capture [s].')
        self.max_lead = p(
            'max_stamp_lead', 1.0, 'Samples stamped further ahead of this clock are dropped [s].', above=0
        )
        self.clock_jump = round(NS * p('clock_jump', 1.0, 'A stamp this far back restarts a stream [s].', above=0.0))
        base = Settings(
            max_gap=round(NS * p('max_gap', 0.1, 'Longer spans between samples are marked GAP [s].', above=0.0)),
            stale_after=round(NS * p('stale_after', 0.5, 'A stream silent this long is STALE [s].', above=0.0)),
            clock_jump=self.clock_jump,
            history=round(NS * p('offset_window', 20.0, 'Span of data used to estimate offsets [s].', above=0.0)),
        )
        imu_cutoff = p('imu_cutoff', 20.0, 'IMU low-pass cutoff [Hz]; 0: none.', low=0.0)
        mocap_cutoff = p('mocap_cutoff', 10.0, 'Motion-capture position low-pass cutoff [Hz]; 0: none.', low=0.0)
        accel_limit = p('accel_limit', 160.0, 'Largest plausible |acceleration| [m/s^2]; above: outlier.', above=0.0)
        gyro_limit = p('gyro_limit', 35.0, 'Largest plausible |angular velocity| [rad/s]; above: outlier.', above=0.0)
        joint_speed = p('max_joint_speed', 20.0, 'Largest plausible joint speed [m/s]; faster: outlier.', above=0.0)
        self.max_delay = round(NS * p('max_delay', 0.1, 'Longest wait of a frame for late streams [s].', low=0.0))
        self.feature_names = p('audio_features', list(AUDIO_FEATURES), 'Audio features in each SyncFrame.')
        self.normalize = p('normalize_features', False, 'Causal z-score of the audio features.')
        self.time_constant = p('normalize_time_constant', 10.0, 'Time constant of that normalisation [s].', above=0.0)
        self.offset_reference = p('offset_reference', 'audio', 'Stream the offsets are estimated against.')
        self.max_offset = p('max_offset', 0.5, 'Largest offset the estimate looks for [s].', above=0.0)
        diagnostics_period = p('diagnostics_period', 1.0, 'Period of the diagnostics [s].', above=0.0)
        offset_period = p('offset_period', 5.0, 'Period of the offset estimate [s]; 0: never.', low=0.0)

        unknown = sorted(set(self.feature_names) - set(AUDIO_FEATURES))
        if unknown:
            raise ConfigurationError(f'audio_features: unknown {unknown}; allowed: {", ".join(AUDIO_FEATURES)}')
        self.feature_index = [AUDIO_FEATURES.index(name) for name in self.feature_names]
        if mocap_type not in MOCAP_TYPES:
            raise ConfigurationError(f'mocap_type: {mocap_type!r} is not one of {", ".join(MOCAP_TYPES)}')
        if mocap_type == 'PoseArray' and len(mocap_topics) > 1:
            raise ConfigurationError(f'mocap_topics: one PoseArray topic expected, got {mocap_topics}')
        if len(imu_latencies) == 1:
            imu_latencies = imu_latencies * len(imu_topics)
        if len(imu_latencies) != len(imu_topics):
            raise ConfigurationError(
                f'imu_latencies has {len(imu_latencies)} values for {len(imu_topics)} imu_topics; give one per topic'
            )

        def settings(latency: float, cutoff: float, **limits: float) -> Settings:
            return Settings(**{**base.__dict__, 'latency': round(NS * latency), 'cutoff': cutoff, **limits})

        imu_settings = [settings(lat, imu_cutoff, limit=max(accel_limit, gyro_limit)) for lat in imu_latencies]
        self.pose_settings = settings(mocap_latency, mocap_cutoff, max_speed=joint_speed)
        self.imu_streams = [Stream(topic, IMU, s) for topic, s in zip(imu_topics, imu_settings, strict=True)]
        pose_topics = mocap_topics if mocap_type == 'PoseStamped' else []
        self.pose_streams = [Stream(topic, pose_layout(1), self.pose_settings) for topic in pose_topics]
        self.sync = Synchronizer([*self.imu_streams, *self.pose_streams], self.max_delay, base.stale_after)
        self.imu_templates: dict[str, Imu] = {}
        self.mocap_frame_id = ''
        self.arrival: dict[str, deque[int]] = {}
        self.last_accepted: dict[str, int] = {}  # node clock [ns] of each stream's newest accepted sample
        self.output_delays: deque[int] = deque(maxlen=512)
        self.published = 0
        self.audio_rate = self.hop = self.last_index = self.last_audio = None
        self.lost_frames = 0
        self.audio_counts: dict[str, int] = {}  # bad frames by cause, for the diagnostics
        self.features: AudioFeatures | None = None
        self.normalizer: RunningNormalizer | None = None
        self.offsets: dict[str, tuple[float, float]] = {}

        sensor, subscribe = SENSOR_QOS, self.create_draining_subscription  # no stream lags the others under load
        subscribe(AudioFrame, 'audio', self.on_audio, AUDIO_QOS)
        for stream in self.imu_streams:
            subscribe(Imu, stream.name, lambda m, s=stream: self.on_imu(s, m), sensor)
        for stream in self.pose_streams:
            subscribe(PoseStamped, stream.name, lambda m, s=stream: self.on_pose(s, m), sensor)
        self.mocap_topic = mocap_topics[0] if mocap_type == 'PoseArray' and mocap_topics else ''
        if self.mocap_topic:
            subscribe(PoseArray, self.mocap_topic, self.on_pose_array, sensor)
        self.publisher = self.create_publisher(SyncFrame, 'sync_frame', 20)
        self.diagnostics = self.create_publisher(DiagnosticArray, 'diagnostics', 10)
        self.create_timer(0.01, self.publish_ready)
        self.create_timer(diagnostics_period, self.publish_diagnostics)
        if offset_period > 0:
            self.create_timer(offset_period, self.estimate_offsets)
        # The first log call takes ~60 ms (rclpy's logging set-up): pay it now, not on the first bad input.
        self.get_logger().info(f'ready: audio, IMU {imu_topics}, mocap {mocap_type} {mocap_topics}')

    # --- inputs -------------------------------------------------------------------------
    def now(self) -> int:
        return self.get_clock().now().nanoseconds

    def take(self, stream: Stream, stamp: int, values: np.ndarray) -> None:
        now, accepted = self.now(), stream.counters.accepted
        try:
            not_ahead(stream.name, stamp, now, self.max_lead)
        except Rejected as error:
            stream.counters.rejected['future stamp'] = stream.counters.rejected.get('future stamp', 0) + 1
            self.reject(stream.name, error)
            return
        self.arrival.setdefault(stream.name, deque(maxlen=256)).append(now - stamp)
        if problem := stream.add(stamp, values):
            self.warn_limited(f'{stream.name}:{problem.split(" ")[0]}', f'{stream.name}: {problem}')
        if stream.counters.accepted > accepted:
            self.last_accepted[stream.name] = now

    def on_imu(self, stream: Stream, message: Imu) -> None:
        self.imu_templates[stream.name] = message
        self.take(stream, stamp_ns(message.header), imu_values(message))

    def on_pose(self, stream: Stream, message: PoseStamped) -> None:
        self.mocap_frame_id = message.header.frame_id
        self.take(stream, stamp_ns(message.header), pose_values([message.pose]))

    def on_pose_array(self, message: PoseArray) -> None:
        if not message.poses:
            self.warn_limited('mocap:empty', f'{self.mocap_topic}: empty PoseArray ignored')
            if stream := self.sync.streams.get(self.mocap_topic):
                stream.counters.rejected['empty frame'] = stream.counters.rejected.get('empty frame', 0) + 1
            return
        stream = self.sync.streams.get(self.mocap_topic)
        if stream is None:
            stream = Stream(self.mocap_topic, pose_layout(len(message.poses)), self.pose_settings)
            self.sync.streams[stream.name] = stream
        elif stream.layout.size != 7 * len(message.poses):
            joints = stream.layout.size // 7
            self.warn_limited('mocap:joints', f'{stream.name}: {len(message.poses)} poses instead of {joints}; ignored')
            return
        self.mocap_frame_id = message.header.frame_id
        self.take(stream, stamp_ns(message.header), pose_values(message.poses))

    def on_audio(self, frame: AudioFrame) -> None:
        try:
            mono = audio_samples(frame)
            not_ahead('audio', stamp_ns(frame.header), self.now(), self.max_lead)
        except Rejected as error:  # counted in lost_frames by the next frame's index
            key = f'rejected_{error.cause}'
            self.audio_counts[key] = self.audio_counts.get(key, 0) + 1
            self.reject('audio', error)
            return
        if not np.all(np.isfinite(mono)):
            self.audio_counts['non-finite_frames'] = self.audio_counts.get('non-finite_frames', 0) + 1
            self.warn_limited('audio:nan', f'audio: non-finite samples in frame {frame.frame_index} set to 0')
            mono = np.nan_to_num(mono, nan=0.0, posinf=0.0, neginf=0.0)
        if self.audio_rate is None:
            self.audio_rate, self.hop = frame.sample_rate, len(mono)
            self.features = AudioFeatures(self.hop)
            if self.normalize:
                self.normalizer = RunningNormalizer(self.time_constant * self.audio_rate / self.hop)
        if frame.sample_rate != self.audio_rate:
            self.warn_limited(
                'audio:rate', f'audio: frame at {frame.sample_rate} Hz instead of {self.audio_rate} Hz; resampled'
            )
            mono = resample_poly(mono, self.audio_rate, frame.sample_rate).astype(np.float32)
        if len(mono) != self.hop:
            self.warn_limited('audio:hop', f'audio: frame of {len(mono)} samples instead of {self.hop}; resized')
            mono = np.resize(mono, self.hop) if len(mono) > self.hop else np.pad(mono, (0, self.hop - len(mono)))
        stamp = stamp_ns(frame.header)
        state = OK
        if self.last_audio is not None and stamp <= self.last_audio:
            if self.last_audio - stamp <= self.clock_jump:
                cause = 'duplicate' if stamp == self.last_audio else 'out-of-order'
                key = f'rejected_{cause}_stamp'
                self.audio_counts[key] = self.audio_counts.get(key, 0) + 1
                self.warn_limited(f'audio:{cause}', f'audio: {cause} stamp in frame {frame.frame_index}; ignored')
                return
            self.warn_limited('audio:jump', f'audio: clock jumped back {(self.last_audio - stamp) / NS:.3f} s')
            self.features.reset()
        elif self.last_index is not None and frame.frame_index > self.last_index + 1:
            self.lost_frames += frame.frame_index - self.last_index - 1
            self.features.reset()
            state = GAP
        self.last_audio, self.last_index = stamp, frame.frame_index
        self.last_accepted['audio'] = self.now()
        self.arrival.setdefault('audio', deque(maxlen=256)).append(self.last_accepted['audio'] - stamp)
        features = self.features(mono)
        selected = features[self.feature_index]
        if self.normalizer is not None:
            selected = self.normalizer(selected)
        self.sync.add_frame(stamp - self.audio_latency, selected, state, onset=float(features[1]))
        self.publish_ready()

    # --- outputs ------------------------------------------------------------------------
    def publish_ready(self) -> None:
        self.take_queued()  # every sample already delivered counts before a frame's wait runs out
        now = self.now()
        for frame in self.sync.ready(now):
            self.publisher.publish(self.message(frame))
            self.output_delays.append(self.now() - frame.stamp)
            self.published += 1

    def message(self, frame: Frame) -> SyncFrame:
        out = SyncFrame()
        out.header.stamp.sec, out.header.stamp.nanosec = divmod(frame.stamp, NS)
        out.header.frame_id = self.mocap_frame_id
        out.audio_features = frame.features.tolist()
        out.streams.append(StreamStatus(name='audio', state=frame.audio_state))
        imu_names = [stream.name for stream in self.imu_streams]
        out.imu = [self.imu_message(name, frame) for name in imu_names]
        for name in (n for n in self.sync.streams if n not in imu_names):  # poses, in order
            out.joints.extend(to_poses(frame.values[name]))
        for name, (state, age) in frame.states.items():
            status = StreamStatus(name=name, state=state)
            status.age.sec, status.age.nanosec = divmod(age, NS)
            out.streams.append(status)
        if self.mocap_topic and self.mocap_topic not in frame.states:  # no skeleton yet: joints unknown
            out.streams.append(StreamStatus(name=self.mocap_topic, state=StreamStatus.STALE))
        return out

    def imu_message(self, name: str, frame: Frame) -> Imu:
        message = Imu()
        message.header.stamp.sec, message.header.stamp.nanosec = divmod(frame.stamp, NS)
        if template := self.imu_templates.get(name):
            message.header.frame_id = template.header.frame_id
            message.orientation_covariance = template.orientation_covariance
            message.angular_velocity_covariance = template.angular_velocity_covariance
            message.linear_acceleration_covariance = template.linear_acceleration_covariance
        v = frame.values[name].astype(float)
        a, w, q = message.linear_acceleration, message.angular_velocity, message.orientation
        a.x, a.y, a.z, w.x, w.y, w.z, q.x, q.y, q.z, q.w = v
        return message

    def estimate_offsets(self) -> None:
        self.offsets = self.sync.estimate_offsets(self.offset_reference, self.max_offset)

    def publish_diagnostics(self) -> None:
        now = self.now()
        array = DiagnosticArray()
        array.header.stamp = self.get_clock().now().to_msg()
        # stale by the node's clock since the last accepted sample: stamps may be off it (a source's clock jumped)
        silent = {name: now - t for name, t in self.last_accepted.items() if now - t > self.sync.stale_after}
        stale = {name for name in self.sync.streams if name in silent or name not in self.last_accepted}
        audio_stale = 'audio' in silent or 'audio' not in self.last_accepted
        array.status.append(
            self.status(
                'audio',
                audio_stale,
                {'lost_frames': self.lost_frames, 'frames_published': self.published, **self.audio_counts},
                {'output_delay_ms': self.output_delays},
            )
        )
        for name, silence in silent.items():  # heard from, then silent
            self.warn_limited(f'{name}:stale', f'{name}: no sample for {silence / NS:.1f} s; marked STALE')
        for name, stream in self.sync.streams.items():
            values = {'rate_hz': f'{stream.rate():.1f}', 'accepted': stream.counters.accepted}
            values.update({f'rejected_{cause.replace(" ", "_")}': n for cause, n in stream.counters.rejected.items()})
            values['latency_offset_ms'] = f'{stream.settings.latency / 1e6:.1f}'
            if name in self.offsets:
                lag, correlation = self.offsets[name]
                values[f'estimated_offset_ms_vs_{self.offset_reference}'] = f'{1000 * lag:.1f}'
                values['offset_correlation'] = f'{correlation:.3f}'
            array.status.append(self.status(name, name in stale, values, {}))
        self.diagnostics.publish(array)

    def status(self, name: str, stale: bool, values: dict, delays: dict) -> DiagnosticStatus:
        status = DiagnosticStatus(name=f'{self.get_name()}: {name}', hardware_id=name)
        rejected = sum(int(v) for k, v in values.items() if k.startswith('rejected_') or k == 'lost_frames')
        if stale:
            status.level, status.message = DiagnosticStatus.ERROR, 'stale: no data'
        elif rejected:
            status.level, status.message = DiagnosticStatus.WARN, f'{rejected} samples rejected or lost'
        else:
            status.level, status.message = DiagnosticStatus.OK, 'ok'
        arrival = self.arrival.get(name)
        if arrival:
            values['arrival_latency_ms'] = f'{median(arrival) / 1e6:.2f}'
        for key, samples in delays.items():
            if samples:
                values[key] = f'{median(samples) / 1e6:.2f}'
        status.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
        return status


def main(args: list[str] | None = None) -> int:
    return spin(SynchronizerNode, args)
