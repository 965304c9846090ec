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


def eval_beats(args: argparse.Namespace) -> int:
    from musmove.beat_eval import evaluate, write_report

    options = {'split': args.split, 'model': args.model, 'limit': args.limit, 'all_performances': args.all_performances}
    try:
        results = evaluate(datasets=args.dataset, **options)
    except (FileNotFoundError, NotImplementedError, RuntimeError, ValueError) as error:
        raise SystemExit(f'musmove: error: {error}') from error
    print(write_report(results, args.out, model=args.model, split=args.split), end='')
    return 0


def train(args: argparse.Namespace) -> int:
    try:
        from musmove.training.train import main as train_main
    except ImportError as error:
        raise SystemExit(
            f'musmove: error: training needs the training extra ({error}); '
            'run: pip install -r requirements/training.txt'
        ) from error
    return train_main(args)


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

    beats = verbs.add_parser(
        'eval-beats',
        help='evaluate beat tracking on the annotated data sets',
        description='Score the causal and offline beat tracker, librosa and essentia on a split of the annotated '
        'data sets (mir_eval F-measure, CMLt, AMLt, P-score; prediction error of the causal tracker) and write '
        'beat_eval.md, beat_eval.csv and plots.',
    )
    beats.add_argument('--model', metavar='PATH', help='ONNX beat model (default: the DSP fallback)')
    beats.add_argument(
        '--dataset', nargs='+', default=['groove', 'asap'], metavar='NAME', help='groove and/or asap (default: both)'
    )
    beats.add_argument('--split', default='test', help='train, validation or test (default: test)')
    beats.add_argument('--limit', type=int, default=None, metavar='N', help='at most N files per data set')
    beats.add_argument(
        '--all-performances', action='store_true', help='every ASAP performance, not one per score folder'
    )
    beats.add_argument('--out', default='eval/beats', metavar='DIR', help='output folder (default: eval/beats)')
    beats.set_defaults(handler=eval_beats)

    training = verbs.add_parser(
        'train',
        help='train a model and export it to ONNX with its card',
        description='Train a causal model on the train split (validation split for early stopping), check it, '
        'and write models/<task>_<arch>.onnx and .json. Needs requirements/training.txt (torch).',
    )
    training.add_argument('--task', choices=['beat'], default='beat', help='what the model predicts')
    training.add_argument('--arch', choices=['crnn'], default='crnn', help='architecture')
    training.add_argument('--dataset', nargs='+', default=['groove', 'asap'], metavar='NAME', help='data sets')
    training.add_argument('--epochs', type=int, default=30, help='most epochs (early stopping may end sooner)')
    training.add_argument('--steps', type=int, default=100, help='batches per epoch')
    training.add_argument('--max-minutes', type=float, default=25.0, help='wall-clock budget of the training')
    training.add_argument('--limit', type=int, default=None, metavar='N', help='at most N tracks per data set')
    training.add_argument('--seed', type=int, default=0)
    training.add_argument('--threads', type=int, default=2, help='torch CPU threads')
    training.add_argument('--out', default='models', metavar='DIR', help='output folder (default: models)')
    training.set_defaults(handler=train)
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.handler(args)


if __name__ == '__main__':
    sys.exit(main())
