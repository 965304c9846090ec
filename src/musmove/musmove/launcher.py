"""`musmove launch coordination [name:=value ...]`: the coordination graph without `ros2 launch`.

It starts what `ros2 launch musmove coordination.launch.py` starts, from the same description
(`musmove.graph`) and parameter file: each node in its own process (`--ros-args`: node name,
namespace, the parameter file, then the arguments' parameters and remappings), its output lines
prefixed with `[name]`. Arguments and the parameter file are checked before anything starts (exit
status 2). SIGINT or SIGTERM goes on to every child (SIGTERM when a process failed), which has
STOP_TIMEOUT seconds to exit before it is killed (a second signal kills at once). A source that dies
starts again, at most `graph.RESPAWN_LIMIT` times; one that finishes its file (status 0) stays down. When
any other process exits, or a source for good, the rest are stopped and the exit status is 1,
naming it.
"""

import ctypes
import json
import os
import selectors
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ament_index_python.packages import get_package_share_directory

from musmove import graph
from musmove.graph import node_executable

DESCRIPTIONS = ('coordination',)
STOP_TIMEOUT = 10.0
PR_SET_PDEATHSIG = 1


@dataclass
class Child:
    """A process of the launch: its command, and how it runs."""

    name: str
    command: list[str]
    respawn: bool = False
    popen: subprocess.Popen | None = None
    status: int | None = None  # once it exited
    respawns: int = 0
    restart_at: float | None = None
    open_pipes: int = 0


class Prefixer:
    """Writes a child's output to `out` line by line, each line prefixed."""

    def __init__(self, child: Child, out: BinaryIO) -> None:
        self.child = child
        self.prefix = f'[{child.name}] '.encode()
        self.out = out
        self.partial = b''

    def feed(self, data: bytes) -> None:
        *lines, self.partial = (self.partial + data).split(b'\n')
        self.write(lines)

    def close(self) -> None:
        self.write([self.partial] if self.partial else [])
        self.child.open_pipes -= 1

    def write(self, lines: list[bytes]) -> None:
        self.out.write(b''.join(self.prefix + line + b'\n' for line in lines))
        self.out.flush()


def say(message: str) -> None:
    print(f'musmove launch: {message}', file=sys.stderr, flush=True)


def describe(status: int) -> str:
    """An exit status in words."""
    return f'was killed by {signal.Signals(-status).name}' if status < 0 else f'exited with status {status}'


def die_with_parent() -> None:
    """In a child before it runs: SIGTERM when the launcher dies, even when it is killed (Linux)."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Launch:
    """The children of one launch: started, their output relayed, supervised and stopped together."""

    def __init__(self, children: list[Child]) -> None:
        self.children = children
        self.selector = selectors.DefaultSelector()
        self.signal: signal.Signals | None = None
        self.kill_now = False
        self.failure: str | None = None

    def run(self) -> int:
        """Start every child and supervise them until a signal or a failure; return the exit status."""
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, self.on_signal)
        for child in self.children:
            if self.signal is None and self.failure is None:
                self.start(child)
        while self.signal is None and self.failure is None:
            self.relay(0.1)
            self.supervise()
        return self.stop()

    def on_signal(self, number: int, _frame: object) -> None:
        if self.signal is None:
            self.signal = signal.Signals(number)
        else:
            self.kill_now = True

    def start(self, child: Child) -> None:
        child.status, child.restart_at = None, None
        try:
            child.popen = subprocess.Popen(
                child.command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env={**os.environ, 'PYTHONUNBUFFERED': '1'},
                start_new_session=True,
                preexec_fn=die_with_parent if sys.platform == 'linux' else None,
            )
        except OSError as error:
            self.failure = f'cannot start {child.name}: {error}'
            return
        for pipe, out in ((child.popen.stdout, sys.stdout.buffer), (child.popen.stderr, sys.stderr.buffer)):
            self.selector.register(pipe, selectors.EVENT_READ, Prefixer(child, out))
        child.open_pipes = 2
        say(f'started {child.name} (pid {child.popen.pid})')

    def relay(self, timeout: float) -> None:
        """Pass on the output that arrives within `timeout` seconds."""
        for key, _ in self.selector.select(timeout):
            data = os.read(key.fd, 65536)
            if data:
                key.data.feed(data)
            else:
                self.selector.unregister(key.fileobj)
                key.fileobj.close()
                key.data.close()

    def supervise(self) -> None:
        """Respawn or fail on children that exited; restart those due."""
        for child in self.children:
            if child.restart_at is not None and time.monotonic() >= child.restart_at:
                self.start(child)
            elif child.popen is not None and child.status is None and child.popen.poll() is not None:
                self.exited(child)

    def exited(self, child: Child) -> None:
        child.status = child.popen.returncode
        self.drain(child)
        if child.respawn and child.status not in graph.NOT_RESPAWNED and child.respawns < graph.RESPAWN_LIMIT:
            child.respawns += 1
            child.restart_at = time.monotonic() + graph.RESPAWN_DELAY
            say(f'{child.name} {describe(child.status)}; respawning ({child.respawns} of {graph.RESPAWN_LIMIT})')
        elif child.respawn and child.status == 0:
            say(f'{child.name} finished')
        else:
            again = f' after {child.respawns} respawns' if child.respawns else ''
            self.failure = f'{child.name} {describe(child.status)}{again}'

    def drain(self, child: Child, timeout: float = 2.0) -> None:
        """Relay what an exited child left in its pipes."""
        deadline = time.monotonic() + timeout
        while child.open_pipes and time.monotonic() < deadline:
            self.relay(0.05)

    def stop(self) -> int:
        """Pass the signal (SIGTERM after a failure) to every child, wait, kill; return the exit status.

        The controller goes first (`graph.STOPPED_FIRST`): it brakes the robot to rest and exits once it
        should be still, while the simulator and the recorder still run, so that the bag shows the stop.
        """
        number = self.signal or signal.SIGTERM
        say(f'error: {self.failure}; stopping the others' if self.failure else f'{number.name}: stopping')
        running = [c for c in self.children if c.popen is not None and c.popen.poll() is None]
        first = [c for c in running if c.name in graph.STOPPED_FIRST]
        for stage in (first, [c for c in running if c not in first]):
            for child in stage:
                child.popen.send_signal(number)
            deadline = time.monotonic() + STOP_TIMEOUT
            while any(c.popen.poll() is None for c in stage) and time.monotonic() < deadline and not self.kill_now:
                self.relay(0.1)
        return self.reap(running, number)

    def reap(self, running: list[Child], number: int) -> int:
        """Kill what is left, relay the last output; 1 when anything failed.

        A child ended by the signal itself had not set up its handler yet: that is a clean stop too.
        """
        failed = self.failure is not None
        for child in running:
            if child.popen.poll() is None:
                child.popen.kill()
                say(f'{child.name} did not stop in time: killed')
            status = child.popen.wait()
            self.drain(child)
            if status not in (0, -number):
                failed = True
                say(f'{child.name} {describe(status)} while stopping')
        return 1 if failed else 0


def default_values() -> dict[str, str]:
    """Every argument's default; a share/musmove path made absolute."""
    share = Path(get_package_share_directory(graph.PACKAGE))
    return {a.name: str(share / a.default) if a.share else a.default for a in graph.ARGUMENTS}


