"""Soak: the whole coordination graph for a long time on a loaded machine; count every loss and limit violation.

    python bench/soak.py                      # 10 minutes, a CPU hog on each of 2 cores
    python bench/soak.py --seconds 120 --hogs 0 --out /tmp/soak

It starts `musmove launch coordination` (looping audio, the bundled or shared UCI recording as the
partner's motion capture and virtual IMU, the simulated Panda, the recorder) and `--hogs` busy processes
at the same priority, each ending by itself after the run. At the end it stops the graph and reports:
frame_index gaps of the audio at the synchronizer (its diagnostics' lost_frames), at the beat tracker
(its "frame(s) lost" warnings) and in the bag; IMU and mocap samples in the bag against the sources'
rates; joint states beyond the URDF position or velocity limits; trajectories robot_sim refused or
limited. It asserts nothing; `test/test_soak.py` runs it (2 minutes by default) and asserts that nothing was
lost and no limit crossed.
"""

import argparse
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import rclpy
import yaml
from ament_index_python.packages import get_package_share_directory
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import SingleThreadedExecutor
from rosbags.highlevel import AnyReader

from musmove.demo import DEMO_MIDI, partner_recording
from musmove.progress import Progress
from musmove.robot.limits import JointLimits
from musmove.robot.moves import PANDA_HOME
from musmove.robot.sim import panda_urdf
from musmove.sources.data import bundled, render_midi

HOG = 'import time, sys\nend = time.monotonic() + float(sys.argv[1])\nwhile time.monotonic() < end: pass\n'


def config(folder: Path) -> Path:
    """The shipped parameters with every file source looping, and the UCI units for the synchronizer."""
    parameters = yaml.safe_load(Path(get_package_share_directory('musmove'), 'config', 'coordination.yaml').read_text())
    for node in ('audio_source', 'imu_source', 'mocap_source'):
        parameters[f'/**/{node}']['ros__parameters']['loop'] = True
    parameters['/**/synchronizer']['ros__parameters']['max_joint_speed'] = 200.0  # UCI: not metres
    path = folder / 'soak.yaml'
    path.write_text(yaml.safe_dump(parameters, sort_keys=False))
    return path


def counts(bag: Path) -> dict[str, object]:
    """What the bag holds: audio frame gaps, samples per stream, joint-state limit violations."""
    limits = JointLimits.from_urdf(panda_urdf(), 10.0, list(PANDA_HOME))
    frames, samples, states = [], {}, []
    with AnyReader([bag]) as reader:
        for connection, _, data in reader.messages():
            topic = connection.topic.rsplit('/', 1)[-1]
            samples[topic] = samples.get(topic, 0) + 1
            if topic == 'audio':
                frames.append(reader.deserialize(data, connection.msgtype).frame_index)
            elif topic == 'joint_states':
                message = reader.deserialize(data, connection.msgtype)
                states.append((message.header.stamp.sec + message.header.stamp.nanosec * 1e-9, message.position))
    steps = np.diff(frames)
    times, positions = np.array([t for t, _ in states]), np.array([p for _, p in states])
    velocity = np.diff(positions, axis=0) / np.maximum(np.diff(times), 1e-9)[:, None]
    beyond = (positions < limits.lower - 1e-3) | (positions > limits.upper + 1e-3)
    return {
        'audio frames': len(frames),
        'audio gaps (frames missing)': int(np.sum(np.maximum(steps - 1, 0)[steps > 0])),
        'audio restarts (loop or respawn)': int(np.sum(steps <= 0)),
        'samples per topic': samples,
        'joint states beyond a position limit': int(beyond.any(axis=1).sum()),
        'joint states beyond a velocity limit (+5 %)': int(
            (np.abs(velocity) > 1.05 * limits.velocity).any(axis=1).sum()
        ),
    }


def soak(seconds: float, hogs: int, out: Path) -> dict[str, object]:
    """Run the graph for `seconds` beside `hogs` busy processes; what was lost, refused or beyond a limit."""
    out.mkdir(parents=True, exist_ok=True)
    wav, mocap = render_midi(bundled(DEMO_MIDI), sample_rate=22050), partner_recording()
    begin = time.time() + 10.0
    bag = out / 'bag'
    subprocess.run(['rm', '-rf', str(bag)], check=True)
    arguments = {
        'config': config(out), 'audio_file': wav, 'imu_file': mocap, 'mocap_file': mocap, 'start_time': begin,
        'robot': 'sim', 'record': 'true', 'bag': bag,
    }  # fmt: skip
    log = (out / 'launch.log').open('w')
    graph = subprocess.Popen(
        ['musmove', 'launch', 'coordination', *(f'{k}:={v}' for k, v in arguments.items())], stdout=log, stderr=log
    )
    busy = [subprocess.Popen([sys.executable, '-c', HOG, str(seconds + 15)]) for _ in range(hogs)]
    progress = Progress('soak', round(seconds))
    diagnostics: dict[str, dict[str, str]] = {}
    try:
        context = rclpy.Context()  # its own: the process may have initialised rclpy already (a test)
        with rclpy.init(context=context):
            node = rclpy.create_node('musmove_soak', context=context)
            node.create_subscription(DiagnosticArray, 'diagnostics', lambda m: keep(diagnostics, m), 50)
            executor = SingleThreadedExecutor(context=context)
            executor.add_node(node)
            while time.time() < begin + seconds and graph.poll() is None:
                executor.spin_once(timeout_sec=0.5)
                progress.show(max(0, round(time.time() - begin)))
            node.destroy_node()
        graph.send_signal(signal.SIGINT)
        status = graph.wait(timeout=120)
    finally:  # never leave the graph or a hog running
        if graph.poll() is None:
            graph.kill()
            graph.wait()
        for hog in busy:
            hog.kill()
    text = (out / 'launch.log').read_text()
    return {
        'seconds': seconds,
        'hogs': hogs,
        'graph exit status': status,
        'tracebacks': text.count('Traceback'),
        'beat_tracker lost-frame warnings': sum('frame(s) lost' in line for line in text.splitlines()),
        'diagnostics (last)': {
            name: values for name, values in diagnostics.items() if 'synchronizer' in name or 'sim' in name
        },
        **counts(bag),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seconds', type=float, default=600.0, help='how long the graph runs (default: 600)')
    parser.add_argument('--hogs', type=int, default=2, help='busy processes beside it (default: 2, one per core)')
    parser.add_argument('--out', type=Path, default=Path('/tmp/musmove_soak'), help='bag and logs')
    args = parser.parse_args()
    print(yaml.safe_dump(soak(args.seconds, args.hogs, args.out), sort_keys=False))
    return 0


def keep(diagnostics: dict[str, dict[str, str]], array: DiagnosticArray) -> None:
    """The newest values of each diagnostic status, by name."""
    for status in array.status:
        diagnostics[status.name] = {value.key: value.value for value in status.values}


if __name__ == '__main__':
    sys.exit(main())
