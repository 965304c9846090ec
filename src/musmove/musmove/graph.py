"""The coordination graph: what `coordination.launch.py` and `musmove launch coordination` both start.

One description, plain data (no `launch` import): the launch arguments (name, default, description,
allowed values, the type of the parameters they set), the nodes (executable, which arguments set which
parameters, remappings, the condition that starts them, respawn), and the recorder process.
`launch/coordination.launch.py` turns it into launch actions; `musmove.launcher` into processes.
`check` validates argument values and the parameter file for both, before anything starts.
"""

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

PACKAGE = 'musmove'
TRAJECTORY_TOPIC = 'joint_trajectory_controller/joint_trajectory'
BOOLEAN = ('false', 'true')
RESPAWN_DELAY = 1.0  # seconds before a source that died starts again
RESPAWN_LIMIT = 3  # restarts of one source at most
STOPPED_FIRST = ('robot_controller',)  # brakes the robot to rest while the simulator and recorder run
NOT_RESPAWNED = (0, 2)  # finished its file, or a configuration error that a restart would only repeat


def node_executable(name: str) -> Path:
    """The installed console entry point of a musmove node (what `ros2 run musmove NAME` runs)."""
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix

    try:
        folder = Path(get_package_prefix('musmove'), 'lib', 'musmove')
    except PackageNotFoundError as error:
        raise SystemExit('musmove: error: the musmove package is not installed; run: source tools/env.sh') from error
    path = folder / name
    if not path.is_file():
        known = ', '.join(sorted(p.name for p in folder.iterdir())) or 'none'
        raise SystemExit(f'musmove: error: no node {name!r}; nodes: {known}')
    return path


class ConfigurationError(ValueError):
    """A launch argument or the parameter file is wrong; the message names it and what is allowed."""


@dataclass(frozen=True)
class Argument:
    """A launch argument, given as name:=value.

    `value_type` is the type of the parameters it sets; `check` is '' or what the value must be:
    'file' (an existing file, when not empty), 'topic' (a ROS topic name) or 'namespace'.
    A `share` default is a path inside share/musmove.
    """

    name: str
    default: str
    description: str
    choices: tuple[str, ...] = ()
    value_type: type = str
    check: str = ''
    share: bool = False


@dataclass(frozen=True)
class When:
    """A condition on a launch argument: its value equals `value` (or differs from it, `equal` False)."""

    argument: str
    value: str
    equal: bool = True

    def holds(self, values: Mapping[str, str]) -> bool:
        """Whether the condition holds for these argument values."""
        return (values[self.argument] == self.value) == self.equal


@dataclass(frozen=True)
class Node:
    """A musmove node, named after its executable, with parameters from `config` then arguments.

    `parameters` maps a parameter to the argument that sets it; `remappings` a topic to the argument
    that names its new name. A `respawn` node (a source) starts again when it dies; any other is
    required: when it exits, everything stops.
    """

    executable: str
    parameters: Mapping[str, str] = field(default_factory=dict)
    remappings: Mapping[str, str] = field(default_factory=dict)
    condition: When | None = None
    respawn: bool = False

    @property
    def name(self) -> str:
        return self.executable


@dataclass(frozen=True)
class Arg:
    """The value of a launch argument in a process's command."""

    argument: str


@dataclass(frozen=True)
class Process:
    """A required process that is not a musmove node (outside the namespace)."""

    name: str
    command: tuple[str | Arg, ...]
    condition: When | None = None


