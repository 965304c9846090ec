"""Every musmove_msgs type round-trips between two OS processes over Fast DDS."""

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from ament_index_python.packages import get_package_share_directory
from ros_helpers import filled, message_type, wait_for

MSG_DIR = Path(get_package_share_directory('musmove_msgs'), 'msg')
TYPES = sorted(f'musmove_msgs/msg/{path.stem}' for path in MSG_DIR.glob('*.msg'))
PEER = Path(__file__).parent / 'peers' / 'publish_filled.py'


def test_interfaces_installed():
    assert {name.rsplit('/', 1)[1] for name in TYPES} >= {
        'AudioFrame',
        'Beat',
        'GesturePhase',
        'SyncFrame',
        'StreamStatus',
        'CoordinationMetrics',
    }


@pytest.mark.parametrize('type_name', TYPES)
def test_round_trip_between_processes(ros_node, type_name):
    msg_type = message_type(type_name)
    topic = 'roundtrip_' + type_name.rsplit('/', 1)[1].lower()
    received = []
    subscription = ros_node.create_subscription(msg_type, topic, received.append, 10)
    peer = subprocess.Popen([sys.executable, str(PEER), type_name, topic], stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: bool(received), ros_node, timeout=30), f'no {type_name} arrived from the peer'
    finally:
        peer.send_signal(signal.SIGINT)
        _, stderr = peer.communicate(timeout=15)
        ros_node.destroy_subscription(subscription)
    expected = filled(msg_type)
    assert received[0] == expected
    assert expected != msg_type(), 'the filled message must differ from the default one'
    assert peer.returncode == 0, stderr
