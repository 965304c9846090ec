"""`musmove launch coordination` and launch/coordination.launch.py: one graph, from musmove.graph."""

import importlib.util
import os
import re
import shlex
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from ros_helpers import wait_for

from musmove import graph
from musmove.launcher import default_values

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / 'config' / 'coordination.yaml'
LAUNCH_FILE = ROOT / 'launch' / 'coordination.launch.py'
SOURCES = ['audio_source']
CORE = ['synchronizer', 'beat_tracker', 'gesture_phase']
SIM = ['robot_sim', 'robot_controller']
FILES = ['audio_source', 'imu_source', 'mocap_source']
# Argument sets ({tmp}: a folder with take.csv and take.bvh) and what they start, in order.
GRAPHS = {
    'default': ([], [*SOURCES, *CORE, *SIM]),
    'files': (['imu_file:={tmp}/take.csv', 'mocap_file:={tmp}/take.bvh'], [*FILES, *CORE, *SIM]),
    'no robot': (['robot:=none'], [*SOURCES, *CORE]),
    'real robot': (['robot:=real', 'robot_topic:=/panda/joint_trajectory'], [*SOURCES, *CORE, 'robot_controller']),
    'recording': (['record:=true', 'bag:={tmp}/session'], [*SOURCES, *CORE, *SIM, 'recorder']),
    'private recording': (['record:=true', 'bag:={tmp}/s', 'privacy:=true'], [*SOURCES, *CORE, *SIM, 'recorder']),
    'no gesture model': (['gesture_model:=none'], [*SOURCES, 'synchronizer', 'beat_tracker', *SIM]),
}
RECORDER = {  # the recorder's command line
    'recording': ['musmove', 'record', '-o', '{tmp}/session', '--privacy', 'false'],
    'private recording': ['musmove', 'record', '-o', '{tmp}/s', '--privacy', 'true'],
}
STARTED = re.compile(r'^musmove launch: started (\w+) \(pid (\d+)\)$', re.MULTILINE)


