"""`musmove demo`: the bundled real performance streamed through the nodes over DDS.

Until the rest of the pipeline lands, the demo runs what exists: it renders the bundled
Groove MIDI drum performance, plays it through the `audio_source` node (its own process,
Fast DDS in between), and reports what arrived: frames, losses, transport latency and
whether the received samples equal the file's.
"""

import signal
import subprocess
import time

import numpy as np
import rclpy
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data

from musmove.audio import load_audio
from musmove.cli import node_executable
from musmove.data import bundled, render_midi
from musmove.progress import Progress
from musmove_msgs.msg import AudioFrame

DEMO_MIDI = 'groove_drummer3_rock_120.mid'
SAMPLE_RATE = 22050
HOP_SIZE = 512


class FrameListener(Node):
    """Collect AudioFrames with their arrival times."""

    def __init__(self) -> None:
        super().__init__('musmove_demo')
        self.frames: dict[int, np.ndarray] = {}
        self.delays: list[float] = []
        self.create_subscription(AudioFrame, 'audio', self.on_frame, qos_profile_sensor_data)

    def on_frame(self, frame: AudioFrame) -> None:
        arrival = self.get_clock().now().nanoseconds
        captured_end = (
            frame.header.stamp.sec * 10**9
            + frame.header.stamp.nanosec
            + len(frame.samples) // frame.channels * 10**9 // frame.sample_rate
        )
        self.delays.append((arrival - captured_end) / 1e6)
        self.frames[frame.frame_index] = np.asarray(frame.samples, dtype=np.float32)


def run_demo(duration: float | None = None) -> int:
    """Run the demo; return 0 when the source finished cleanly."""
    midi = bundled(DEMO_MIDI)
    print(f'musmove demo: rendering {midi.name} (Groove MIDI, CC BY 4.0) with fluidsynth')
    wav = render_midi(midi, SAMPLE_RATE)
    reference = load_audio(wav, SAMPLE_RATE)[:, 0]
    expected = -(-len(reference) // HOP_SIZE)
    print(f'musmove demo: {wav} ({len(reference) / SAMPLE_RATE:.1f} s); starting audio_source')
    source = subprocess.Popen(
        [
            str(node_executable('audio_source')),
            '--ros-args',
            '--log-level',
            'warn',
            '-p',
            f'file:={wav}',
            '-p',
            f'sample_rate:={SAMPLE_RATE}',
            '-p',
            f'hop_size:={HOP_SIZE}',
            '-p',
            'wait_for_subscribers:=1',
        ]
    )
    started = time.monotonic()
    progress = Progress('musmove demo: frames received', expected)
    with rclpy.init():
        listener = FrameListener()
        try:
            while source.poll() is None and (duration is None or time.monotonic() - started < duration):
                rclpy.spin_once(listener, timeout_sec=0.1)
                progress.show(len(listener.frames))
            deadline = time.monotonic() + 0.5  # frames still in flight
            while time.monotonic() < deadline:
                rclpy.spin_once(listener, timeout_sec=0.05)
        finally:
            if source.poll() is None:
                source.send_signal(signal.SIGINT)
            status = source.wait(timeout=10)
    progress.close()
    report(listener, reference, expected)
    return status


def report(listener: FrameListener, reference: np.ndarray, expected: int) -> None:
    """Print what arrived, compared with the file."""
    received = sorted(listener.frames)
    if not received:
        print('musmove demo: no frame arrived')
        return
    span = range(received[0], received[-1] + 1)
    lost = len(span) - len(received)
    delays = np.array(listener.delays)
    exact = all(np.array_equal(listener.frames[i], reference[i * HOP_SIZE : (i + 1) * HOP_SIZE]) for i in received)
    print(f'  frames received        {len(received)} of {expected} in the file ({lost} lost in between)')
    print(f'  frame hop              {1000 * HOP_SIZE / SAMPLE_RATE:.1f} ms ({HOP_SIZE} samples at {SAMPLE_RATE} Hz)')
    print(
        f'  delivery delay         median {np.median(delays):.2f} ms, p99 {np.percentile(delays, 99):.2f} ms '
        "(arrival - capture of the frame's last sample)"
    )
    print(f'  samples equal the file {"yes" if exact else "NO"}')
