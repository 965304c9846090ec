"""The robot moves in time with real music: asynchrony in simulation, against annotated test-split beats.

    python bench/robot_asynchrony.py [--performances N] [--seconds S] [--settle S] [--lead S] [--robot R]

For each of the first N Groove MIDI test-split performances in 4/4 that last 30 s (and --seconds) or more,
rendered with fluidsynth, it starts `audio_source` (the file, paced in real time, `start_time` --lead seconds
ahead: sample 0, MIDI time 0, has the known clock time T0), `beat_tracker` (the shipped model), `robot_sim`
and `robot_controller` (move nod, latency measured live) as their own processes with config/coordination.yaml,
in a private ROS domain on this host only. A listener here records audio frame arrivals, joint_states,
beats, coordination_metrics and diagnostics for --seconds of music. The robot's movement events are the
velocity reversals of the move's marking joint (as robot_controller detects them); their asynchrony, event
minus beat, is scored as `musmove evaluate` scores it (`musmove.evaluation.session.robot_timing`): against
the performed beats people hear (the drum notes of each beat plus the render delay,
`musmove.evaluation.performed.heard_beats`) and the metronome click (not in the audio), each from the
tracker's lock (4 OBSERVED beats in a row within 70 ms of the performed beats) and from the robot's first
movement; then after --settle seconds against the performed beats and the tracker's OBSERVED beats.
Baseline in the same run: the OBSERVED beats themselves against the performed beats and the click, what a
robot moving exactly on the detected beats with no latency would get.
"""

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from node_processes import NS, Child, spin_until, stamp_ns, stop
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import JointState

from musmove.evaluation.performed import heard_beats
from musmove.evaluation.session import CLICK, PERFORMED, robot_timing
from musmove.robot.asynchrony import Asynchrony, asynchrony, detect_events
from musmove.robot.measurement import PROMINENCE, event_kind
from musmove.robot.moves import PANDA_MOVES
from musmove.training.beat_data import Example, examples, render
from musmove_msgs.msg import AudioFrame, Beat, CoordinationMetrics

MS = 10**6
CONFIG = str(Path(__file__).resolve().parent.parent / 'config' / 'coordination.yaml')
MIN_LENGTH = 30.0  # [s] shortest performance taken


class Listener(Node):
    """What the graph publishes, by stamp (ns of the system clock, that of the nodes)."""

    def __init__(self, joint: str) -> None:
        super().__init__('robot_asynchrony')
        self.joint = joint
        self.states: list[tuple[int, float]] = []  # (stamp, marking joint's position)
        self.observed: list[tuple[int, float]] = []  # (stamp, tempo)
        self.predicted = 0
        self.predictions: list[tuple[int, int]] = []  # (arrival, predicted beat stamp)
        self.metrics: list[tuple[int, CoordinationMetrics]] = []  # (arrival, message)
        self.diagnostics: dict[str, str] = {}  # the controller's newest
        self.frame_delays: list[int] = []  # audio frame arrival minus when it was due (its last sample)
        self.create_subscription(JointState, 'joint_states', self.on_state, 1000)
        self.create_subscription(Beat, 'beats', self.on_beat, 100)
        self.create_subscription(CoordinationMetrics, 'coordination_metrics', self.on_metrics, 100)
        self.create_subscription(DiagnosticArray, 'diagnostics', self.on_diagnostics, 100)
        self.create_subscription(AudioFrame, 'audio', self.on_audio, qos_profile_sensor_data)

    def on_state(self, message: JointState) -> None:
        if self.joint in message.name:
            self.states.append((stamp_ns(message.header.stamp), message.position[list(message.name).index(self.joint)]))

    def on_beat(self, beat: Beat) -> None:
        if beat.kind == Beat.OBSERVED:
            self.observed.append((stamp_ns(beat.header.stamp), beat.tempo))
        else:
            self.predicted += 1
            self.predictions.append((time.time_ns(), stamp_ns(beat.header.stamp)))

    def on_metrics(self, message: CoordinationMetrics) -> None:
        self.metrics.append((time.time_ns(), message))

    def on_diagnostics(self, message: DiagnosticArray) -> None:
        for status in message.status:
            if status.name == 'robot_controller: dance':
                self.diagnostics = {value.key: value.value for value in status.values}

    def on_audio(self, frame: AudioFrame) -> None:
        due = stamp_ns(frame.header.stamp) + len(frame.samples) * NS // max(frame.sample_rate * frame.channels, 1)
        self.frame_delays.append(time.time_ns() - due)


