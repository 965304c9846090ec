"""rosbag2 bags over real DDS: `musmove record`, `play` and `bag`, read back by rosbags and by the mcap library."""

import signal
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml
from geometry_msgs.msg import PoseArray
from mcap.exceptions import EndOfFile
from mcap.reader import NonSeekingReader, make_reader
from rclpy.duration import Duration
from rclpy.qos import QoSProfile, ReliabilityPolicy
from ros_helpers import NodeProcess, stop_all, wait_for
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Imu
from test_recordings import uci

from musmove.bag import storage_files
from musmove.bag.types import definition, deserialize, typestore
from musmove.nodes import AUDIO_QOS
from musmove.sources.audio import load_audio
from musmove.sources.recordings import read_imu, read_mocap
from musmove_msgs.msg import AudioFrame

AUDIO = 'musmove_msgs/msg/AudioFrame'
HOP, RATE = 512, 22050
FRAMES_BEFORE_STOP = 130  # 3 s of audio: three flushes of the recorders
BEST_EFFORT = QoSProfile(depth=1000, reliability=ReliabilityPolicy.BEST_EFFORT)  # as sensor data and /clock
GAPPY_INDICES = [*range(10), *range(12, 20)]  # frames 10 and 11 lost before the recorder
FLUSH_FRAMES = 2 * RATE // HOP  # what a killed recorder may lose: its last flush period (1 s), with margin


class Command:
    """`musmove ARGS` as a child process in the test's DDS domain, its output kept in files."""

    def __init__(self, log_dir: Path, name: str, *args: str) -> None:
        self.stdout_path, self.stderr_path = log_dir / f'{name}.stdout', log_dir / f'{name}.stderr'
        with self.stdout_path.open('w') as out, self.stderr_path.open('w') as err:
            self.popen = subprocess.Popen(['musmove', *args], stdout=out, stderr=err)

    @property
    def output(self) -> str:
        return self.stdout_path.read_text() + self.stderr_path.read_text()

    def stop(self, sig: int = signal.SIGINT, timeout: float = 20.0) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
        return self.popen.wait(timeout=timeout)


@pytest.fixture
def command(tmp_path):
    """Start `musmove ARGS` processes; any still running after the test is killed."""
    started: list[Command] = []

    def start(*args: str) -> Command:
        started.append(Command(tmp_path, f'{args[0]}{len(started)}', *args))
        return started[-1]

    yield start
    for process in started:
        process.stop(signal.SIGKILL)


