"""Added latency from audio frame arrival to Beat publish over DDS, against the frame hop.

    python bench/beat_latency.py [--seconds S] [--model PATH]

Starts `audio_source` (the bundled Groove performance, paced in real time, looping) and `beat_tracker`
as their own processes, in a private ROS domain on this host only. A listener node in this process
subscribes to `audio` and `beats` and notes when each message reaches its callback (time.time_ns, the
clock of the DDS timestamps). A Beat was estimated from the frame stamped estimated_at - hop /
sample_rate; its latency is the Beat's arrival minus that frame's arrival here: the tracker's work plus
one DDS hop, since the frame reaches the tracker and the listener in parallel. The DDS source and
reception timestamps of the same messages split it: publish to publish, DDS delivery, and the
listener's dispatch (reception to callback).
Baseline in this process: `causal` from bench/beat_tracking.py, the same activation (model) and tracker step per
frame without ROS; the difference is transport, (de)serialisation and executor overhead.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rclpy
from beat_tracking import HOP, RATE, causal
from node_processes import NS, Child, spin_until, stamp_ns, stop
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from rclpy.subscription import MessageInfo

from musmove.beat.model import SHIPPED
from musmove.sources.audio import load_audio
from musmove.sources.data import bundled, render_midi
from musmove_msgs.msg import AudioFrame, Beat

MS = 10**6
MIDI = 'groove_drummer3_rock_120.mid'


class Listener(Node):
    """Arrival times of the audio frames (by stamp) and of the beats."""

    def __init__(self) -> None:
        super().__init__('beat_latency')
        self.frames: dict[int, tuple[int, int, int]] = {}  # stamp: (arrival, DDS source, DDS received)
        self.beats: list[tuple[int, int, int, int, int]] = []  # (kind, frame stamp, arrival, source, received)
        self.hop_ns = 0
        self.hop = self.rate = 0
        self.create_subscription(AudioFrame, 'audio', self.on_audio, qos_profile_sensor_data)
        self.create_subscription(Beat, 'beats', self.on_beat, 100)

    def on_audio(self, frame: AudioFrame, info: MessageInfo) -> None:
        arrival = time.time_ns()
        if not self.hop_ns:
            self.hop, self.rate = len(frame.samples) // max(frame.channels, 1), frame.sample_rate
            self.hop_ns = round(self.hop * NS / self.rate)  # as the tracker adds it to estimated_at
        self.frames[stamp_ns(frame.header.stamp)] = (arrival, info['source_timestamp'], info['received_timestamp'])

    def on_beat(self, beat: Beat, info: MessageInfo) -> None:
        arrival = time.time_ns()
        frame = stamp_ns(beat.estimated_at) - self.hop_ns
        self.beats.append((beat.kind, frame, arrival, info['source_timestamp'], info['received_timestamp']))


def measure(seconds: float, model: str, log_dir: Path) -> Listener:
    """Run source, tracker and listener; the listener after `seconds` s of frames."""
    wav = render_midi(bundled(MIDI), RATE)
    node = Listener()
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    source_args = ['-p', f'file:={wav}', '-p', 'realtime:=true', '-p', 'loop:=true', '-p', 'wait_for_subscribers:=2']
    source_args += ['-p', f'sample_rate:={RATE}', '-p', f'hop_size:={HOP}']
    tracker_args = ['-p', f'model:={Path(model).resolve() if Path(model).exists() else model}']
    children = [Child('beat_tracker', tracker_args, log_dir), Child('audio_source', source_args, log_dir)]
    try:
        if not spin_until(executor, lambda: node.frames, 60.0, children):
            raise RuntimeError('no audio frame within 60 s')
        spin_until(executor, lambda: False, seconds, children)
    finally:
        stop(children[::-1])  # the source first
        executor.shutdown()
        node.destroy_node()
    return node


def row(label: str, values_ns: list[int], hop_ms: float) -> None:
    """Count, median and p99 in ms and as shares of the hop."""
    if not values_ns:
        print(f'  {label:<40} {0:>5}')
        return
    ms = np.array(values_ns) / MS
    median, p99 = np.median(ms), np.percentile(ms, 99)
    print(f'  {label:<40} {len(ms):>5} {median:>8.2f} {p99:>8.2f} {median / hop_ms:>9.1%} {p99 / hop_ms:>8.1%}')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seconds', type=float, default=30.0, help='seconds of audio to measure (default 30)')
    parser.add_argument('--model', default=SHIPPED, help="beat_tracker's `model` (default: the shipped one; '': DSP)")
    args = parser.parse_args()
    rclpy.init(args=[])
    try:
        with tempfile.TemporaryDirectory(prefix='beat_latency-') as log_dir:
            listener = measure(args.seconds, args.model, Path(log_dir))
    except (KeyboardInterrupt, ExternalShutdownException):
        sys.exit(130)
    except RuntimeError as error:
        sys.exit(f'beat_latency: {error}')
    finally:
        rclpy.try_shutdown()
    load = os.getloadavg()[0]
    frames, hop_ms = listener.frames, 1000 * listener.hop / listener.rate
    latency: dict[int, list[int]] = {Beat.OBSERVED: [], Beat.PREDICTED: []}
    publish, unseen = [], 0
    for kind, stamp, arrival, source, _ in listener.beats:
        if stamp not in frames:
            unseen += 1
            continue
        latency[kind].append(arrival - frames[stamp][0])
        if source and frames[stamp][1]:
            publish.append(source - frames[stamp][1])
    received = [*frames.values(), *(beat[2:] for beat in listener.beats)]  # (callback, DDS source, DDS received)
    delivery = [recv - source for _, source, recv in received if source and recv]
    dispatch = [arrival - recv for arrival, _, recv in received if recv]
    beats = latency[Beat.OBSERVED] + latency[Beat.PREDICTED]

    audio = load_audio(render_midi(bundled(MIDI), RATE), RATE)[:, 0]
    in_process = [round(seconds * NS) for seconds in causal(audio, args.model)[1]]

    print(f'beat_tracker over DDS (domain {os.environ["ROS_DOMAIN_ID"]}, localhost), {args.seconds:g} s of {MIDI}')
    print(f'  hop {listener.hop} samples at {listener.rate} Hz = {hop_ms:.1f} ms; load average {load:.1f}', end='')
    print(f' on {os.cpu_count()} CPUs; model {args.model or "none (DSP fallback)"}')
    print(f'  frames seen {len(frames)}, beats {len(listener.beats)} ({unseen} of frames not seen here: skipped)')
    print(f'  {"ms":<40} {"n":>5} {"median":>8} {"p99":>8} {"med/hop":>9} {"p99/hop":>8}')
    row('Beat arrival - frame arrival', beats, hop_ms)
    row('  OBSERVED', latency[Beat.OBSERVED], hop_ms)
    row('  PREDICTED', latency[Beat.PREDICTED], hop_ms)
    row('  Beat publish - frame publish', publish, hop_ms)
    row('  DDS delivery, received - published', delivery, hop_ms)
    row('  listener dispatch, callback - received', dispatch, hop_ms)
    row('in process: activation + tracker step', in_process, hop_ms)
    if beats:
        overhead = (np.median(beats) - np.median(in_process)) / MS
        print(f'  transport + executor overhead (median minus median): {overhead:.2f} ms, {overhead / hop_ms:.1%}')


if __name__ == '__main__':
    main()
