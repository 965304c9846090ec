"""`musmove estop on|off`: stop or release the robot and wait until the controller confirms it.

The controller's `emergency_stop` and `release` services (std_srvs/Trigger) apply the stop before they
answer, and the controller latches the stop it is in on `emergency_stop/state` (std_msgs/Bool). This
command calls the service, then waits for that state: exit 0 once confirmed, 1 with the reason otherwise
(no controller, no answer, a state that does not follow), so a script or a safety panel knows.

A raw publisher on the latched `emergency_stop` topic must do the same to be sure: wait until the
controller's own subscription is matched (not merely any subscriber: a recorder matches too), publish,
and stay until `emergency_stop/state` says so; a process that exits before the controller matched it
takes its message with it.
"""

import sys
import time

import rclpy
from rclpy.qos import QoSDurabilityPolicy, QoSProfile
from std_msgs.msg import Bool
from std_srvs.srv import Trigger

LATCHED = QoSProfile(depth=1, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)


def estop(stop: bool, namespace: str = '', timeout: float = 10.0) -> int:
    """Stop (or release) the controller in `namespace`; 0 once its state confirms it within `timeout` s."""
    prefix = f'{namespace.rstrip("/")}/' if namespace else ''
    service = f'{prefix}{"emergency_stop" if stop else "release"}'
    wanted = 'stopped' if stop else 'released'
    with rclpy.init():
        node = rclpy.create_node('musmove_estop')
        states: list[bool] = []
        node.create_subscription(Bool, f'{prefix}emergency_stop/state', lambda m: states.append(m.data), LATCHED)
        client = node.create_client(Trigger, service)
        deadline = time.monotonic() + timeout
        if not client.wait_for_service(timeout_sec=timeout):
            return fail(f'no controller answers {service} within {timeout:g} s: the robot is NOT {wanted}')
        future = client.call_async(Trigger.Request())
        while not future.done() and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.05)
        if not future.done():
            return fail(f'{service} did not answer within {timeout:g} s: the robot may NOT be {wanted}')
        while (not states or states[-1] != stop) and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.05)
        if not states or states[-1] != stop:
            return fail(f'{service} answered "{future.result().message}" but the controller state is not {wanted}')
        print(f'musmove estop: {wanted} (confirmed by the controller: {future.result().message})')
        node.destroy_node()
        return 0


def fail(reason: str) -> int:
    print(f'musmove estop: error: {reason}', file=sys.stderr, flush=True)
    return 1
