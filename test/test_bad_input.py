"""Bad command-line input, table-driven: every node and `musmove` verb answers in one line, non-zero, no traceback.

Each row is what a user might type (a misspelt parameter, a value out of range, a missing or corrupt file);
each is run as a real process. The answer must be a single line naming the problem, with exit status 2
(argparse's usage errors: 2 as well), and never a Python traceback.
"""

import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from musmove.graph import node_executable

ROOT = Path(__file__).resolve().parent.parent
STARTUP = re.compile(r'\[(INFO|DEBUG)\] \[\d+\.\d+\] |pybullet build time')
CONFIG = ROOT / 'config' / 'coordination.yaml'


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


@pytest.fixture(scope='module')
def files(tmp_path_factory) -> dict[str, Path]:
    """Corrupt and empty files of every kind a command reads."""
    folder = tmp_path_factory.mktemp('bad_files')
    (folder / 'empty_folder').mkdir()
    (folder / 'not_a_bag').mkdir()
    write(folder / 'not_a_bag', 'notes.txt', 'hello')
    corrupt_bag = folder / 'corrupt_bag'
    corrupt_bag.mkdir()
    write(corrupt_bag, 'corrupt_bag_0.mcap', b'\x89MCAP0\r\n' + bytes(range(256)) * 4)
    return {
        'yaml': write(folder, 'bad.yaml', 'robot_controller: [unclosed\n'),
        'list_yaml': write(folder, 'list.yaml', '- a\n- b\n'),
        'urdf': write(folder, 'bad.urdf', '<robot name="x"><joint name="j"'),
        'wav': write(folder, 'bad.wav', b'RIFF\x00\x00\x00\x00WAVEjunk'),
        'empty': write(folder, 'empty.wav', b''),
        'csv': write(folder, 'bad.csv', 'this,is\nnot,an,imu\n'),
        'bvh': write(folder, 'bad.bvh', 'HIERARCHY\nROOT\n{\n'),
        'onnx': write(folder, 'beat_corrupt.onnx', b'not a model'),
        'txt': write(folder, 'notes.txt', 'no bag here'),
        'beats': write(folder, 'beats.txt', '0.5 1.0\nnot a time\n'),
        'gestures': write(folder, 'gestures.csv', 'a,b\n1,2\n'),
        'mcap': corrupt_bag / 'corrupt_bag_0.mcap',
        'corrupt_bag': corrupt_bag,
        'empty_folder': folder / 'empty_folder',
        'not_a_bag': folder / 'not_a_bag',
    }


