"""imu_source: sensor_msgs/Imu from a recorded file, paced like the live sensor.

Topics:
    imu (sensor_msgs/Imu, reliable: `musmove.nodes.SOURCE_QOS`): one message per sample.

A real IMU driver's sensor_msgs/Imu topic takes this node's place with a remap to `imu` (or by
naming it in the synchronizer's `imu_topics`). From motion capture (a dance-melody `skeletons.npz` with
joint:=right_wrist, say) the IMU is virtual: frame_id '<mocap frame>/<joint>' says so. Unknown orientation
or angular velocity is marked as REP 145 says: element 0 of its covariance is -1.
"""

import numpy as np
from rclpy.time import Time
from sensor_msgs.msg import Imu

from musmove.nodes import SOURCE_QOS, ConfigurationError, spin
from musmove.nodes.replay import FileSource
from musmove.sources.recordings import read_imu


class ImuSource(FileSource):
    """Replay an IMU CSV, or the virtual IMU of a joint in a motion-capture file."""

    def __init__(self) -> None:
        super().__init__('imu_source')
        self.declare_replay_parameters(
            'IMU recording: a CSV in the documented layout, or motion capture (BVH, C3D, UCI *_raw.csv, '
            'dance-melody skeletons.npz) read as a virtual IMU on `joint`.',
            rescalable=True,
        )
        joint = self.parameter('joint', 'right_wrist', 'Joint that carries the virtual IMU in a motion-capture file.')
        rate = self.parameter('rate', 0.0, 'Resample to this rate [Hz]; 0: the recording rate.', low=0.0, high=10_000.0)
        if not self.file:
            raise ConfigurationError('no `file` to play; a live IMU driver publishes sensor_msgs/Imu itself')
        try:
            recording = read_imu(self.file, joint)
        except ValueError as error:
            raise ConfigurationError(str(error)) from error
        times, columns = recording.times, [recording.linear_acceleration]
        columns += [c for c in (recording.angular_velocity, recording.orientation) if c is not None]
        data = np.hstack(columns)
        if rate > 0:
            grid = np.arange(0.0, times[-1], 1.0 / rate)
            data = np.column_stack([np.interp(grid, times, column) for column in data.T])
            times = grid
        finite = np.isfinite(data).all(axis=1)
        if not finite.all():
            self.get_logger().info(f'{(~finite).sum()} samples with missing values are not published')
        self.data, self.recording = data, recording
        self.frame_id = self.frame_id or recording.frame_id
        self.imu_publisher = self.create_publisher(Imu, 'imu', SOURCE_QOS)
        self.finite = finite
        self.start_replay(np.round(times * 1e9).astype(np.int64), self.imu_publisher, self._publish_sample)

    def _publish_sample(self, index: int, stamp: Time) -> None:
        if not self.finite[index]:
            return
        row = self.data[index]
        message = Imu()
        message.header.stamp = stamp.to_msg()
        message.header.frame_id = self.frame_id
        a = message.linear_acceleration
        a.x, a.y, a.z = row[:3]
        if self.recording.angular_velocity is None:
            message.angular_velocity_covariance[0] = -1.0
        else:
            w = message.angular_velocity
            w.x, w.y, w.z = row[3:6]
        if self.recording.orientation is None:
            message.orientation_covariance[0] = -1.0
        else:
            q = message.orientation
            q.x, q.y, q.z, q.w = row[-4:]
        self.imu_publisher.publish(message)


def main(args: list[str] | None = None) -> int:
    return spin(ImuSource, args)
