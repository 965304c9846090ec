"""`musmove demo`: the whole experiment loop on real recordings, headless: launch, record, evaluate.

It renders the bundled Groove MIDI drum performance with fluidsynth and starts the coordination graph
with `musmove launch coordination` (the graph of launch/coordination.launch.py, each node its own
process over Fast DDS): audio_source plays the rendering; mocap_source plays a UCI gesture-phase Kinect
recording as the partner and imu_source the virtual IMU of its right wrist, all on one clock; the
synchronizer, beat_tracker and gesture_phase run the shipped ONNX models; robot_controller makes the
simulated Franka Panda (robot_sim, pybullet) nod on the predicted beats; `musmove record` records every
topic into a rosbag2 bag. While it runs, a listener reports the synchronized frames and beats; at the
end `musmove.evaluation.session` scores the bag against the beats people hear (the drummer's notes of each beat,
as rendered), the metronome the drummer played to (a second, labelled reference: it is not in the audio) and the
phases the UCI annotator marked; the robot from the tracker's lock and from its first movement. The two
recordings were not made together: the demo shows the loop on one clock, not a real audio-movement pairing.
"""

import shutil
import signal
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import mir_eval
import numpy as np
import rclpy
import soundfile
import yaml
from ament_index_python.packages import get_package_share_directory
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.node import Node

from musmove.evaluation import human
from musmove.evaluation.performed import heard_beats
from musmove.evaluation.session import Session, evaluate, report
from musmove.progress import Progress
from musmove.sources.data import bundled, render_midi, shared_data
from musmove.training.beat_data import metronome
from musmove_msgs.msg import Beat, StreamStatus, SyncFrame

DEMO_MIDI = 'groove_drummer3_rock_120.mid'
DEMO_MOCAP = 'uci-gesture-phase/raw/c3_raw.csv'
DEMO_MOCAP_EXCERPT = 'uci_c3_30s_raw.csv'  # its first 30 s, shipped for a machine without the shared data sets
SAMPLE_RATE = 22050
HOP_SIZE = 512
STARTUP = 12.0  # seconds for the ten processes to come up before the common start time, on 2 cores
STATES = {value: name for name, value in vars(StreamStatus).items() if name.isupper() and isinstance(value, int)}
DEMO_PARAMETERS = {  # over config/coordination.yaml
    'synchronizer': {'max_joint_speed': 200.0, 'offset_reference': 'mocap', 'offset_period': 4.0},  # UCI: not metres
    'imu_source': {'rate': 200.0},
}


class Listener(Node):
    """Collect SyncFrames, their arrival delays, and the newest diagnostic status of each name."""

    def __init__(self) -> None:
        super().__init__('musmove_demo')
        self.frames: list[SyncFrame] = []
        self.delays: list[float] = []
        self.diagnostics: dict[str, DiagnosticStatus] = {}
        self.beats: list[Beat] = []
        self.create_subscription(SyncFrame, 'sync_frame', self.on_frame, 100)
        self.create_subscription(Beat, 'beats', self.beats.append, 100)
        self.create_subscription(DiagnosticArray, 'diagnostics', self.on_diagnostics, 10)

    def on_frame(self, frame: SyncFrame) -> None:
        stamp = frame.header.stamp.sec * 10**9 + frame.header.stamp.nanosec
        self.delays.append((self.get_clock().now().nanoseconds - stamp) / 1e6)
        self.frames.append(frame)

    def on_diagnostics(self, array: DiagnosticArray) -> None:
        self.diagnostics.update((status.name, status) for status in array.status)


@dataclass(frozen=True)
class Material:
    """What a demo plays and scores: audio, the partner's motion capture (and its virtual IMU), the references."""

    wav: Path
    mocap: Path
    beats: Path  # the beat reference of `musmove evaluate`: a MIDI file, or beat times from the start (text)
    gestures: Path | None  # annotated gesture phases (a UCI *_raw.csv), if any
    seconds: float
    parameters: dict = field(default_factory=lambda: DEMO_PARAMETERS)  # over config/coordination.yaml, per node
    arguments: dict = field(default_factory=dict)  # more launch arguments


def demo_config(folder: Path, overrides: dict = DEMO_PARAMETERS) -> Path:
    """config/coordination.yaml with `overrides` (per node) over it, written into `folder`."""
    config = Path(get_package_share_directory('musmove'), 'config', 'coordination.yaml')
    parameters = yaml.safe_load(config.read_text())
    for node, values in overrides.items():
        parameters[f'/**/{node}']['ros__parameters'].update(values)
    path = folder / 'demo.yaml'
    path.write_text(yaml.safe_dump(parameters, sort_keys=False))
    return path


