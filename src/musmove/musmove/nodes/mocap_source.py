"""mocap_source: a motion-capture skeleton from a recorded file as geometry_msgs/PoseArray.

Topics:
    mocap (geometry_msgs/PoseArray, reliable: `musmove.nodes.SOURCE_QOS`): one pose per joint, in the order of the
        `joints` parameter (empty: the file's order, logged at start); orientation is the identity
        when the file has none (C3D markers, UCI Kinect joints, dance-melody skeletons). A dance-melody
        `skeletons.npz` plays its 23 joints in the room (skeleton + center, m, y up) in the order that
        `musmove.sources.dance` documents, at 25 fps from the dance's first frame (song time: config.json's
        start_position / 25 s; the measured offset: `clock_offset`, `time_scale`).

Drivers that publish one geometry_msgs/PoseStamped per rigid body (VRPN, OptiTrack, Vicon) take
this node's place through the synchronizer's `mocap_type` and `mocap_topics` parameters.
"""

import numpy as np
from geometry_msgs.msg import Pose, PoseArray
from rclpy.time import Time

from musmove.nodes import SOURCE_QOS, ConfigurationError, spin
from musmove.nodes.replay import FileSource
from musmove.sources.recordings import read_mocap, select_joints


class MocapSource(FileSource):
    """Replay a BVH, C3D or UCI gesture-phase recording frame by frame."""

    def __init__(self) -> None:
        super().__init__('mocap_source')
        self.declare_replay_parameters(
            'Motion capture to play: BVH, C3D, UCI gesture-phase *_raw.csv or dance-melody skeletons.npz.',
            rescalable=True,
        )
        joints = [j for j in self.parameter('joints', [''], 'Joints to publish, in this order; [""]: all.') if j]
        scale = self.parameter('scale', 0.0, 'Metres per file unit; 0: the format default.', low=0.0)
        if not self.file:
            raise ConfigurationError('no `file` to play; a live mocap driver publishes its poses itself')
        try:
            recording = read_mocap(self.file, scale or None)
            if joints:
                recording = select_joints(recording, joints)
        except ValueError as error:
            raise ConfigurationError(str(error)) from error
        self.recording = recording
        self.frame_id = self.frame_id or recording.frame_id
        self.get_logger().info(f'joints: {", ".join(recording.joint_names)}')
        self.mocap_publisher = self.create_publisher(PoseArray, 'mocap', SOURCE_QOS)
        times = np.round(recording.times * 1e9).astype(np.int64)
        self.start_replay(times, self.mocap_publisher, self._publish_frame)

    def _publish_frame(self, index: int, stamp: Time) -> None:
        message = PoseArray()
        message.header.stamp = stamp.to_msg()
        message.header.frame_id = self.frame_id
        orientations = self.recording.orientations
        for joint, position in enumerate(self.recording.positions[index]):
            pose = Pose()
            pose.position.x, pose.position.y, pose.position.z = (float(v) for v in position)
            if orientations is not None:
                o = pose.orientation
                o.x, o.y, o.z, o.w = (float(v) for v in orientations[index, joint])
            message.poses.append(pose)
        self.mocap_publisher.publish(message)


def main(args: list[str] | None = None) -> int:
    return spin(MocapSource, args)