def musmove_launch(*arguments: str, option: str = '') -> subprocess.CompletedProcess:
    command = ['musmove', 'launch', *([option] if option else []), 'coordination', *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def expand(arguments: list[str], tmp_path: Path) -> list[str]:
    for name in ('take.csv', 'take.bvh'):
        (tmp_path / name).touch()
    return [argument.format(tmp=tmp_path) for argument in arguments]


def argument_values(arguments: list[str]) -> dict[str, str]:
    return graph.parse(arguments, default_values())


def printed(arguments: list[str]) -> dict[str, list[str]]:
    """The command line of each process `musmove launch --print` would start, by name."""
    result = musmove_launch(*arguments, option='--print')
    assert result.returncode == 0, result.stderr
    lines = [line.split(': ', 1) for line in result.stdout.splitlines()]
    return {name: shlex.split(command) for name, command in lines}


def alive(pid: int) -> bool:
    """Whether the process exists (and is not a zombie)."""
    try:
        return Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()[0] != 'Z'
    except FileNotFoundError:
        return False


def started(stderr: str) -> list[tuple[str, int]]:
    return [(name, int(pid)) for name, pid in STARTED.findall(stderr)]


@pytest.mark.parametrize('case', GRAPHS)
def test_print_shows_the_graph_for_the_arguments(case, tmp_path):
    arguments, expected = GRAPHS[case]
    arguments = expand(arguments, tmp_path)
    commands = printed(arguments)
    assert list(commands) == expected
    values = argument_values(arguments)
    assert [n.name for n in graph.nodes(values)] + [p.name for p in graph.processes(values)] == expected
    for name, command in commands.items():
        if name != 'recorder':
            assert command[1:4] == ['--ros-args', '-r', f'__node:={name}']
            assert command[command.index('--params-file') + 1] == str(default_values()['config'])
    if case == 'files':
        assert f'file:="{tmp_path}/take.csv"' in commands['imu_source']
        assert 'imu:=imu' in commands['synchronizer'] and 'mocap:=mocap' in commands['mocap_source']
    if case == 'real robot':
        assert 'trajectory_topic:="/panda/joint_trajectory"' in commands['robot_controller']
    if case in RECORDER:
        assert commands['recorder'][1:] == expand(RECORDER[case], tmp_path)[1:]


def test_arguments_are_typed_namespaced_and_remapped(tmp_path):
    config = tmp_path / 'namespaced.yaml'
    config.write_text(re.sub(r'^(\w+):$', r'/**/\1:', CONFIG.read_text(), flags=re.MULTILINE))
    arguments = [f'config:={config}', 'namespace:=lab', 'start_time:=5', 'use_sim_time:=true', 'imu_topic:=/xsens/imu']
    commands = printed([*arguments, f'imu_file:={config}'])
    assert all(command[command.index('--params-file') + 1] == str(config) for command in commands.values())
    assert all('__ns:=/lab' in command for command in commands.values())
    assert {'start_time:=5.0', 'use_sim_time:=true', 'imu:=/xsens/imu'} <= set(commands['imu_source'])
    assert 'imu:=/xsens/imu' in commands['synchronizer']


def test_show_args_lists_every_argument():
    result = musmove_launch(option='--show-args')
    assert result.returncode == 0
    shown = re.findall(r'^  (\w+):=', result.stdout, flags=re.MULTILINE)
    assert shown == [argument.name for argument in graph.ARGUMENTS]
    assert 'Allowed values: sim, none, real.' in result.stdout


@pytest.mark.parametrize(
    ('argument', 'message'),
    [
        ('robot:=humanoid', 'robot:=humanoid is not allowed; allowed values: sim, none, real'),
        ('beat_modell:=x.onnx', "no launch argument 'beat_modell'; arguments: config, namespace, audio_file"),
        ('robot', "'robot' is not name:=value"),
        ('start_time:=soon', 'start_time:=soon is not a number'),
        ('use_sim_time:=yes', 'use_sim_time:=yes is not allowed; allowed values: false, true'),
        ('audio_file:=/no/such/song.wav', 'audio_file:=/no/such/song.wav: no such file'),
        ('imu_topic:=imu data', 'imu_topic:=imu data is not a topic name'),
        ('privacy:=yes', 'privacy:=yes is not allowed; allowed values: false, true'),
        ('gesture_model:=', 'gesture_model:= is empty; give a model, or none'),
    ],
)
def test_a_wrong_argument_stops_before_anything_starts(argument, message):
    result = musmove_launch(argument)
    assert result.returncode == 2
    assert result.stderr.startswith(f'musmove launch: error: {message}'), result.stderr
    assert result.stderr.count('\n') == 1 and result.stdout == ''


@pytest.mark.parametrize(
    ('text', 'message'),
    [
        ('beat_traker:\n  ros__parameters: {}\n', "'beat_traker' is not a node; nodes: audio_source, imu_source"),
        ('beat_tracker:\n  lookahead: 4\n', 'beat_tracker: expected ros__parameters and nothing else'),
        ('beat_tracker:\n  ros__parameters: [4]\n', 'beat_tracker: ros__parameters must map parameter names'),
        ('beat_tracker: [\n', 'not YAML: while parsing a flow node'),
        ('- beat_tracker\n', 'expected node names, each with ros__parameters'),
    ],
)
def test_a_wrong_parameter_file_is_named_with_its_key(text, message, tmp_path):
    config = tmp_path / 'coordination.yaml'
    config.write_text(text)
    result = musmove_launch(f'config:={config}')
    assert result.returncode == 2
    assert result.stderr.startswith(f'musmove launch: error: {config}: {message}'), result.stderr
    assert result.stderr.count('\n') == 1 and result.stdout == ''


def test_config_keys_must_reach_the_nodes_in_the_namespace(tmp_path):
    """'audio_source' is the node /audio_source: under a namespace its parameters would be lost silently."""
    assert all('__ns:=/lab' in command for command in printed(['namespace:=lab']).values())  # shipped keys: /**/
    config = tmp_path / 'coordination.yaml'
    config.write_text('audio_source:\n  ros__parameters: {hop_size: 512}\n')
    result = musmove_launch('namespace:=lab', f'config:={config}')
    assert result.returncode == 2
    assert "'audio_source' does not apply to /lab/audio_source" in result.stderr
    assert 'name it /**/audio_source' in result.stderr


def test_graph_runs_prefixed_respawns_sources_and_stops_on_sigint(ros_node, groove_wav, tmp_path):
    expected = [*SOURCES, *CORE, *SIM]
    out, err = tmp_path / 'stdout', tmp_path / 'stderr'
    with out.open('w') as stdout, err.open('w') as stderr:
        command = ['musmove', 'launch', 'coordination', f'audio_file:={groove_wav}', 'robot:=sim']
        launcher = subprocess.Popen(command, stdout=stdout, stderr=stderr)

    def in_graph() -> bool:
        return {(name, '/') for name in expected} <= set(ros_node.get_node_names_and_namespaces())

    def logged() -> bool:  # beat_tracker logs nothing at start
        return all(f'[{name}] [INFO]' in err.read_text() for name in expected if name != 'beat_tracker')

    try:
        assert wait_for(in_graph, ros_node, timeout=40), err.read_text()
        assert wait_for(logged, ros_node, timeout=10), err.read_text()
        assert [name for name, _ in started(err.read_text())] == expected
        os.kill(dict(started(err.read_text()))['audio_source'], signal.SIGKILL)
        assert wait_for(lambda: err.read_text().count('[audio_source] [INFO]') == 2, ros_node, timeout=15)
        assert len(started(err.read_text())) == len(expected) + 1
        assert 'audio_source was killed by SIGKILL; respawning (1 of 3)' in err.read_text()
        launcher.send_signal(signal.SIGINT)
        assert launcher.wait(timeout=20) == 0, err.read_text()
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert not [pid for _, pid in started(err.read_text()) if alive(pid)]
    lines = out.read_text().splitlines() + err.read_text().splitlines()
    prefixes = (*(f'[{name}] ' for name in expected), 'musmove launch: ')
    assert [line for line in lines if not line.startswith(prefixes)] == []
    assert 'musmove launch: SIGINT: stopping' in lines


def test_a_required_node_dying_stops_everything_and_names_it(groove_wav, tmp_path):
    begin = time.monotonic()
    result = musmove_launch(f'audio_file:={groove_wav}', 'robot:=none', f'beat_model:={tmp_path}/missing.onnx')
    assert result.returncode == 1
    assert 'musmove launch: error: beat_tracker exited with status 2; stopping the others' in result.stderr
    assert '[beat_tracker] beat_tracker: error: model:' in result.stderr
    assert [name for name, _ in started(result.stderr)] == [*SOURCES, *CORE]
    assert not [pid for _, pid in started(result.stderr) if alive(pid)]
    assert time.monotonic() - begin < 30


def launch_description():
    """generate_launch_description() of launch/coordination.launch.py, or a skip without ROS 2 launch."""
    try:  # launch_ros first: the repository's launch/ folder would pass for the launch package
        import launch_ros.actions  # noqa: F401

        from launch import LaunchDescription  # noqa: F401
    except ImportError as error:
        pytest.skip(f'the launch package (ROS 2 launch) is not installed: {error}')
    spec = importlib.util.spec_from_file_location('coordination_launch', LAUNCH_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate_launch_description()


@pytest.mark.parametrize('case', GRAPHS)
def test_launch_file_starts_the_same_graph(case, tmp_path):
    description = launch_description()
    from launch.utilities import normalize_to_list_of_substitutions, perform_substitutions
    from launch_ros.actions import Node

    from launch import LaunchContext

    values = argument_values(expand(GRAPHS[case][0], tmp_path))
    context = LaunchContext()
    context.launch_configurations.update(values)

    def text(substitutions) -> str:
        return perform_substitutions(context, normalize_to_list_of_substitutions(substitutions))

    entities = [e for entity in description.entities for e in [entity, *entity.get_sub_entities()]]
    started = [e for e in entities if hasattr(e, 'cmd') and (e.condition is None or e.condition.evaluate(context))]
    nodes = [text(e.node_executable) for e in started if isinstance(e, Node)]
    assert nodes == [node.executable for node in graph.nodes(values)]
    commands = [[text(part) for part in e.cmd] for e in started if not isinstance(e, Node)]
    assert commands == ([expand(RECORDER[case], tmp_path)] if case in RECORDER else [])
    declared = {argument.name: argument.choices for argument in description.get_launch_arguments()}
    assert declared == {argument.name: list(argument.choices) or None for argument in graph.ARGUMENTS}


def test_a_node_that_dies_stops_the_graph_with_the_robot_at_rest_in_the_bag(ros_node, groove_wav, tmp_path):
    """beat_tracker killed mid-dance: the controller is stopped first and brakes; the bag ends with the robot still."""
    from rosbags.highlevel import AnyReader

    bag, err = tmp_path / 'bag', tmp_path / 'stderr'
    arguments = [f'audio_file:={groove_wav}', 'robot:=sim', 'record:=true', f'bag:={bag}', 'gesture_model:=none']
    with err.open('w') as stderr:
        launcher = subprocess.Popen(['musmove', 'launch', 'coordination', *arguments], stdout=stderr, stderr=stderr)
    try:
        dancing = lambda: err.read_text().count('asynchrony') >= 2  # noqa: E731 - the controller reports it dances
        assert wait_for(dancing, ros_node, timeout=90), err.read_text()[-3000:]
        os.kill(dict(started(err.read_text()))['beat_tracker'], signal.SIGKILL)
        assert launcher.wait(timeout=60) == 1, err.read_text()[-3000:]
    finally:
        if launcher.poll() is None:
            launcher.kill()
    text = err.read_text()
    assert 'beat_tracker was killed by SIGKILL; stopping the others' in text
    assert 'braked to a standstill' in text
    with AnyReader([bag]) as reader:
        states = [reader.deserialize(data, c.msgtype) for c, _, data in reader.messages() if c.topic == '/joint_states']
    assert len(states) > 100
    last = np.array([s.velocity for s in states[-10:]])
    assert np.abs(last).max() < 1e-3, np.abs(last).max()  # recorded at rest, not mid-motion