def known_music(parameters: dict, lookahead: float) -> dict:
    """`parameters` with, for known music, the synchronizer waiting `lookahead` + 0.1 s for the partner's streams: its
    audio frames come that far ahead of them, which would otherwise be held and then STALE in every frame."""
    if not lookahead:
        return parameters
    synchronizer = {**parameters.get('synchronizer', {}), 'max_delay': round(lookahead + 0.1, 3)}
    return {**parameters, 'synchronizer': synchronizer}


def partner_recording() -> Path:
    """The partner's motion capture: the UCI recording in the shared data sets, else its bundled 30 s excerpt."""
    try:
        path = shared_data() / DEMO_MOCAP
    except FileNotFoundError:
        path = None
    return path if path is not None and path.is_file() else bundled(DEMO_MOCAP_EXCERPT)


def run_demo(
    duration: float | None = None, out: Path = Path('musmove_demo'), mode: str = 'both', lookahead: float = 0.75
) -> int:
    """Run the demo into `out` (bag, report, launch log; the second mode in `out`/known); 0 when the graph ran
    and stopped cleanly in every mode.

    `mode`: live (the default of the graph: causal, as from a microphone), known (audio_source publishes the file
    `lookahead` s before it is heard) or both, one after the other, their figures side by side at the end.
    """
    midi = bundled(DEMO_MIDI)
    print(f'musmove demo: rendering {midi.name} (Groove MIDI, CC BY 4.0) with fluidsynth')
    wav = render_midi(midi, SAMPLE_RATE)
    mocap = partner_recording()
    print(f'musmove demo: audio {wav.name}; partner (motion capture, virtual wrist IMU) {mocap} (UCI, CC BY 4.0)')
    seconds = soundfile.info(str(wav)).duration if duration is None else duration
    status, _ = run_modes(Material(wav, mocap, midi, mocap, seconds), out, mode, lookahead)
    if status == 0:
        print(human_references())
    return status


def run_modes(material: Material, out: Path, mode: str, lookahead: float) -> tuple[int, dict[str, Session]]:
    """The graph on `material` in `mode` (live, known or both, one after the other, side by side at the end): the
    exit status and each mode's session."""
    modes = ['live', 'known'] if mode == 'both' else [mode]
    tables, sessions = {}, {}
    for name in modes:
        ahead = lookahead if name == 'known' else 0.0
        what = 'causal, as from a microphone' if name == 'live' else f'the audio published {ahead:g} s before heard'
        print(f'musmove demo: {name} mode ({what})')
        folder = out if name == modes[0] else out / name
        status, tables[name], sessions[name] = run_mode(material, folder, ahead)
        if status != 0:
            return status, sessions
    if len(tables) > 1:
        header, rule = tables[modes[0]][:2]
        print('musmove demo: both modes (the robot vs the beats people hear; the human references below)')
        print(
            '\n'.join([f'| mode {header}', f'| --- {rule}', *(f'| {name} {rows[2]}' for name, rows in tables.items())])
        )
    return 0, sessions


def run_mode(material: Material, out: Path, lookahead: float) -> tuple[int, list, Session | None]:
    """One run of the graph into `out`; its exit status, the lines of its summary table and its session."""
    shutil.rmtree(out / 'bag', ignore_errors=True)  # the last demo's
    out.mkdir(parents=True, exist_ok=True)
    begin, m = time.time() + STARTUP, material
    with tempfile.TemporaryDirectory() as folder:
        arguments = {
            'config': demo_config(Path(folder), known_music(m.parameters, lookahead)), 'audio_file': m.wav,
            'imu_file': m.mocap,
            'mocap_file': m.mocap, 'start_time': begin, 'robot': 'sim', 'record': 'true',
            'bag': (out / 'bag').resolve(), 'lookahead': lookahead, **m.arguments,
        }  # fmt: skip
        command = ['musmove', 'launch', 'coordination', *(f'{k}:={v}' for k, v in arguments.items())]
        print(f'musmove demo: {" ".join(command[:3])} ... (log: {out / "launch.log"}); {m.seconds:.0f} s of music')
        with (out / 'launch.log').open('w') as log:
            launched = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
            status = listen(launched, begin, m.seconds, m.beats)
    if status != 0:
        errors = [line for line in (out / 'launch.log').read_text().splitlines() if 'error' in line.lower()]
        print('\n'.join(['musmove demo: the graph failed:', *errors[-5:]]))
        return status, [], None
    gestures = f' --gestures {m.gestures}' if m.gestures else ''
    print(f'musmove demo: the graph stopped cleanly; evaluating the bag as\n  musmove evaluate {out / "bag"} '
          f'--beats {m.beats}{gestures} --start-time {begin:.6f} --out {out / "report"}')  # fmt: skip
    session = evaluate(out / 'bag', m.beats, m.gestures, begin)
    text = report(session, out / 'bag', out / 'report')
    table = text[text.index('|') : text.index('\n\n', text.index('|'))]
    print(table)
    print(f'musmove demo: report and plots in {out / "report"}/, the bag in {out / "bag"}/')
    return status, table.splitlines(), session