def parameter_value(value: str, value_type: type) -> str:
    """An argument's value as a typed `-p` value (YAML): 5 is a float for a float, a string quoted."""
    if value_type is float:
        return repr(float(value))
    if value_type is bool:
        return value
    return json.dumps(value, ensure_ascii=False)


def node_command(node: graph.Node, values: Mapping[str, str]) -> list[str]:
    """The command line of a node: name, namespace, parameter file, typed parameters, remappings."""
    arguments = graph.arguments()
    ros_args = ['-r', f'__node:={node.name}']
    if values['namespace']:
        ros_args += ['-r', f'__ns:={graph.absolute_namespace(values["namespace"])}']
    ros_args += ['--params-file', values['config']]
    for parameter, argument in node.parameters.items():
        ros_args += ['-p', f'{parameter}:={parameter_value(values[argument], arguments[argument].value_type)}']
    for topic, argument in node.remappings.items():
        ros_args += ['-r', f'{topic}:={values[argument]}']
    return [str(node_executable(node.executable)), '--ros-args', *ros_args]


def process_command(process: graph.Process, values: Mapping[str, str]) -> list[str]:
    """The command line of a process, its program found on PATH."""
    command = [values[part.argument] if isinstance(part, graph.Arg) else part for part in process.command]
    program = shutil.which(command[0])
    if program is None:
        raise graph.ConfigurationError(f'{process.name}: {command[0]} is not on PATH; run: source tools/env.sh')
    return [program, *command[1:]]


def plan(values: Mapping[str, str]) -> list[Child]:
    """The children of the launch for these argument values, in starting order."""
    children = [Child(node.name, node_command(node, values), node.respawn) for node in graph.nodes(values)]
    return children + [Child(p.name, process_command(p, values)) for p in graph.processes(values)]


def show_arguments(defaults: Mapping[str, str]) -> None:
    print("Arguments (pass arguments as '<name>:=<value>'):")
    for argument in graph.ARGUMENTS:
        allowed = f' Allowed values: {", ".join(argument.choices)}.' if argument.choices else ''
        print(f'  {argument.name}:={defaults[argument.name]!r}\n      {argument.description}{allowed}')


def launch(description: str, pairs: Sequence[str], show_args: bool = False, dry_run: bool = False) -> int:
    """Run `musmove launch`: check everything, then start the graph (or only show it); the exit status."""
    try:
        if description not in DESCRIPTIONS:
            raise graph.ConfigurationError(f'no launch description {description!r}; descriptions: coordination')
        defaults = default_values()
        if show_args:
            show_arguments(defaults)
            return 0
        values = graph.parse(pairs, defaults)
        graph.check(values)
        children = plan(values)
    except graph.ConfigurationError as error:
        say(f'error: {error}')
        return 2
    if dry_run:
        print('\n'.join(f'{child.name}: {shlex.join(child.command)}' for child in children))
        return 0
    return Launch(children).run()
