"""The musmove coordination graph.

    ros2 launch musmove coordination.launch.py audio_file:=song.wav mocap_file:=take.bvh imu_file:=take.bvh

Nodes take their parameters from config/coordination.yaml; launch arguments override them.
Topics (relative, so a namespace moves them all): audio (musmove_msgs/AudioFrame), imu
(sensor_msgs/Imu), mocap (geometry_msgs/PoseArray), sync_frame (musmove_msgs/SyncFrame),
beats (musmove_msgs/Beat), diagnostics (diagnostic_msgs/DiagnosticArray). A live IMU or mocap driver replaces a file
source: leave imu_file or mocap_file empty and remap the driver's topic to imu or mocap.
"""

from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription

try:
    from launch.substitutions import NotEqualsSubstitution
except ImportError:  # ROS 2 Humble
    from launch.conditions import LaunchConfigurationNotEquals

    def given(argument: str) -> LaunchConfigurationNotEquals:
        """True when the launch argument is not empty."""
        return LaunchConfigurationNotEquals(argument, '')
else:

    def given(argument: str) -> IfCondition:
        """True when the launch argument is not empty (a file name with quotes is fine)."""
        return IfCondition(NotEqualsSubstitution(LaunchConfiguration(argument), ''))


def typed(argument: str, value_type: type) -> ParameterValue:
    """The launch argument as a parameter of `value_type`: start_time:=5 is a float, a file named on a string."""
    return ParameterValue(LaunchConfiguration(argument), value_type=value_type)


def musmove_node(executable: str, parameters: dict, **kwargs) -> Node:
    """A musmove node named after its executable, parameters from the config file then `parameters`."""
    config = LaunchConfiguration('config')
    return Node(
        package='musmove',
        executable=executable,
        name=executable,
        output='screen',
        parameters=[config, parameters],
        **kwargs,
    )


def generate_launch_description() -> LaunchDescription:
    common = {'use_sim_time': typed('use_sim_time', bool)}
    replay = {**common, 'start_time': typed('start_time', float)}
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                'config',
                default_value=PathJoinSubstitution([FindPackageShare('musmove'), 'config', 'coordination.yaml']),
                description='Parameter file for every node.',
            ),
            DeclareLaunchArgument(
                'audio_file', default_value='', description='Audio file to play; empty: the live microphone.'
            ),
            DeclareLaunchArgument(
                'imu_file', default_value='', description='IMU recording to play; empty: a live driver on imu.'
            ),
            DeclareLaunchArgument(
                'mocap_file', default_value='', description='Motion capture to play; empty: a live driver on mocap.'
            ),
            DeclareLaunchArgument(
                'start_time',
                default_value='0.0',
                description='Common clock time [s] of the first sample of every file; 0: each starts at once.',
            ),
            DeclareLaunchArgument(
                'beat_model',
                default_value='beat_crnn.onnx',
                description='ONNX beat model for beat_tracker (path or name in share/musmove/models); empty: DSP.',
            ),
            DeclareLaunchArgument(
                'use_sim_time', default_value='false', description='Follow /clock (for replayed bags).'
            ),
            musmove_node('audio_source', {**replay, 'file': typed('audio_file', str)}),
            musmove_node('imu_source', {**replay, 'file': typed('imu_file', str)}, condition=given('imu_file')),
            musmove_node('mocap_source', {**replay, 'file': typed('mocap_file', str)}, condition=given('mocap_file')),
            musmove_node('synchronizer', common),
            musmove_node('beat_tracker', {**common, 'model': typed('beat_model', str)}),
        ]
    )