def shipped(parameters: dict[str, str]) -> list[str]:
    """ROS arguments: the shipped parameter file, then `parameters`."""
    return ['--params-file', CONFIG, *(arg for key, value in parameters.items() for arg in ('-p', f'{key}:={value}'))]


def perform(
    example: Example, args: argparse.Namespace, log_dir: Path, wav: Path | None = None
) -> tuple[Listener, int, list[str]]:
    """Play one performance (`wav`, default its render) to the graph; the listener after `args.seconds` s of music,
    T0 [ns] and warnings. Known-music mode with `args.lookahead` > 0 (and `args.playback`: on the sound card)."""
    wav = wav or render(example)
    node = Listener(PANDA_MOVES[args.move].joints[0])
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    start_time = f'{(time.time_ns() + round(args.lead * NS)) / NS:.3f}'
    t0 = round(float(start_time) * NS)  # as audio_source reads it
    source = {'file': str(wav), 'start_time': start_time, 'wait_for_subscribers': '2', 'loop': 'false'}
    source |= {'lookahead': str(args.lookahead), 'playback': str(args.playback).lower()}
    children = [
        Child('audio_source', shipped(source), log_dir),
        Child('robot_sim', shipped({'robot': args.robot}), log_dir),
        Child('robot_controller', shipped({'move': args.move}), log_dir),
        Child('beat_tracker', shipped({}), log_dir),
    ]
    try:
        # The tracker must hear the file from sample 0; the robot may join later, within the settling time.
        heard = lambda: node.count_publishers('audio') and node.count_subscribers('audio') > 1  # noqa: E731
        if not spin_until(executor, heard, (t0 - time.time_ns()) / NS - 0.05, children):
            raise RuntimeError(f'audio_source or beat_tracker not up {args.lead:g} s after their start: raise --lead')
        if not spin_until(executor, lambda: node.states and node.metrics, args.lead + args.settle / 2, children):
            raise RuntimeError('robot_sim or robot_controller not up by half the settling time')
        spin_until(executor, lambda: time.time_ns() > t0 + round((args.seconds + 0.3) * NS), 600.0, children)
    finally:
        codes = stop(children)  # the source first
        executor.shutdown()
        node.destroy_node()
    warnings = []
    for child, code in zip(children, codes, strict=True):
        logged = [line for line in child.log.read_text().splitlines() if line.startswith(('[WARN]', '[ERROR]'))]
        logged = [line for line in logged if float(line.split('] [', 2)[1]) * NS >= t0]  # during the music
        if logged:
            warnings.append(f'{child.name} logged {len(logged)} warnings or errors in the music, first: {logged[0]}')
        if code:
            tail = ''.join(child.log.read_text().splitlines(keepends=True)[-15:])
            warnings.append(f'{child.name} exited with status {code} on SIGINT; its output ended:\n{tail}')
    return node, t0, warnings


def foreseen(node: Listener, t0: int, beats: np.ndarray, lead: float) -> np.ndarray:
    """For each beat [s from T0], the predicted time of it [s] known `lead` s before it (wall clock): the one
    nearest to it among the newest predictions received by then; beats without any are left out."""
    arrivals = np.array([a for a, _ in node.predictions], dtype=float).reshape(-1)
    stamps = (np.array([s for _, s in node.predictions], dtype=float).reshape(-1) - t0) / NS
    result = np.full(len(beats), np.nan)
    for k, beat in enumerate(beats):
        known = np.flatnonzero(arrivals <= t0 + (beat - lead) * NS)
        if len(known):
            recent = stamps[known[-16:]]  # the newest predictions (a few beats each)
            result[k] = recent[np.argmin(np.abs(recent - beat))]
    return result[np.isfinite(result)]


