"""The musmove coordination graph.

    ros2 launch musmove coordination.launch.py audio_file:=song.wav

Nodes take their parameters from config/coordination.yaml; launch arguments override them.
Topics (relative, so a namespace moves them all): audio (musmove_msgs/AudioFrame).
"""

from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription


def generate_launch_description() -> LaunchDescription:
    config = LaunchConfiguration('config')
    use_sim_time = LaunchConfiguration('use_sim_time')
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
                'use_sim_time', default_value='false', description='Follow /clock (for replayed bags).'
            ),
            Node(
                package='musmove',
                executable='audio_source',
                name='audio_source',
                output='screen',
                parameters=[config, {'file': LaunchConfiguration('audio_file'), 'use_sim_time': use_sim_time}],
            ),
        ]
    )