NODE_CASES = {  # node: [arguments after --ros-args]; {name} is a file of `files`
    'beat_tracker': [
        ['-p', 'hop:=abc'],
        ['-p'],
        ['--params-file', '/nonexistent/params.yaml'],
        ['--params-file', '{yaml}'],
        ['--params-file', '{list_yaml}'],
        ['-p', 'min_bpm:=300.0'],
        ['-p', 'min_bpm:=5.0'],
        ['-p', 'max_bpm:=1000.0'],
        ['-p', 'min_bpm:=150.0', '-p', 'max_bpm:=120.0'],
        ['-p', 'prediction_period:=-1.0'],
        ['-p', 'min_confidence:=2.0'],
        ['-p', 'lookahead:=0'],
        ['-p', 'predicted_beats:=-1'],
        ['-p', 'model:=/nonexistent/beat.onnx'],
        ['-p', 'model:={onnx}'],
        ['-p', 'model:=gesture_rnn.onnx'],
        ['-p', 'max_stamp_lead:=0.0'],
        ['-p', 'min_bpm:=fast'],
    ],
    'synchronizer': [
        ['-p', 'stale_after:=-1.0'],
        ['-p', 'max_gap:=0.0'],
        ['-p', 'clock_jump:=-1.0'],
        ['-p', 'imu_cutoff:=-5.0'],
        ['-p', 'mocap_cutoff:=-1.0'],
        ['-p', 'accel_limit:=0.0'],
        ['-p', 'gyro_limit:=-1.0'],
        ['-p', 'max_joint_speed:=0.0'],
        ['-p', 'max_delay:=-0.1'],
        ['-p', 'normalize_time_constant:=0.0'],
        ['-p', 'max_offset:=0.0'],
        ['-p', 'diagnostics_period:=0.0'],
        ['-p', 'offset_period:=-1.0'],
        ['-p', 'mocap_type:=Skeleton'],
        ['-p', 'audio_features:=[bogus]'],
        ['-p', 'max_stamp_lead:=-1.0'],
        ['-p', 'stale_afterr:=0.5'],
        ['--params-file', '{yaml}'],
    ],
    'imu_source': [
        ['-p', 'rate:=-5.0'],
        [],
        ['-p', 'file:=/nonexistent/imu.csv'],
        ['-p', 'file:={csv}'],
        ['-p', 'file:={csv}', '-p', 'start_time:=-1.0'],
        ['-p', 'file:={csv}', '-p', 'time_offset:=1000000000.0'],
        ['-p', 'rate:=1000000.0'],
        ['-p', 'joint:=left_ear', '-p', 'file:={bvh}'],
        ['-p', 'loop:=maybe'],
        ['-r'],
    ],
    'mocap_source': [
        ['-p', 'scale:=-1.0'],
        [],
        ['-p', 'file:=/nonexistent/take.bvh'],
        ['-p', 'file:={bvh}'],
        ['-p', 'file:={csv}'],
        ['-p', 'file:={txt}'],
        ['-p', 'wait_for_subscribers:=-2'],
        ['-p', 'scaling:=1.0'],
    ],
    'audio_source': [
        ['-p', 'sample_rate:=0'],
        ['-p', 'sample_rate:=500'],
        ['-p', 'channels:=0'],
        ['-p', 'channels:=100'],
        ['-p', 'hop_size:=0'],
        ['-p', 'hop_size:=100000'],
        ['-p', 'file:=/nonexistent/song.wav'],
        ['-p', 'file:={wav}'],
        ['-p', 'file:={empty}'],
        ['-p', 'file:={txt}'],
        ['-p', 'file:={wav}', '-p', 'start_time:=-5.0'],
        ['-p', 'samplerate:=22050'],
        ['-p', 'file:={wav}', '-p', 'lookahead:=0.8'],
        ['-p', 'file:={wav}', '-p', 'lookahead:=0.7', '-p', 'hop_size:=8192'],
        ['-p', 'lookahead:=0.3'],
        ['-p', 'playback:=true'],
        ['-p', 'file:={wav}', '-p', 'playback:=true', '-p', 'realtime:=false'],
    ],
    'robot_controller': [
        ['-p', 'urdf:={urdf}'],
        ['-p', 'urdf:=/nonexistent/robot.urdf'],
        ['-p', 'urdf:={txt}'],
        ['-p', 'energy:=2.0'],
        ['-p', 'watchdog_timeout:=0.0'],
        ['-p', 'ramp:=-1.0'],
        ['-p', 'rate:=0.0'],
        ['-p', 'move:=moonwalk'],
        ['-p', 'home:=[0.0]'],
        ['-p', 'acceleration_limits:=[1.0, 2.0]'],
        ['-p', 'latency_window:=0.0'],
        ['-p', 'min_bpm:=200.0'],
        ['-p', 'command_lead:=-1.0'],
        ['-p', 'metrics_period:=0.0'],
        ['-p', 'max_stamp_lead:=0.0'],
        ['-p', 'watchdog:=false'],
        ['--params-file', '{yaml}'],
    ],
    'robot_sim': [
        ['-p', 'robot:=ur5'],
        ['-p', 'rate:=0.0'],
        ['-p', 'delay:=-1.0'],
        ['-p', 'lag:=0.0'],
        ['-p', 'urdf:={urdf}'],
        ['-p', 'urdf:=/nonexistent/robot.urdf'],
        ['-p', 'initial:=[0.0]'],
        ['-p', 'acceleration_limits:=[-1.0]'],
        ['-p', 'acceleration_limits:=[1.0, 2.0]'],
        ['-p', 'robot:=kinematic', '-p', 'urdf:={urdf}'],
    ],
    'gesture_phase': [
        ['-p', 'model:=/nonexistent/gesture.onnx'],
        ['-p', 'model:=beat_crnn.onnx'],
        ['-p', 'model:={onnx}'],
        ['-p', 'joint_names:=[a, b]'],
        ['-p', 'max_stamp_lead:=0.0'],
        ['-p', 'mocap:=x'],
    ],
    'partner_beat': [
        ['-p', 'joint:=tail'],
        ['-p', 'up:=[0.0, 0.0, 0.0]'],
        ['-p', 'beats_per_cycle:=9'],
        ['-p', 'min_bpm:=200.0'],
        ['-p', 'window:=1.0'],
    ],
}