@dataclass
class Result:
    """One performance's asynchronies, each row (label, Asynchrony), and what goes with them."""

    rows: list[tuple[str, Asynchrony]]
    lock: float  # s from T0
    moved: float
    controller: CoordinationMetrics | None
    latency: str
    summary: str


def evaluate(example: Example, node: Listener, t0: int, args: argparse.Namespace) -> Result:
    """Asynchronies after the settling time, all times in seconds from T0."""
    states = np.array(sorted(node.states), dtype=float).reshape(-1, 2)
    fresh = np.concatenate([[True], np.diff(states[:, 0]) > 0])  # pybullet's time moves in 2.5 ms steps
    times, positions = (states[fresh, 0] - t0) / NS, states[fresh, 1]
    observed = np.array([(stamp - t0) / NS for stamp, _ in node.observed])
    end = min(args.seconds, times[-1] if len(times) else 0.0)
    events = detect_events(times, positions, event_kind(PANDA_MOVES[args.move]), prominence=PROMINENCE)
    tolerance = 0.25 * float(np.median(np.diff(example.beats)))
    performed, clicks = heard_beats(example.midi)
    references = {PERFORMED: performed[np.isfinite(performed)], CLICK: clicks}
    references = {name: beats[beats <= end - tolerance] for name, beats in references.items()}
    away = np.abs(positions - positions[0]) > PROMINENCE  # robot_sim starts at home
    moving = (float(times[away].min()), float(times[away].max())) if away.any() else (np.inf, -np.inf)
    timing = robot_timing(events, moving, references, observed)

    def settled(beats: np.ndarray) -> np.ndarray:
        return beats[(beats >= args.settle) & (beats <= end - tolerance)]

    drums, heard = settled(references[PERFORMED]), settled(observed)
    rows = [(f'robot - {name.split(" (")[0]}, {window}', result) for (name, window), result in timing.rows.items()]
    rows += [
        (f'robot - performed, from {args.settle:g} s', asynchrony(events, drums, tolerance)),
        ('robot - observed', asynchrony(events, heard, 0.25 * np.median(np.diff(heard)) if len(heard) > 1 else None)),
        ('observed - performed (baseline)', asynchrony(observed, drums, tolerance)),
        ('observed - click', asynchrony(observed, settled(references[CLICK]), tolerance)),
        ('predicted 100 ms ahead - performed', asynchrony(foreseen(node, t0, drums, 0.1), drums, tolerance)),
    ]
    ended = t0 + round(args.seconds * NS)
    published = [message for arrival, message in node.metrics if arrival <= ended]
    offsets = asynchrony(drums, settled(references[CLICK]), tolerance)  # each within 1/8 beat of its click
    tempo = np.median([tempo for _, tempo in node.observed]) if node.observed else float('nan')
    delays = np.array(node.frame_delays) / MS
    summary = (
        f'{example.bpm:g} BPM ({example.style}); performed beats - click: {offsets}\n'
        f'  lock {timing.lock:.2f} s, first movement {timing.moved:.2f} s (from sample 0)\n'
        f'  joint states {len(states)} ({np.count_nonzero(~fresh)} repeating a stamp); '
        f'tracker {len(node.observed)} observed at {tempo:.1f} BPM median, {node.predicted} predicted; '
    )
    if len(delays):
        summary += f'{len(delays)} frames, arrival - due median {np.median(delays):.1f} ms, max {delays.max():.1f} ms'
    d = node.diagnostics
    latency = f'{d.get("latency_ms", "?")} ms in use, {d.get("latency_measured_ms", "?")} ms {d.get("latency_source")}'
    return Result(rows, timing.lock, timing.moved, published[-1] if published else None, latency, summary)


HEADER = f'  {"":<44} {"n":>4} {"miss":>5} {"mean":>8} {"SD":>7} {"|a|":>7} {"max|a|":>7}'


