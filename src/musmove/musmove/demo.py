"""`musmove demo`: real recordings streamed through the nodes over DDS and put on one clock.

Until the rest of the pipeline lands, the demo runs what exists: the bundled Groove MIDI drum
performance rendered with fluidsynth (audio_source), a UCI gesture-phase Kinect recording
(mocap_source) and the virtual IMU of its right wrist at 200 Hz (imu_source), all started on one
clock, into the synchronizer and the beat_tracker (the trained ONNX model), each node its own
process with Fast DDS in between. It reports what the synchronizer published (frames, how each
stream was resampled, the added delay, the estimated offset between IMU and motion capture) and
the beats, scored against the metronome the drummer played to. The two recordings were not made together: the
demo shows the plumbing on one clock, not a real audio-movement pairing.
"""

import signal
import subprocess
import time
from collections import Counter

import mir_eval
import numpy as np
import rclpy
import soundfile
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node

from musmove.beat_data import metronome
from musmove.cli import node_executable
from musmove.data import bundled, render_midi, shared_data
from musmove.progress import Progress
from musmove_msgs.msg import Beat, StreamStatus, SyncFrame

DEMO_MIDI = 'groove_drummer3_rock_120.mid'
DEMO_MOCAP = 'uci-gesture-phase/raw/c3_raw.csv'
SAMPLE_RATE = 22050
HOP_SIZE = 512
UCI_SPEED_LIMIT = 'max_joint_speed:=200.0'  # the UCI Kinect coordinates are not in metres (recordings.py)
STARTUP = 8.0  # seconds for the processes to come up before the common start time (5 processes on 2 cores)
STATES = {value: name for name, value in vars(StreamStatus).items() if name.isupper() and isinstance(value, int)}


class Listener(Node):
    """Collect SyncFrames, their arrival delays, and the newest diagnostics."""

    def __init__(self) -> None:
        super().__init__('musmove_demo')
        self.frames: list[SyncFrame] = []
        self.delays: list[float] = []
        self.diagnostics: DiagnosticArray | None = None
        self.beats: list[Beat] = []
        self.create_subscription(SyncFrame, 'sync_frame', self.on_frame, 100)
        self.create_subscription(Beat, 'beats', self.beats.append, 100)
        self.create_subscription(DiagnosticArray, 'diagnostics', self.on_diagnostics, 10)

    def on_frame(self, frame: SyncFrame) -> None:
        stamp = frame.header.stamp.sec * 10**9 + frame.header.stamp.nanosec
        self.delays.append((self.get_clock().now().nanoseconds - stamp) / 1e6)
        self.frames.append(frame)

    def on_diagnostics(self, array: DiagnosticArray) -> None:
        self.diagnostics = array


def start(name: str, *parameters: str) -> subprocess.Popen:
    arguments = [arg for parameter in parameters for arg in ('-p', parameter)]
    return subprocess.Popen([str(node_executable(name)), '--ros-args', '--log-level', 'warn', *arguments])