VERB_CASES = [  # arguments of `musmove`
    ['partner-beats', '--offsets', '/nonexistent/offsets.csv'],
    ['partner-beats', '--offsets', '{txt}'],
    ['evaluate', '{not_a_bag}'],
    ['evaluate', '{txt}'],
    ['evaluate', '{empty_folder}'],
    ['evaluate', '{mcap}'],
    ['evaluate', '{corrupt_bag}'],
    ['evaluate', '/nonexistent/bag'],
    ['evaluate', '{corrupt_bag}', '--beats', '/nonexistent/beats.txt'],
    ['evaluate', '{corrupt_bag}', '--start-time', 'soon'],
    ['record', '-o', '/proc/musmove_bag'],
    ['record', '--max-bag-size', '-5'],
    ['record', '--max-bag-duration', '-1'],
    ['record', '--storage', 'zip'],
    ['record', '--privacy', 'maybe'],
    ['play', '/nonexistent/bag'],
    ['play', '{txt}'],
    ['play', '{corrupt_bag}'],
    ['play', '{corrupt_bag}', '--rate', '0'],
    ['play', '{corrupt_bag}', '--rate', 'fast'],
    ['play', '{corrupt_bag}', '--clock', '-1'],
    ['play', '{corrupt_bag}', '--start-offset', 'nan'],
    ['bag', 'info', '{not_a_bag}'],
    ['bag', 'info', '{mcap}'],
    ['bag', 'info', '/nonexistent/bag'],
    ['bag', 'reindex', '{empty_folder}'],
    ['bag', 'reindex', '{txt}'],
    ['bag', 'frobnicate'],
    ['launch', 'coordination', 'beat_modell:=x.onnx'],
    ['launch', 'coordination', 'robot:=ur5'],
    ['launch', 'coordination', 'audio_file:=/nonexistent/song.wav'],
    ['launch', 'coordination', 'start_time:=soon'],
    ['launch', 'coordination', 'namespace:=bad//ns'],
    ['launch', 'coordination', 'config:=/nonexistent/params.yaml'],
    ['launch', 'coordination', 'config:={yaml}'],
    ['launch', 'coordination', 'beat_model:='],
    ['launch', 'choreography'],
    ['train', '--arch', 'mlp'],
    ['train', '--epochs', '0'],
    ['train', '--max-minutes', '-1'],
    ['eval-beats', '--model', '/nonexistent/beat.onnx'],
    ['eval-beats', '--limit', '0'],
    ['run', 'no_such_node'],
    ['demo', '--duration', '-5'],
    ['demo', '--lookahead', '2'],
    ['demo', '--mode', 'dance'],
    ['eval-beats', '--dataset', 'mix', '--split', 'validation'],
    ['record', '--linger', '-1'],
    ['study', '--limit', '0'],
    ['frobnicate'],
]


def answer(command: list[str]) -> tuple[list[str], int, str]:
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    return command, result.returncode, result.stdout + result.stderr


@pytest.mark.timeout(900)  # ~150 processes, each importing rclpy: minutes on a loaded 2-core machine
def test_every_bad_input_is_one_line_and_a_non_zero_exit(files):
    def filled(arguments: list[str]) -> list[str]:
        return [a.format(**files) for a in arguments]

    commands = [
        [str(node_executable(node)), '--ros-args', *filled(arguments)]
        for node, cases in NODE_CASES.items()
        for arguments in cases
    ]
    commands += [['musmove', *filled(arguments)] for arguments in VERB_CASES]
    assert len(commands) >= 100
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(answer, commands))
    wrong = []
    for command, status, output in answers:  # start-up log lines and pybullet's banner are not the answer
        lines = [line for line in output.splitlines() if line.strip() and not STARTUP.match(line)]
        errors = [line for line in lines if 'error' in line.lower()]
        usage = any(line.startswith('usage:') for line in lines)  # argparse: usage, then its one error line
        if status == 0 or 'Traceback' in output or len(errors) != 1 or (len(lines) > 1 and not usage):
            wrong.append(f'{" ".join(command[-4:])} -> {status}: {output[-400:]}')
    assert not wrong, '\n\n'.join(wrong)