def known_music_options(parser: argparse.ArgumentParser) -> None:
    """--lookahead and --playback: audio_source's known-music mode (README, "Known-music mode")."""
    parser.add_argument('--lookahead', type=float, default=0.0, help='audio_source lookahead [s] (default 0: live)')
    parser.add_argument('--playback', action='store_true', help='play the music on the sound card (needs a device)')


def line(label: str, n: float, missed: float, mean: float, sd: float, absolute: float, worst: float = np.nan) -> None:
    """One row: count, missed beats, then mean, SD, mean and largest absolute asynchrony in ms."""
    values = ' '.join(f'{1e3 * value:>7.1f}' if np.isfinite(value) else ' ' * 7 for value in (sd, absolute, worst))
    print(f'  {label:<44} {n:>4.0f} {missed:>5.0f} {1e3 * mean:>+8.1f} {values}')


def largest(result: Asynchrony) -> float:
    return float(np.abs(result.asynchronies).max()) if result.matched else np.nan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--performances', type=int, default=3, help='performances of the test split (default 3)')
    parser.add_argument('--seconds', type=float, default=30.0, help='seconds of each to play (default 30)')
    parser.add_argument('--settle', type=float, default=8.0, help='seconds left out at the start (default 8)')
    parser.add_argument('--lead', type=float, default=15.0, help='seconds from starting the nodes to sample 0')
    parser.add_argument('--robot', choices=('panda', 'kinematic'), default='panda', help='robot_sim (default panda)')
    parser.add_argument('--move', choices=tuple(PANDA_MOVES), default='nod', help='robot_controller move (default nod)')
    known_music_options(parser)
    args = parser.parse_args()
    length = max(MIN_LENGTH, args.seconds)
    chosen = [e for e in examples(split='test') if e.time_signature == '4/4' and e.beats[-1] >= length]
    chosen = chosen[: args.performances]
    domain = os.environ['ROS_DOMAIN_ID']
    print(f'robot_asynchrony: {len(chosen)} Groove test-split performances, {args.seconds:g} s each from')
    mode = f'known music, lookahead {args.lookahead:g} s' if args.lookahead else 'live (causal)'
    mode += ', played on the sound card' if args.playback else ''
    print(f'  {args.settle:g} s on; robot {args.robot}, move {args.move}; {mode}; domain {domain}, localhost;')
    print(f'  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; asynchrony = event - beat [ms]')
    results: list[Result] = []
    rclpy.init(args=[])
    try:
        with tempfile.TemporaryDirectory(prefix='robot_asynchrony-') as log_dir:
            for example in chosen:
                node, t0, warnings = perform(example, args, Path(log_dir))
                results.append(evaluate(example, node, t0, args))
                print(f'\n{example.name}: {results[-1].summary}')
                print(HEADER)
                for label, r in results[-1].rows:
                    line(label, r.matched, r.missed, r.mean, r.sd, r.mean_absolute, largest(r))
                if m := results[-1].controller:
                    label = f'controller, last {m.window.sec} s published'
                    line(label, m.matched, m.missed, m.mean_asynchrony, m.sd_asynchrony, m.mean_absolute_asynchrony)
                print(f'  latency: {results[-1].latency}')
                print(*(f'  {warning}' for warning in warnings), sep='\n', end='\n' if warnings else '')
    except (KeyboardInterrupt, ExternalShutdownException):
        sys.exit(130)
    except RuntimeError as error:
        sys.exit(f'robot_asynchrony: {error}')
    finally:
        rclpy.try_shutdown()
    if not results:
        return
    print(f'\nmedians over {len(results)} performances (n, miss: totals)')
    print(HEADER)
    for k, (label, _) in enumerate(results[0].rows):
        rows = [r.rows[k][1] for r in results]
        stats = [np.median([getattr(r, name) for r in rows]) for name in ('mean', 'sd', 'mean_absolute')]
        stats.append(np.median([largest(r) for r in rows]))
        line(label, sum(r.matched for r in rows), sum(r.missed for r in rows), *stats)
    locks, moved = (', '.join(f'{getattr(r, name):.2f}' for r in results) for name in ('lock', 'moved'))
    print(f'  lock: {locks} s; first movement: {moved} s')


if __name__ == '__main__':
    main()
