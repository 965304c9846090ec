"""The musmove coordination graph.

    ros2 launch musmove coordination.launch.py audio_file:=song.wav mocap_file:=take.bvh imu_file:=take.bvh
    ros2 launch musmove coordination.launch.py --show-args

What it starts is described once, in `musmove.graph`, which `musmove launch coordination` (pip-only)
starts too: the launch arguments, and the nodes with their parameters (config/coordination.yaml, then
the launch arguments marked there), conditions, remappings and respawn. The arguments and the
parameter file are checked before any node starts.

Topics (relative, so `namespace` moves them all): audio (musmove_msgs/AudioFrame), imu
(sensor_msgs/Imu), mocap (geometry_msgs/PoseArray), sync_frame (musmove_msgs/SyncFrame), beats
(musmove_msgs/Beat), joint_states (sensor_msgs/JointState), robot_topic (trajectory_msgs/JointTrajectory),
coordination_metrics (musmove_msgs/CoordinationMetrics), diagnostics (diagnostic_msgs/DiagnosticArray).
Remappings: imu to imu_topic and mocap to mocap_topic in imu_source, mocap_source and synchronizer, so a
live driver replaces a file source: leave imu_file or mocap_file empty and name the driver's topic.
A source that dies starts again after `graph.RESPAWN_DELAY`, at most `graph.RESPAWN_LIMIT` times; one
that finished its file (status 0) or stopped on a configuration error (status 2) stays down, as in
`musmove launch`. When any other process exits, the launch shuts down. An argument the file does not
declare is named in a warning (ros2 launch itself ignores it).
"""

from launch.actions import (
    DeclareLaunchArgument,
    ExecuteProcess,
    GroupAction,
    LogInfo,
    OpaqueFunction,
    Shutdown,
    TimerAction,
)
from launch.conditions import IfCondition
from launch.events.process import ProcessExited
from launch.launch_context import LaunchContext
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node, PushRosNamespace
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

from launch import Condition, LaunchDescription
from musmove import graph

try:
    from launch.substitutions import EqualsSubstitution, NotEqualsSubstitution
except ImportError:  # ROS 2 Humble
    from launch.conditions import LaunchConfigurationEquals, LaunchConfigurationNotEquals

    def condition(when: graph.When | None) -> Condition | None:
        """The launch condition of `when`."""
        if when is None:
            return None
        kind = LaunchConfigurationEquals if when.equal else LaunchConfigurationNotEquals
        return kind(when.argument, when.value)
else:

    def condition(when: graph.When | None) -> Condition | None:
        """The launch condition of `when` (a file name with quotes is fine)."""
        if when is None:
            return None
        kind = EqualsSubstitution if when.equal else NotEqualsSubstitution
        return IfCondition(kind(LaunchConfiguration(when.argument), when.value))


def declare(argument: graph.Argument) -> DeclareLaunchArgument:
    """The DeclareLaunchArgument of a graph argument; a share default is found in share/musmove."""
    default = argument.default
    if argument.share:
        default = PathJoinSubstitution([FindPackageShare(graph.PACKAGE), argument.default])
    choices = list(argument.choices) or None
    return DeclareLaunchArgument(
        argument.name, default_value=default, description=argument.description, choices=choices
    )


def check(context: LaunchContext) -> list:
    """Check the argument values and the parameter file (graph.check) before any node starts."""
    graph.check({argument.name: context.launch_configurations[argument.name] for argument in graph.ARGUMENTS})
    given = {argument.partition(':=')[0] for argument in context.argv if ':=' in argument}  # on the command line
    unknown = sorted(given - set(graph.arguments()))
    if unknown:
        known = ', '.join(graph.arguments())
        return [LogInfo(msg=f'WARNING: unknown launch argument(s) {", ".join(unknown)} ignored; arguments: {known}')]
    return []


def typed(argument: str) -> ParameterValue:
    """The launch argument as a parameter of its type: start_time:=5 is a float, a file name a string."""
    return ParameterValue(LaunchConfiguration(argument), value_type=graph.arguments()[argument].value_type)


def respawn(description: graph.Node, restarts: int, event: ProcessExited, context: LaunchContext) -> list:
    """A source that died, started again after a delay, a bounded number of times (as `musmove launch` does)."""
    name, status = description.name, event.returncode
    if context.is_shutdown:
        return []
    if status in graph.NOT_RESPAWNED:
        return [LogInfo(msg=f'{name} exited with status {status}: not respawned')]
    if restarts >= graph.RESPAWN_LIMIT:
        return [LogInfo(msg=f'{name} exited with status {status}: gave up after {restarts} respawns')]
    again = GroupAction([PushRosNamespace(LaunchConfiguration('namespace')), node(description, restarts + 1)])
    message = f'{name} exited with status {status}: respawning ({restarts + 1} of {graph.RESPAWN_LIMIT})'
    return [LogInfo(msg=message), TimerAction(period=graph.RESPAWN_DELAY, actions=[again])]


def node(description: graph.Node, restarts: int = 0) -> Node:
    """A musmove node: parameters from the config file then the arguments; a source respawns."""
    overrides = {parameter: typed(argument) for parameter, argument in description.parameters.items()}
    if description.respawn:
        lifecycle = {'on_exit': lambda event, context: respawn(description, restarts, event, context)}
    else:
        lifecycle = {'on_exit': Shutdown(reason=f'required node {description.name} exited')}
    return Node(
        package=graph.PACKAGE,
        executable=description.executable,
        name=description.name,
        output='screen',
        parameters=[LaunchConfiguration('config'), overrides],
        remappings=[(topic, LaunchConfiguration(argument)) for topic, argument in description.remappings.items()],
        condition=condition(description.condition),
        **lifecycle,
    )


def process(description: graph.Process) -> ExecuteProcess:
    """A required process that is not a node (the recorder), its command's arguments substituted."""
    command = [LaunchConfiguration(p.argument) if isinstance(p, graph.Arg) else p for p in description.command]
    return ExecuteProcess(
        cmd=command,
        name=description.name,
        output='screen',
        condition=condition(description.condition),
        on_exit=Shutdown(reason=f'required process {description.name} exited'),
    )


def generate_launch_description() -> LaunchDescription:
    nodes = [node(description) for description in graph.NODES]
    return LaunchDescription(
        [
            *(declare(argument) for argument in graph.ARGUMENTS),
            OpaqueFunction(function=check),
            GroupAction([PushRosNamespace(LaunchConfiguration('namespace')), *nodes]),
            *(process(description) for description in graph.PROCESSES),
        ]
    )
