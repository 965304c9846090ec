"""Test peer: publish filled() messages of one type on one topic until interrupted.

Usage: python publish_filled.py TYPE TOPIC   (TYPE like musmove_msgs/msg/Beat)
"""

import sys
from pathlib import Path

import rclpy
from rclpy.executors import ExternalShutdownException

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ros_helpers import filled, message_type


def main() -> None:
    type_name, topic = sys.argv[1:3]
    msg_type = message_type(type_name)
    try:
        with rclpy.init():
            node = rclpy.create_node('publish_filled')
            publisher = node.create_publisher(msg_type, topic, 10)
            node.create_timer(0.1, lambda: publisher.publish(filled(msg_type)))
            rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass


if __name__ == '__main__':
    main()