ARGUMENTS = (
    Argument('config', 'config/coordination.yaml', 'Parameter file for every node.', check='file', share=True),
    Argument('namespace', '', 'Namespace of every node and topic; empty: none.', check='namespace'),
    Argument('audio_file', '', 'Audio file to play; empty: the live microphone.', check='file'),
    Argument('imu_file', '', 'IMU recording to play (imu_source); empty: a live driver on imu_topic.', check='file'),
    Argument('imu_topic', 'imu', 'IMU topic (imu_source and synchronizer remap imu to it).', check='topic'),
    Argument(
        'mocap_file', '', 'Motion capture to play (mocap_source); empty: a live driver on mocap_topic.', check='file'
    ),
    Argument(
        'mocap_topic', 'mocap', 'Motion-capture topic (mocap_source and synchronizer remap mocap to it).', check='topic'
    ),
    Argument(
        'start_time',
        '0.0',
        'Common clock time [s] of the first sample of every file; 0: each starts at once.',
        value_type=float,
    ),
    Argument(
        'playback',
        'false',
        'Known music: audio_source plays audio_file on the sound card.',
        choices=BOOLEAN,
        value_type=bool,
    ),
    Argument(
        'lookahead', '0.0', 'Known music: audio_source publishes audio_file this far ahead [s].', value_type=float
    ),
    Argument('use_sim_time', 'false', 'Follow /clock (for replayed bags).', choices=BOOLEAN, value_type=bool),
    Argument(
        'beat_model',
        'beat_crnn2.onnx,beat_crnn.onnx',
        'ONNX beat model for beat_tracker (path or name in share/musmove/models; comma-separated: their mean); '
        'none: the DSP fallback.',
    ),
    Argument(
        'gesture_model',
        'gesture_rnn.onnx',
        'ONNX gesture-phase model for gesture_phase (path or name in share/musmove/models); none: no gesture_phase.',
    ),
    Argument(
        'partner_beat',
        'false',
        "Run partner_beat (the partner's beats from their movement): beat_tracker's tempo and the robot follow them.",
        choices=BOOLEAN,
        value_type=bool,
    ),
    Argument(
        'robot',
        'sim',
        'sim: robot_sim and robot_controller; real: robot_controller commanding robot_topic; none: no robot.',
        choices=('sim', 'none', 'real'),
    ),
    Argument(
        'robot_topic',
        TRAJECTORY_TOPIC,
        "JointTrajectory commands of robot_controller, to robot_sim or the real robot's controller.",
        check='topic',
    ),
    Argument('record', 'false', 'Record every topic with `musmove record` into bag.', choices=BOOLEAN),
    Argument('bag', '', 'Bag folder when recording; empty: musmove_<date>-<time>.'),
    Argument(
        'privacy',
        'false',
        'Record features and labels only: no raw audio, skeletons anonymised (musmove record --privacy).',
        choices=BOOLEAN,
    ),
)

COMMON = {'use_sim_time': 'use_sim_time'}
REPLAY = {**COMMON, 'start_time': 'start_time'}
AUDIO = {'file': 'audio_file', 'playback': 'playback', 'lookahead': 'lookahead'}
IMU = {'imu': 'imu_topic'}
MOCAP = {'mocap': 'mocap_topic'}
ROBOT = {**COMMON, 'trajectory_topic': 'robot_topic'}

NODES = (
    Node(
        'audio_source', {**REPLAY, 'file': 'audio_file', 'playback': 'playback', 'lookahead': 'lookahead'}, respawn=True
    ),
    Node('imu_source', {**REPLAY, 'file': 'imu_file'}, IMU, When('imu_file', '', equal=False), respawn=True),
    Node('mocap_source', {**REPLAY, 'file': 'mocap_file'}, MOCAP, When('mocap_file', '', equal=False), respawn=True),
    Node('synchronizer', COMMON, {**IMU, **MOCAP}),
    Node('beat_tracker', {**COMMON, 'model': 'beat_model', 'partner_tempo': 'partner_beat'}),
    Node('gesture_phase', {**COMMON, 'model': 'gesture_model'}, condition=When('gesture_model', 'none', equal=False)),
    Node('partner_beat', COMMON, condition=When('partner_beat', 'true')),
    Node('robot_sim', ROBOT, condition=When('robot', 'sim')),
    Node(
        'robot_controller',
        {**ROBOT, 'follow_partner_beats': 'partner_beat'},
        condition=When('robot', 'none', equal=False),
    ),
)

PROCESSES = (
    Process('recorder', ('musmove', 'record', '-o', Arg('bag'), '--privacy', Arg('privacy')), When('record', 'true')),
)

NAME = re.compile(r'[A-Za-z_][A-Za-z0-9_]*')
TOPIC = re.compile(rf'(~/|/)?{NAME.pattern}(/{NAME.pattern})*')
NAMESPACE = re.compile(rf'(/?{NAME.pattern}(/{NAME.pattern})*)?')


def arguments() -> dict[str, Argument]:
    """The launch arguments by name."""
    return {argument.name: argument for argument in ARGUMENTS}


def nodes(values: Mapping[str, str]) -> list[Node]:
    """The nodes started for these argument values."""
    return [node for node in NODES if node.condition is None or node.condition.holds(values)]


def processes(values: Mapping[str, str]) -> list[Process]:
    """The other processes started for these argument values."""
    return [process for process in PROCESSES if process.condition is None or process.condition.holds(values)]


