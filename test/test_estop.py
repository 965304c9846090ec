"""The emergency stop is never lost: `musmove estop on|off` from short-lived processes, and the enable heartbeat.

Each cycle runs the documented command twice as its own process (as a safety panel's script would): it
must exit 0 only once the controller has confirmed the state, and the robot must then hold still (on)
or move again (off). MUSMOVE_ESTOP_CYCLES sets the number of cycles (the closing note reports 100).
"""

import os
import subprocess

import numpy as np
import pytest
from ros_helpers import seconds, wait
from std_msgs.msg import Bool

from musmove.nodes.robot_controller import LATCHED

CYCLES = int(os.environ.get('MUSMOVE_ESTOP_CYCLES', '10'))


def still(states: list, since: float, span: float = 0.3) -> bool:
    """The joints did not move in the newest `span` s of joint states received after `since`."""
    recent = [(seconds(m.header.stamp), m.position) for t, m in states if t > since]
    if not recent or recent[-1][0] - recent[0][0] < span:
        return False
    window = np.array([p for t, p in recent if t >= recent[-1][0] - span])
    return bool(np.ptp(window, axis=0).max() < 1e-4)


@pytest.mark.timeout(120 + 10 * CYCLES)
def test_every_stop_and_release_from_a_short_lived_process_is_honoured(rogue, dance):
    # Subscribed before the controller starts, so that the test's reader is no late joiner of the latched state:
    # one CI run's late-joining reader heard none of it while each estop process heard its own (Fast DDS has an open
    # report of late-joining TRANSIENT_LOCAL readers that miss samples now and then: eProsima/Fast-DDS#3822).
    confirmed = rogue.record(Bool, 'emergency_stop/state', LATCHED)
    _, _, controller, states = dance()
    heard = lambda: f'{len(states)} joint states heard, the newest at {states[-1][0] if states else None}'  # noqa: E731
    assert wait(lambda: confirmed and confirmed[-1][1].data is False, 60), f'no latched state (released); {heard()}'
    for cycle in range(CYCLES):
        for state in ('on', 'off'):
            result = subprocess.run(['musmove', 'estop', state], capture_output=True, text=True, timeout=60)
            assert result.returncode == 0, (cycle, state, result.stdout, result.stderr)
            assert ('stopped' if state == 'on' else 'released') in result.stdout
            assert wait(lambda s=state: confirmed[-1][1].data == (s == 'on'), 30), (cycle, state, heard(), rogue.now())
            if state == 'on':
                done = rogue.now()
                assert wait(lambda t=done: still(states, t), 10), f'cycle {cycle}: the robot did not hold still'
    assert controller.popen.poll() is None and 'Traceback' not in controller.stderr


def test_without_a_controller_the_command_fails_loudly(ros_node):
    result = subprocess.run(
        ['musmove', 'estop', 'on', '--namespace', 'nobody_here', '--timeout', '2'],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and 'NOT stopped' in result.stderr, result


def test_a_stale_enable_heartbeat_holds_the_robot(rogue, dance):
    confirmed = rogue.record(Bool, 'emergency_stop/state', LATCHED)
    enable = rogue.node.create_publisher(Bool, 'enable', 10)
    beating = {'on': True}
    rogue.node.create_timer(0.05, lambda: beating['on'] and enable.publish(Bool(data=True)))
    _, _, controller, states = dance('-p', 'enable_timeout:=0.3')  # dancing: the heartbeat is fresh
    beating['on'] = False
    stopped = rogue.now()
    assert wait(lambda: confirmed and confirmed[-1][1].data is True, 5), 'a stale heartbeat did not stop the robot'
    assert wait(lambda: still(states, stopped + 0.5), 10), 'the robot did not hold still'
    beating['on'] = True
    assert wait(lambda: confirmed[-1][1].data is False, 5), 'a fresh heartbeat did not release the robot'
    status = lambda: rogue.status('robot_controller: dance')  # noqa: E731
    assert wait(lambda: status().get('message') == 'dancing', 30), status()
    assert controller.popen.poll() is None and 'Traceback' not in controller.stderr
