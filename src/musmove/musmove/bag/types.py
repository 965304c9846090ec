"""Message types and QoS of recorded topics: definitions for the bag, classes and profiles for DDS."""

import importlib
from functools import cache
from pathlib import Path
from typing import Any

from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
from rclpy.duration import Duration
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rclpy.topic_endpoint_info import TopicEndpointInfo
from rosbags.interfaces import Nodetype, Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

DEPTH = 1000  # history kept for a topic on either side: bursts of a fast publisher fit


def message_class(msgtype: str) -> type:
    """The Python class of an installed type named like 'sensor_msgs/msg/Imu' (ImportError if absent)."""
    package, kind, name = split_type(msgtype)
    try:
        return getattr(importlib.import_module(f'{package}.{kind}'), name)
    except (ImportError, AttributeError) as error:
        raise ImportError(f'message type {msgtype} is not installed') from error


def split_type(msgtype: str) -> tuple[str, str, str]:
    """('pkg', 'msg', 'Name') of 'pkg/msg/Name'; ValueError for another form."""
    parts = msgtype.split('/')
    if len(parts) != 3 or not all(parts):
        raise ValueError(f'not a message type name: {msgtype!r}')
    return parts[0], parts[1], parts[2]


@cache
def typestore() -> Typestore:
    """The types met so far, parsed from the installed interface files (filled by `definition`)."""
    return get_typestore(Stores.EMPTY)


@cache
def _kilted() -> Typestore:
    return get_typestore(Stores.ROS2_KILTED)


def definition(msgtype: str) -> tuple[str, str]:
    """The rosbag2 message definition and RIHS01 type hash of `msgtype`.

    Read from the installed .msg files (ament index share/<pkg>/msg/), the types they use too; a type
    whose package is not installed comes from rosbags' ROS 2 Kilted store. KeyError if neither has it.
    """
    store = typestore()
    if msgtype not in store.fielddefs:
        found: dict[str, Any] = {}
        _collect(msgtype, store, found)
        store.register(found)
    msgdef, _ = store.generate_msgdef(msgtype, ros_version=2)
    return msgdef, store.hash_rihs01(msgtype)


def deserialize(data: bytes, msgtype: str) -> Any:
    """A CDR message as rosbags' dataclass (numpy arrays for numeric sequences)."""
    definition(msgtype)
    return typestore().deserialize_cdr(data, msgtype)


def _collect(msgtype: str, store: Typestore, found: dict[str, Any]) -> None:
    if msgtype in store.fielddefs or msgtype in found:
        return
    found[msgtype] = _parse(msgtype)
    for _, (node, detail) in found[msgtype][1]:
        if node in (Nodetype.ARRAY, Nodetype.SEQUENCE):
            node, detail = detail[0]
        if node == Nodetype.NAME:
            _collect(detail, store, found)


def _parse(msgtype: str) -> Any:
    package, kind, name = split_type(msgtype)
    try:
        path = Path(get_package_share_directory(package), kind, f'{name}.msg')
    except PackageNotFoundError:
        path = None
    if path is not None and path.is_file():
        return get_types_from_msg(path.read_text(), msgtype)[msgtype]
    if msgtype in _kilted().fielddefs:
        return _kilted().fielddefs[msgtype]
    raise KeyError(f'no definition of {msgtype}: neither installed nor in the ROS 2 Kilted store')


def bag_qos(profile: QoSProfile) -> Qos:
    """An endpoint's QoS profile as rosbags stores it in a bag (the rmw enum values are shared)."""
    return Qos(
        QosHistory(int(profile.history)),
        profile.depth,
        QosReliability(int(profile.reliability)),
        QosDurability(int(profile.durability)),
        _qos_time(profile.deadline),
        _qos_time(profile.lifespan),
        QosLiveliness(int(profile.liveliness)),
        _qos_time(profile.liveliness_lease_duration),
        profile.avoid_ros_namespace_conventions,
    )


def _qos_time(duration: Duration) -> QosTime:
    return QosTime(*divmod(duration.nanoseconds, 10**9))


def subscription_qos(publishers: list[TopicEndpointInfo]) -> QoSProfile:
    """A profile that matches every publisher: best effort if one is, transient local if all are."""
    best_effort = any(p.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT for p in publishers)
    latched = all(p.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL for p in publishers)
    return _profile(best_effort, latched and bool(publishers))


def replay_qos(offered: list[Qos]) -> QoSProfile:
    """The profile to replay a topic with, from the profiles offered when it was recorded (rosbag2's rule)."""
    best_effort = any(q.reliability == QosReliability.BEST_EFFORT for q in offered)
    latched = bool(offered) and all(q.durability == QosDurability.TRANSIENT_LOCAL for q in offered)
    return _profile(best_effort, latched)


def _profile(best_effort: bool, latched: bool) -> QoSProfile:
    return QoSProfile(
        depth=DEPTH,
        reliability=ReliabilityPolicy.BEST_EFFORT if best_effort else ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
    )