def run_demo(duration: float | None = None) -> int:
    """Run the demo; return 0 when every node ran to the end cleanly."""
    midi = bundled(DEMO_MIDI)
    print(f'musmove demo: rendering {midi.name} (Groove MIDI, CC BY 4.0) with fluidsynth')
    wav = render_midi(midi, SAMPLE_RATE)
    mocap = shared_data() / DEMO_MOCAP
    print(f'musmove demo: audio {wav.name}; motion capture and virtual wrist IMU from {mocap} (UCI, CC BY 4.0)')
    begin = time.time() + STARTUP
    common = (f'start_time:={begin}',)
    processes = {
        'synchronizer': start('synchronizer', 'offset_reference:=mocap', 'offset_period:=4.0', UCI_SPEED_LIMIT),
        'beat_tracker': start('beat_tracker'),
        'mocap_source': start('mocap_source', f'file:={mocap}', *common),
        'imu_source': start('imu_source', f'file:={mocap}', 'rate:=200.0', *common),
        'audio_source': start('audio_source', f'file:={wav}', f'hop_size:={HOP_SIZE}', *common),
    }
    audio = processes['audio_source']
    with rclpy.init():
        listener = Listener()
        seconds = soundfile.info(str(wav)).duration if duration is None else duration
        progress = Progress('musmove demo: synchronized frames', round(seconds * SAMPLE_RATE / HOP_SIZE))
        try:
            while audio.poll() is None and (duration is None or time.time() - begin < duration):
                rclpy.spin_once(listener, timeout_sec=0.1)
                progress.show(len(listener.frames))
            deadline = time.monotonic() + 1.5  # frames and diagnostics still in flight
            while time.monotonic() < deadline:
                rclpy.spin_once(listener, timeout_sec=0.05)
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.send_signal(signal.SIGINT)
            statuses = {name: process.wait(timeout=15) for name, process in processes.items()}
        progress.close()
        report(listener)
        report_beats(listener.beats, begin, metronome(midi)[:2])
    failed = {name: status for name, status in statuses.items() if status}
    if failed:
        print(f'musmove demo: nodes failed: {failed}')
    return 1 if failed else 0


def report(listener: Listener) -> None:
    """Print what the synchronizer published."""
    frames = listener.frames
    if not frames:
        print('musmove demo: no synchronized frame arrived')
        return
    hop_ms = 1000 * HOP_SIZE / SAMPLE_RATE
    print(f'  synchronized frames    {len(frames)}, one per audio frame of {hop_ms:.1f} ms')
    for index, status in enumerate(frames[0].streams):
        counts = Counter(STATES[frame.streams[index].state] for frame in frames)
        shares = ', '.join(f'{name} {100 * n / len(frames):.1f}%' for name, n in counts.most_common())
        print(f'  {status.name:<22} {shares}')
    delays = np.array(listener.delays)
    print(
        f'  frame delay            median {np.median(delays):.1f} ms, p99 {np.percentile(delays, 99):.1f} ms '
        '(publish of a frame - time of its first audio sample)'
    )
    if listener.diagnostics is not None:
        for status in listener.diagnostics.status:
            values = {item.key: item.value for item in status.values}
            if 'estimated_offset_ms_vs_mocap' in values:
                print(
                    f'  {status.hardware_id} offset vs mocap   {values["estimated_offset_ms_vs_mocap"]} ms '
                    f'(correlation {values["offset_correlation"]}; the virtual IMU has none)'
                )


def _seconds(stamp) -> float:
    return stamp.sec + stamp.nanosec / 1e9


def report_beats(beats: list[Beat], begin: float, reference: tuple[np.ndarray, np.ndarray]) -> None:
    """Score the live beats against the metronome (`reference`: beat and downbeat times from `begin`)."""
    observed = [b for b in beats if b.kind == Beat.OBSERVED]
    if not observed:
        print('  beats                  none arrived')
        return
    times = np.array([_seconds(b.header.stamp) for b in observed]) - begin
    clicks, downbeats = (events[events <= times[-1] + 0.25] for events in reference)  # those heard so far
    trim = mir_eval.beat.trim_beats
    f_measure = mir_eval.beat.f_measure(trim(clicks), trim(times))
    bars = np.array([_seconds(b.header.stamp) for b in observed if b.downbeat]) - begin
    downbeat_f = mir_eval.beat.f_measure(trim(downbeats), trim(bars)) if len(downbeats) else float('nan')
    by_index = {b.index: _seconds(b.header.stamp) for b in observed}
    errors = [
        _seconds(b.header.stamp) - by_index[b.index]
        for b in beats
        if b.kind == Beat.PREDICTED and b.index in by_index and _seconds(b.estimated_at) - begin > 5.0
    ]
    print(
        f'  beats                  {len(observed)} observed, tempo {observed[-1].tempo:.1f} BPM; '
        f'F-measure {f_measure:.3f}, downbeats {downbeat_f:.3f} (vs the metronome, after 5 s)'
    )
    if errors:
        print(f'  predicted beats        median |error| {1000 * np.median(np.abs(errors)):.1f} ms vs where observed')
