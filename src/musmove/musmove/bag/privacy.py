"""Privacy recording: what `musmove record --privacy` keeps of each message type, and how it anonymises it.

Dropped whole: raw audio (`AudioFrame`: speech and the room), camera images and point clouds, and
single rigid bodies (`PoseStamped`: where a person is). Anonymised: skeletons (`PoseArray`, and the
joints of `SyncFrame`) keep only their shape: positions relative to the joints' centroid, divided by
their RMS distance from it (no place in the room, no body size), orientations set to identity.
Everything else (features, IMU kinematics, beats, gesture phases, the robot's states and commands,
metrics, diagnostics) is kept as it is.
"""

import numpy as np
from geometry_msgs.msg import Pose
from rclpy.serialization import deserialize_message, serialize_message

from musmove.bag.types import message_class

DROPPED = {
    'musmove_msgs/msg/AudioFrame',
    'sensor_msgs/msg/Image',
    'sensor_msgs/msg/CompressedImage',
    'sensor_msgs/msg/PointCloud2',
    'geometry_msgs/msg/PoseStamped',
}


def anonymised(poses: list[Pose]) -> list[Pose]:
    """The skeleton's shape: centred on the centroid, scaled to unit RMS radius, no orientations."""
    positions = np.array([[p.position.x, p.position.y, p.position.z] for p in poses], dtype=np.float64)
    if positions.size == 0:
        return []
    centred = positions - np.nanmean(positions, axis=0)
    radius = np.sqrt(np.nanmean(np.sum(centred**2, axis=1)))
    shape = centred / radius if radius > 0 else centred
    result = []
    for x, y, z in shape:
        pose = Pose()
        pose.position.x, pose.position.y, pose.position.z = float(x), float(y), float(z)
        result.append(pose)
    return result


SKELETONS = {'geometry_msgs/msg/PoseArray': 'poses', 'musmove_msgs/msg/SyncFrame': 'joints'}  # type: its poses


def private(data: bytes, msgtype: str) -> bytes | None:
    """The serialized message as privacy mode records it; None: not recorded."""
    if msgtype in DROPPED:
        return None
    if (field := SKELETONS.get(msgtype)) is None:
        return data
    message = deserialize_message(data, message_class(msgtype))
    setattr(message, field, anonymised(getattr(message, field)))
    return serialize_message(message)