def absolute_namespace(namespace: str) -> str:
    """The namespace as ROS resolves it: '' is '/', a relative one starts at '/'."""
    return '/' + namespace.strip('/')


def parse(pairs: Sequence[str], defaults: Mapping[str, str]) -> dict[str, str]:
    """Argument values from name:=value pairs over `defaults`; an unknown or malformed one is an error."""
    values = dict(defaults)
    known = arguments()
    for pair in pairs:
        name, separator, value = pair.partition(':=')
        if not separator:
            raise ConfigurationError(f'{pair!r} is not name:=value')
        if name not in known:
            raise ConfigurationError(f'no launch argument {name!r}; arguments: {", ".join(known)}')
        values[name] = value
    return values


def check(values: Mapping[str, str]) -> None:
    """Check every argument value, then the parameter file; raise ConfigurationError naming what is wrong."""
    for argument in ARGUMENTS:
        check_value(argument, values[argument.name])
    for name in ('beat_model', 'gesture_model'):  # `ros2 launch` takes no empty value: none says none
        if not values[name]:
            raise ConfigurationError(f'{name}:= is empty; give a model, or none')
    check_config(Path(values['config']), values['namespace'])


def check_value(argument: Argument, value: str) -> None:
    """Check one argument value against its allowed values, type and kind."""
    given = f'{argument.name}:={value}'
    if argument.choices and value not in argument.choices:
        raise ConfigurationError(f'{given} is not allowed; allowed values: {", ".join(argument.choices)}')
    if argument.value_type is float and not is_number(value):
        raise ConfigurationError(f'{given} is not a number')
    if argument.check == 'file' and value and not Path(value).is_file():
        raise ConfigurationError(f'{given}: no such file')
    if argument.check == 'topic' and not TOPIC.fullmatch(value):
        raise ConfigurationError(f'{given} is not a topic name (letters, digits, _ and / between names)')
    if argument.check == 'namespace' and not NAMESPACE.fullmatch(value):
        raise ConfigurationError(f'{given} is not a namespace (empty, or names of letters, digits, _ joined by /)')


def is_number(value: str) -> bool:
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def check_config(path: Path, namespace: str) -> None:
    """Check the parameter file: YAML whose every key is a node (or /**) with a ros__parameters mapping.

    Keys are full node names: 'audio_source' is /audio_source, which a namespace moves away from;
    '/**/audio_source' matches the node in any namespace.
    """
    try:
        config = yaml.safe_load(path.read_text())
    except OSError as error:
        raise ConfigurationError(f'{path}: cannot read the parameter file ({error.strerror})') from error
    except yaml.YAMLError as error:
        raise ConfigurationError(f'{path}: not YAML: {" ".join(str(error).split())}') from error
    if not isinstance(config, dict):
        raise ConfigurationError(f'{path}: expected node names, each with ros__parameters')
    for key, section in config.items():
        check_section(path, str(key), section)
    check_namespace(path, [str(key) for key in config], absolute_namespace(namespace))


def check_section(path: Path, key: str, section: object) -> None:
    """Check one top-level entry of the parameter file."""
    known = [node.name for node in NODES]
    if key != '/**' and key.rsplit('/', 1)[-1] not in known:
        raise ConfigurationError(f'{path}: {key!r} is not a node; nodes: {", ".join(known)} (or /**/NODE)')
    if not isinstance(section, dict) or set(section) != {'ros__parameters'}:
        raise ConfigurationError(f'{path}: {key}: expected ros__parameters and nothing else')
    if not isinstance(section['ros__parameters'], dict):
        raise ConfigurationError(f'{path}: {key}: ros__parameters must map parameter names to values')


def check_namespace(path: Path, keys: list[str], namespace: str) -> None:
    """Every node named in the file must have a key that applies to it in `namespace`."""
    applying = {key.rsplit('/', 1)[-1] for key in keys if applies(key, namespace)}
    for key in keys:
        node = key.rsplit('/', 1)[-1]
        if key != '/**' and node not in applying:
            raise ConfigurationError(
                f'{path}: {key!r} does not apply to {namespace.rstrip("/")}/{node} (keys are full node names); '
                f'name it /**/{node} to apply in any namespace'
            )


def applies(key: str, namespace: str) -> bool:
    """Whether a parameter-file key may match a node in `namespace` (any wildcard is taken to match)."""
    prefix = key.rsplit('/', 1)[0] if '/' in key else ''
    return '*' in prefix or absolute_namespace(prefix) == namespace