def musmove(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(['musmove', *args], capture_output=True, text=True, timeout=60)


@dataclass
class Recording:
    bags: dict[str, Path]
    outputs: dict[str, str]
    returncodes: dict[str, int]
    frames_seen: int  # by a subscriber in the test when the recorders were stopped
    digest: str  # the type hash DDS announced for the audio topic


@pytest.fixture(scope='module')
def recording(tmp_path_factory, ros_node, groove_wav) -> Recording:
    """One real audio stream recorded three times at once: mcap of all topics split by size (stopped with
    SIGINT), sqlite3 of the audio split by duration (SIGTERM), and the audio in mcap and in sqlite3 by recorders
    killed with SIGKILL."""
    root = tmp_path_factory.mktemp('recordings')
    bags = {name: root / name for name in ('mcap', 'sqlite3', 'killed', 'killed_sqlite3')}
    frames: list[AudioFrame] = []
    subscription = ros_node.create_subscription(AudioFrame, 'audio', frames.append, AUDIO_QOS)
    # Ours, and any a test before left in this process (the graph may still list those of killed processes).
    listeners = sum(
        info.node_name == ros_node.get_name() for info in ros_node.get_subscriptions_info_by_topic('/audio')
    )
    recorders = {
        'mcap': Command(root, 'mcap', 'record', '-o', str(bags['mcap']), '--max-bag-size', '60000'),
        'sqlite3': Command(
            root, 'sqlite3', 'record', '-o', str(bags['sqlite3']), '--storage', 'sqlite3', '--topics', 'audio',
            '--max-bag-duration', '1',
        ),
        'killed': Command(root, 'killed', 'record', '-o', str(bags['killed']), '--topics', '/audio'),
        'killed_sqlite3': Command(
            root, 'killed_sqlite3', 'record', '-o', str(bags['killed_sqlite3']), '--topics', 'audio',
            '--storage', 'sqlite3',
        ),
    }  # fmt: skip
    source = NodeProcess(
        'audio_source', ('-p', f'file:={groove_wav}', '-p', f'wait_for_subscribers:={listeners + 4}'), root
    )
    gappy = ros_node.create_publisher(AudioFrame, 'audio_with_gaps', 100)
    try:
        assert wait_for(lambda: gappy.get_subscription_count() >= 1, ros_node)  # the recorder of every topic
        for index in GAPPY_INDICES:
            gappy.publish(AudioFrame(frame_index=index))
        assert wait_for(lambda: len(frames) >= FRAMES_BEFORE_STOP, ros_node, timeout=60), source.stderr
        assert gappy.wait_for_all_acked(Duration(seconds=10))
        digest = str(ros_node.get_publishers_info_by_topic('/audio')[0].topic_type_hash)
        frames_seen = len(frames)
        for name in ('killed', 'killed_sqlite3'):
            recorders[name].popen.kill()
        returncodes = {
            'mcap': recorders['mcap'].stop(signal.SIGINT),
            'sqlite3': recorders['sqlite3'].stop(signal.SIGTERM),
        }
        returncodes |= {name: recorders[name].popen.wait() for name in ('killed', 'killed_sqlite3')}
    finally:
        ros_node.destroy_subscription(subscription)
        ros_node.destroy_publisher(gappy)
        source.stop()
        for recorder in recorders.values():
            recorder.stop(signal.SIGKILL)
    outputs = {name: recorder.output for name, recorder in recorders.items()}
    return Recording(bags, outputs, returncodes, frames_seen, digest)


def audio_frames(bag: Path) -> list:
    """The AudioFrame messages of a bag, read with rosbags, in recorded order."""
    with Reader(bag) as reader:
        return [deserialize(data, AUDIO) for c, _, data in reader.messages() if c.topic == '/audio']


def assert_no_frame_lost(frames: list, frames_seen: int, margin: int) -> None:
    indices = [int(frame.frame_index) for frame in frames]
    assert indices == list(range(len(indices))), 'frames missing or out of order'
    assert len(indices) >= frames_seen - margin, (len(indices), frames_seen)


def test_mcap_bag_of_all_topics_is_read_by_rosbags_and_by_mcap(recording, groove_wav):
    bag = recording.bags['mcap']
    assert recording.returncodes['mcap'] == 0, recording.outputs['mcap']
    summary = {line.split()[0]: line.split()[1:5] for line in recording.outputs['mcap'].splitlines()}
    received, written, lost, missing = map(int, summary['/audio'])
    assert (received, lost, missing) == (written, 0, 0), recording.outputs['mcap']
    assert list(map(int, summary['/audio_with_gaps'])) == [18, 18, 0, 2]
    assert '; 2 DROPPED' in recording.outputs['mcap']  # those two, and nothing else

    frames = audio_frames(bag)
    assert_no_frame_lost(frames, recording.frames_seen, margin=5)
    assert len(frames) == written
    samples = load_audio(groove_wav, RATE)[:HOP, 0]
    np.testing.assert_array_equal(frames[0].samples, samples)  # the CDR bytes went through untouched

    files = storage_files(bag)
    assert len(files) >= 3 and [f.name for f in files] == [f'mcap_{i}.mcap' for i in range(len(files))]
    assert sorted(p.name for p in bag.iterdir()) == sorted([*(f.name for f in files), 'metadata.yaml'])
    with Reader(bag) as reader:
        topics = reader.topics
        assert topics['/audio'].msgtype == AUDIO and topics['/audio'].msgcount == written
        assert '/rosout' in topics  # every topic, not only the audio
        assert next(c for c in reader.connections if c.topic == '/audio').digest == recording.digest

    metadata = yaml.safe_load((bag / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    counted: Counter = Counter()
    for file, entry in zip(files, metadata['files'], strict=True):
        with file.open('rb') as stream:
            messages = [(schema.name, channel.topic) for schema, channel, _ in make_reader(stream).iter_messages()]
        assert len(messages) == entry['message_count'], file.name
        counted.update(messages)
    assert counted[(AUDIO, '/audio')] == written
    assert sum(counted.values()) == metadata['message_count']

    info = musmove('bag', 'info', str(bag))
    assert info.returncode == 0, info.stderr
    assert f'Topic: /audio | Type: {AUDIO} | Count: {written} | Serialization Format: cdr' in info.stdout
    assert 'Storage id:        mcap' in info.stdout


def test_sqlite3_bag_of_the_selected_topic_split_by_duration(recording):
    bag = recording.bags['sqlite3']
    assert recording.returncodes['sqlite3'] == 0, recording.outputs['sqlite3']
    assert 'no drops' in recording.outputs['sqlite3'], recording.outputs['sqlite3']
    files = storage_files(bag)
    assert len(files) >= 3 and all(f.suffix == '.db3' for f in files)
    with Reader(bag) as reader:
        assert set(reader.topics) == {'/audio'}
        spans = [entry['duration']['nanoseconds'] for entry in yaml.safe_load((bag / 'metadata.yaml').read_text())[
            'rosbag2_bagfile_information']['files']]  # fmt: skip
    assert max(spans) < 1.1e9, spans
    assert_no_frame_lost(audio_frames(bag), recording.frames_seen, margin=5)


def test_mcap_bag_cut_short_by_sigkill_is_readable_up_to_the_last_flush(recording):
    bag = recording.bags['killed']
    assert recording.returncodes['killed'] == -signal.SIGKILL
    unfinished = bag / 'killed_0' / 'killed_0.mcap'
    assert unfinished.is_file() and not (bag / 'metadata.yaml').exists()

    with unfinished.open('rb') as stream:  # the mcap library reads it as a stream, up to where it stops
        indices = []
        try:
            for _, _, message in NonSeekingReader(stream).iter_messages(log_time_order=False):
                indices.append(int(deserialize(message.data, AUDIO).frame_index))
        except EndOfFile:
            pass
    assert indices == list(range(len(indices))) and len(indices) >= recording.frames_seen - FLUSH_FRAMES

    info = musmove('bag', 'info', str(bag))
    assert info.returncode == 1 and 'musmove bag reindex' in info.stderr
    assert_reindexed(bag, recording.frames_seen, expected=len(indices))


def test_sqlite3_bag_cut_short_by_sigkill_is_readable_up_to_the_last_commit(recording):
    bag = recording.bags['killed_sqlite3']
    assert recording.returncodes['killed_sqlite3'] == -signal.SIGKILL
    assert (bag / 'killed_sqlite3_0' / 'killed_sqlite3_0.db3').is_file()
    assert_reindexed(bag, recording.frames_seen)


def assert_reindexed(bag: Path, frames_seen: int, expected: int | None = None) -> None:
    """`musmove bag reindex` makes the bag readable by rosbags, with what was flushed before the kill."""
    reindexed = musmove('bag', 'reindex', str(bag))
    assert reindexed.returncode == 0, reindexed.stderr
    assert sorted(p.name for p in bag.iterdir()) == [f'{bag.name}_0{storage_files(bag)[0].suffix}', 'metadata.yaml']
    frames = audio_frames(bag)
    assert expected is None or len(frames) == expected
    assert_no_frame_lost(frames, frames_seen, margin=FLUSH_FRAMES)
    assert f'Count: {len(frames)}' in musmove('bag', 'info', str(bag)).stdout


def test_recorded_bag_replays_every_frame(recording, ros_node, command):
    """Our own bag played back: the audio as recorded (best effort, as audio_source offered it), 4 times faster."""
    frames: list[AudioFrame] = []
    subscription = ros_node.create_subscription(AudioFrame, 'audio', frames.append, BEST_EFFORT)
    expected = [int(frame.frame_index) for frame in audio_frames(recording.bags['mcap'])]
    try:
        player = command(
            'play', str(recording.bags['mcap']), '--topics', 'audio', '--rate', '4', '--wait-for-subscribers', '1'
        )
        assert wait_for(lambda: player.popen.poll() is not None, ros_node, timeout=30), player.output
        wait_for(lambda: len(frames) == len(expected), ros_node, timeout=2)
    finally:
        ros_node.destroy_subscription(subscription)
    assert player.popen.returncode == 0, player.output
    assert [frame.frame_index for frame in frames] == expected


@dataclass
class DataBag:
    path: Path
    audio: list  # rosbags dataclasses, as written
    imu: list
    start: int  # ns


@pytest.fixture(scope='module')
def data_bag(tmp_path_factory, groove_wav) -> DataBag:
    """A bag written by rosbags itself from the data sets: 2 s of Groove audio frames and the virtual IMU of
    the UCI gesture recording a1 (right wrist)."""
    for msgtype in (AUDIO, 'sensor_msgs/msg/Imu'):
        definition(msgtype)
    store = typestore()
    types = store.types
    start = 1_700_000_000 * 10**9

    def header(t: int) -> object:
        sec, nanosec = divmod(start + t, 10**9)
        return types['std_msgs/msg/Header'](types['builtin_interfaces/msg/Time'](sec, nanosec), 'data')

    samples = load_audio(groove_wav, RATE)[:, 0]
    audio = [
        types[AUDIO](header(k * HOP * 10**9 // RATE), RATE, 1, k, samples[k * HOP : (k + 1) * HOP].copy())
        for k in range(2 * RATE // HOP)
    ]
    recording = read_imu(uci('a1'))
    vector, quaternion = types['geometry_msgs/msg/Vector3'], types['geometry_msgs/msg/Quaternion']
    imu = [
        types['sensor_msgs/msg/Imu'](
            header(round(t * 1e9)), quaternion(0.0, 0.0, 0.0, 1.0), np.full(9, -1.0), vector(0.0, 0.0, 0.0),
            np.full(9, -1.0), vector(*map(float, a)), np.zeros(9),
        )
        for t, a in zip(recording.times, recording.linear_acceleration, strict=True)
        if t < 2.0
    ]  # fmt: skip
    path = tmp_path_factory.mktemp('data') / 'data_bag'
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        for topic, messages in (('/audio', audio), ('/imu', imu)):
            connection = writer.add_connection(topic, messages[0].__msgtype__, typestore=store)
            for message in messages:
                writer.write(connection, stamp_ns(message), store.serialize_cdr(message, message.__msgtype__))
    return DataBag(path, audio, imu, start)


def stamp_ns(message) -> int:
    return message.header.stamp.sec * 10**9 + message.header.stamp.nanosec


def acceleration(message) -> tuple[float, float, float]:
    return message.linear_acceleration.x, message.linear_acceleration.y, message.linear_acceleration.z


def test_bag_written_by_rosbags_replays_every_message_with_clock(data_bag, ros_node, command):
    received: dict[str, list] = {'audio': [], 'imu': [], 'clock': []}
    reliable = QoSProfile(depth=1000)
    subscriptions = [
        ros_node.create_subscription(AudioFrame, 'audio', received['audio'].append, reliable),
        ros_node.create_subscription(Imu, 'imu', received['imu'].append, reliable),
        ros_node.create_subscription(Clock, '/clock', received['clock'].append, BEST_EFFORT),
    ]
    try:
        player = command('play', str(data_bag.path), '--rate', '2', '--clock', '50', '--wait-for-subscribers', '1')
        assert wait_for(lambda: player.popen.poll() is not None, ros_node, timeout=30), player.output
        wait_for(lambda: len(received['audio']) == len(data_bag.audio), ros_node, timeout=2)
    finally:
        for subscription in subscriptions:
            ros_node.destroy_subscription(subscription)
    assert player.popen.returncode == 0, player.output
    total = len(data_bag.audio) + len(data_bag.imu)
    assert f'published {total} messages on 2 topics' in player.output

    assert [m.frame_index for m in received['audio']] == [m.frame_index for m in data_bag.audio]
    for got, sent in zip(received['audio'], data_bag.audio, strict=True):
        assert stamp_ns(got) == stamp_ns(sent)
        np.testing.assert_array_equal(np.asarray(got.samples), sent.samples)
    assert [stamp_ns(m) for m in received['imu']] == [stamp_ns(m) for m in data_bag.imu]
    assert [acceleration(m) for m in received['imu']] == [acceleration(m) for m in data_bag.imu]

    clock = [m.clock.sec * 10**9 + m.clock.nanosec for m in received['clock']]
    assert len(clock) >= 25, len(clock)  # 1 s of playing at 50 Hz
    assert clock == sorted(clock)
    end = max(stamp_ns(m) for m in data_bag.audio + data_bag.imu)
    assert data_bag.start <= clock[0] < data_bag.start + 0.2e9 and end - 0.3e9 < clock[-1] < end + 0.1e9


def test_play_from_an_offset_in_a_loop_on_selected_topics(data_bag, ros_node, command):
    imu: list[Imu] = []
    audio: list[AudioFrame] = []
    subscriptions = [
        ros_node.create_subscription(Imu, 'imu', imu.append, QoSProfile(depth=1000)),
        ros_node.create_subscription(AudioFrame, 'audio', audio.append, QoSProfile(depth=1000)),
    ]
    after_offset = [stamp_ns(m) for m in data_bag.imu if stamp_ns(m) >= data_bag.start + 1e9]
    try:
        options = ['--topics', 'imu', '--start-offset', '1', '--loop', '--rate', '4', '--wait-for-subscribers', '1']
        player = command('play', str(data_bag.path), *options)
        assert wait_for(lambda: len(imu) >= 2 * len(after_offset) + 2, ros_node, timeout=30), player.output
        assert player.stop(signal.SIGINT) == 0, player.output
    finally:
        for subscription in subscriptions:
            ros_node.destroy_subscription(subscription)
    stamps = [stamp_ns(m) for m in imu]
    assert stamps[: 2 * len(after_offset)] == after_offset * 2  # from the offset, then again from the offset
    assert audio == []


@pytest.mark.parametrize(
    ('arguments', 'message'),
    [
        (['play', 'no/such/bag'], 'no such bag: no/such/bag'),
        (['play', '{bag}', '--topics', 'nope'], 'no topic /nope in'),
        (['bag', 'info', '{junk}'], 'cannot read bag'),
        (['record', '-o', '{bag}'], 'exists already'),
    ],
)
def test_clear_one_line_errors(arguments, message, data_bag, tmp_path):
    junk = tmp_path / 'junk.mcap'
    junk.write_bytes(b'not an mcap file')
    result = musmove(*(a.format(bag=data_bag.path, junk=junk) for a in arguments))
    assert result.returncode == 1 and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.parametrize('verb', [['record'], ['play'], ['bag'], ['bag', 'info'], ['bag', 'reindex']])
def test_help_for_the_bag_verbs(verb):
    result = musmove(*verb, '--help')
    assert result.returncode == 0 and result.stdout.startswith('usage: musmove')


def test_privacy_recording_keeps_no_audio_and_only_the_shape_of_the_skeleton(ros_node, groove_wav, command, tmp_path):
    bag = tmp_path / 'private'
    recorder = command('record', '-o', str(bag), '--privacy', 'true')
    seen: list[PoseArray] = []
    subscription = ros_node.create_subscription(PoseArray, 'mocap', seen.append, 1000)
    processes = [  # the skeleton starts once the recorder and the test both listen
        NodeProcess('mocap_source', ('-p', f'file:={uci("a3")}', '-p', 'wait_for_subscribers:=2'), tmp_path),
        NodeProcess(
            'audio_source',
            (
                '-p',
                f'file:={groove_wav}',
            ),
            tmp_path,
        ),
    ]
    try:
        assert wait_for(lambda: 'privacy: not recording /audio' in recorder.output, ros_node, timeout=30)
        assert wait_for(lambda: len(seen) >= 90, ros_node, timeout=60)  # 3 s of the skeleton
    finally:
        ros_node.destroy_subscription(subscription)
        stop_all(processes)
    assert recorder.stop() == 0, recorder.output
    original = read_mocap(uci('a3')).positions
    with Reader(bag) as reader:
        assert '/audio' not in {c.topic for c in reader.connections}
        mocap = [c for c in reader.connections if c.topic == '/mocap']
        poses = [deserialize(data, c.msgtype).poses for c, _, data in reader.messages(connections=mocap)]
    assert len(poses) > 30
    for k, skeleton in enumerate(poses[:50]):
        shape = np.array([[p.position.x, p.position.y, p.position.z] for p in skeleton])
        assert np.allclose(shape.mean(axis=0), 0, atol=1e-9)  # nowhere in the room
        assert np.sqrt(np.mean(np.sum(shape**2, axis=1))) == pytest.approx(1.0)  # no body size
        assert all((p.orientation.x, p.orientation.w) == (0.0, 1.0) for p in skeleton)
        centred = original[k] - original[k].mean(axis=0)
        np.testing.assert_allclose(shape, centred / np.sqrt(np.mean(np.sum(centred**2, axis=1))), atol=1e-6)
