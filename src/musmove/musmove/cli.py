"""The `musmove` command: run nodes and the demo without the `ros2` command line."""

import argparse
import os
import sys
from pathlib import Path

from ament_index_python.packages import PackageNotFoundError, get_package_prefix


def node_executable(name: str) -> Path:
    """The installed console entry point of a musmove node (what `ros2 run musmove NAME` runs)."""
    try:
        folder = Path(get_package_prefix('musmove'), 'lib', 'musmove')
    except PackageNotFoundError as error:
        raise SystemExit('musmove: error: the musmove package is not installed; run: source tools/env.sh') from error
    path = folder / name
    if not path.is_file():
        known = ', '.join(sorted(p.name for p in folder.iterdir())) or 'none'
        raise SystemExit(f'musmove: error: no node {name!r}; nodes: {known}')
    return path


def run(args: argparse.Namespace) -> int:
    executable = node_executable(args.node)
    os.execv(executable, [str(executable), *args.node_args])


def demo(args: argparse.Namespace) -> int:
    from musmove.demo import run_demo

    return run_demo(duration=args.duration)


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog='musmove', description=__doc__)
    verbs = main.add_subparsers(dest='verb', required=True, metavar='VERB')

    run_verb = verbs.add_parser(
        'run',
        help='run one node, like `ros2 run musmove NODE`',
        description='Run one musmove node; the arguments after NODE go to it (e.g. --ros-args -p file:=song.wav).',
    )
    run_verb.add_argument('node', metavar='NODE', help='node name, e.g. audio_source')
    run_verb.add_argument('node_args', nargs=argparse.REMAINDER, help='arguments for the node')
    run_verb.set_defaults(handler=run)

    demo_verb = verbs.add_parser(
        'demo',
        help='run the pipeline on the bundled real recording',
        description='Render the bundled Groove MIDI performance, stream it through '
        'the nodes over DDS and report what arrived.',
    )
    demo_verb.add_argument(
        '--duration', type=float, default=None, metavar='S', help='stop after S seconds (default: the whole recording)'
    )
    demo_verb.set_defaults(handler=demo)
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.handler(args)


if __name__ == '__main__':
    sys.exit(main())