def human_references() -> str:
    """People's timing, the yardstick of the robot's (`musmove.evaluation.human`), when the shared data is there."""
    try:
        return '\n'.join(human.summary(shared_data() / 'human-timing'))
    except (FileNotFoundError, OSError, ValueError) as error:
        return f'musmove demo: no human references ({" ".join(str(error).split())})'


def listen(launched: subprocess.Popen, begin: float, seconds: float, reference: Path) -> int:
    """Follow the graph for `seconds` of music from `begin`, report it against the beat `reference`, stop it;
    its exit status."""
    with rclpy.init():
        listener = Listener()
        progress = Progress('musmove demo: synchronized frames', round(seconds * SAMPLE_RATE / HOP_SIZE))
        try:
            while launched.poll() is None and time.time() < begin + seconds + 1.0:
                rclpy.spin_once(listener, timeout_sec=0.1)
                progress.show(len(listener.frames))
        finally:
            if launched.poll() is None:
                launched.send_signal(signal.SIGINT)
            status = launched.wait(timeout=60)
        progress.close()
        report_frames(listener)
        report_beats(listener.beats, begin, reference)
    return status


def report_frames(listener: Listener) -> None:
    """Print what the synchronizer published."""
    frames = listener.frames
    if not frames:
        print('musmove demo: no synchronized frame arrived')
        return
    hop_ms = 1000 * HOP_SIZE / SAMPLE_RATE
    print(f'  synchronized frames    {len(frames)}, one per audio frame of {hop_ms:.1f} ms')
    states: dict[str, Counter] = {}  # per stream, by name: a stream may join after the first frames
    for frame in frames:
        for status in frame.streams:
            states.setdefault(status.name, Counter())[STATES[status.state]] += 1
    for stream, counts in states.items():
        counts['NOT_YET'] = len(frames) - counts.total()  # frames before the stream's first sample
        shares = ', '.join(f'{name} {100 * n / len(frames):.1f}%' for name, n in counts.most_common() if n)
        print(f'  {stream:<22} {shares}')
    delays = np.array(listener.delays)
    print(
        f'  frame delay            median {np.median(delays):.1f} ms, p99 {np.percentile(delays, 99):.1f} ms '
        '(publish of a frame - time of its first audio sample)'
    )
    if listener.diagnostics:
        for status in listener.diagnostics.values():
            values = {item.key: item.value for item in status.values}
            if 'estimated_offset_ms_vs_mocap' in values:
                print(
                    f'  {status.hardware_id} offset vs mocap   {values["estimated_offset_ms_vs_mocap"]} ms '
                    f'(correlation {values["offset_correlation"]}; the virtual IMU has none)'
                )


def _seconds(stamp) -> float:
    return stamp.sec + stamp.nanosec / 1e9


def report_beats(beats: list[Beat], begin: float, reference: Path) -> None:
    """Score the live beats (times from `begin`) against `reference`: a MIDI file's performed beats (and its
    metronome and bar lines), or beat times from the start (a text file)."""
    observed = [b for b in beats if b.kind == Beat.OBSERVED]
    if not observed:
        print('  beats                  none arrived')
        return
    times = np.array([_seconds(b.header.stamp) for b in observed]) - begin
    trim, heard = mir_eval.beat.trim_beats, times[-1] + 0.25
    if reference.suffix.lower() in ('.mid', '.midi'):
        performed, clicks = heard_beats(reference)
        played = ~np.isnan(performed)
        bar_lines = np.isin(clicks, metronome(reference)[1]) & played  # the performed beats on the bar lines
        primary, clicks, downbeats = (events[events <= heard] for events in
                                      (performed[played], clicks, performed[bar_lines]))  # fmt: skip
        against = f'vs the metronome click {mir_eval.beat.f_measure(trim(clicks), trim(times)):.3f}'
        what = 'the performed beats'
    else:
        primary = np.loadtxt(reference, ndmin=1, usecols=0)
        primary, downbeats = primary[primary <= heard], np.zeros(0)
        what, against = "the song's reference beats", 'no downbeat reference'
    f_measure = mir_eval.beat.f_measure(trim(primary), trim(times))
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
        f'F-measure {f_measure:.3f}, downbeats {downbeat_f:.3f} (vs {what}, after 5 s; {against})'
    )
    if errors:
        print(f'  predicted beats        median |error| {1000 * np.median(np.abs(errors)):.1f} ms vs where observed')
