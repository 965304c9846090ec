"""The `musmove` command: run nodes and the demo without the `ros2` command line."""

import argparse
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from musmove.evaluation import BEAT_METHODS
from musmove.graph import node_executable
from musmove.training import ARCHITECTURE_NAMES, TASKS

T = TypeVar('T')


def number(
    kind: type, low: float | None = None, above: float | None = None, high: float | None = None
) -> Callable[[str], float]:
    """An argparse type: a finite `kind` (int or float), at least `low` or greater than `above`, at most `high`."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'{text!r} is not a number') from None
        below = (low is not None and value < low) or (above is not None and value <= above)
        if not math.isfinite(value) or below or (high is not None and value > high):
            bounds = [f'>= {low}'] if low is not None else [f'> {above}'] if above is not None else []
            bounds += [f'<= {high}'] if high is not None else []
            raise argparse.ArgumentTypeError(f'{text} is out of range (allowed: {" and ".join(bounds)})')
        return value

    return parse


COUNT = number(int, low=1)  # how many
SIZE = number(int, low=0)  # bytes, 0: no limit
SPAN = number(float, low=0.0)  # seconds, 0: none


def run(args: argparse.Namespace) -> int:
    executable = node_executable(args.node)
    os.execv(executable, [str(executable), *args.node_args])


def demo(args: argparse.Namespace) -> int:
    if args.dancer:
        from musmove.demo_dancer import run_dancer

        try:
            return run_dancer(args.dancer, Path(args.offsets), Path(args.out), args.duration, args.mode, args.lookahead)
        except (FileNotFoundError, RuntimeError, ValueError) as error:
            raise SystemExit(f'musmove demo: error: {error}') from error
    from musmove.demo import run_demo

    return run_demo(duration=args.duration, out=Path(args.out), mode=args.mode, lookahead=args.lookahead)


def launch(args: argparse.Namespace) -> int:
    from musmove.launcher import launch as start

    return start(args.description, args.arguments, show_args=args.show_args, dry_run=args.print)


def eval_beats(args: argparse.Namespace) -> int:
    from musmove.evaluation.beat_report import write_report
    from musmove.evaluation.beats import evaluate

    options = {'split': args.split, 'model': args.model, 'limit': args.limit, 'all_performances': args.all_performances}
    options |= {'methods': args.methods, 'seconds': args.seconds}
    try:
        results = evaluate(datasets=args.dataset, **options)
    except (FileNotFoundError, NotImplementedError, RuntimeError, ValueError) as error:
        raise SystemExit(f'musmove: error: {error}') from error
    print(write_report(results, args.out, model=args.model, split=args.split, seconds=args.seconds), end='')
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


def prepare_beats(args: argparse.Namespace) -> int:
    from musmove.training.prepare import main as prepare_main

    return prepare_main(args)


def dance_offsets(args: argparse.Namespace) -> int:
    from musmove.evaluation.dance_offsets import measure, write
    from musmove.sources.dance import sequences

    try:
        every = sequences()
        chosen = [seq for seq in every if seq.name in args.sequences] if args.sequences else every
        if unknown := set(args.sequences or ()) - {seq.name for seq in every}:
            raise ValueError(f'no dance-melody sequence {", ".join(sorted(unknown))}; e.g. DANCE_W_1')
        text = write(measure(chosen, every), Path(args.out))
    except (FileNotFoundError, RuntimeError, ValueError) as error:
        raise SystemExit(f'musmove: error: {error}') from error
    print(text[text.index('**') : text.index('\n', text.index('**'))])
    print(f'musmove dance-offsets: table and plot in {args.out}/ (offsets.md, offsets.csv, offsets.png)')
    return 0


def from_offsets(args: argparse.Namespace, evaluate: Callable[[dict[str, dict[str, str]]], T]) -> T:
    """`evaluate` on the offsets.csv named by --offsets; a missing or unreadable one exits with its reason."""
    from musmove.evaluation.dance_offsets import read_offsets

    try:
        return evaluate(read_offsets(Path(args.offsets)))
    except (FileNotFoundError, RuntimeError, ValueError, KeyError) as error:
        raise SystemExit(f'musmove: error: {args.offsets}: {error}') from error


def partner_beats(args: argparse.Namespace) -> int:
    from musmove.evaluation.partner import evaluate, write

    results, event_phase = from_offsets(args, evaluate)
    print(write(results, event_phase, Path(args.out)))
    print(f'musmove partner-beats: table in {args.out}/ (partner.md, partner.csv)')
    return 0


def dance_robot(args: argparse.Namespace) -> int:
    from musmove.evaluation.dance_robot import evaluate, write

    text = write(from_offsets(args, evaluate), Path(args.out))
    print(text[text.index('## Means') : text.index('## Per sequence')])
    print(f'musmove dance-robot: tables in {args.out}/ (robot.md, robot.csv)')
    return 0


def study(args: argparse.Namespace) -> int:
    from musmove.evaluation.study import run

    models, docs = Path(args.models), Path(args.docs)
    if args.dance:
        print(from_offsets(args, lambda offsets: run(models, docs, args.limit, args.ablation, offsets)))
    else:
        print(run(models, docs, args.limit, args.ablation))
    return 0


def record(args: argparse.Namespace) -> int:
    from musmove.bag import BagError
    from musmove.bag import record as record_bag

    output = args.output or time.strftime('musmove_%Y_%m_%d-%H_%M_%S')
    try:
        sizes = {'max_bytes': args.max_bag_size, 'max_duration': args.max_bag_duration}
        privacy = args.privacy == 'true'
        return record_bag(Path(output), args.topics, args.storage, **sizes, privacy=privacy, linger=args.linger)
    except BagError as error:
        raise SystemExit(f'musmove: error: {error}') from error


def play(args: argparse.Namespace) -> int:
    from musmove.bag import BagError
    from musmove.bag import play as play_bag

    options = {'rate': args.rate, 'loop': args.loop, 'start_offset': args.start_offset, 'topics': args.topics}
    try:
        return play_bag(Path(args.bag), clock_hz=args.clock, wait_for_subscribers=args.wait_for_subscribers, **options)
    except BagError as error:
        raise SystemExit(f'musmove: error: {error}') from error


def evaluate(args: argparse.Namespace) -> int:
    from musmove.evaluation.session import evaluate as evaluate_session
    from musmove.evaluation.session import report

    bag = Path(args.bag)
    for path in (bag, args.beats, args.gestures):
        if path is not None and not Path(path).exists():
            raise SystemExit(f'musmove: error: {path}: not found')
    session = evaluate_session(bag, args.beats and Path(args.beats), args.gestures and Path(args.gestures),
                               args.start_time, args.move)  # fmt: skip
    out = Path(args.out or f'{bag.name}_report')
    print(report(session, bag, out), end='')
    print(f'musmove evaluate: report and plots in {out}/')
    return 0


def estop(args: argparse.Namespace) -> int:
    from musmove.estop import estop as send

    return send(args.state == 'on', args.namespace, args.timeout)


def bag_info(args: argparse.Namespace) -> int:
    from musmove.bag import BagError, describe

    try:
        print(describe(Path(args.bag)))
    except BagError as error:
        raise SystemExit(f'musmove: error: {error}') from error
    return 0


def bag_reindex(args: argparse.Namespace) -> int:
    from musmove.bag import BagError, reindex

    try:
        files = reindex(Path(args.bag))
    except BagError as error:
        raise SystemExit(f'musmove: error: {error}') from error
    print(f'{args.bag}: metadata.yaml written for {len(files)} storage file(s)')
    return 0


def offsets_and_out(verb: argparse.ArgumentParser) -> None:
    """--offsets (musmove dance-offsets' table) and --out, for the verbs that read the trusted dancers."""
    verb.add_argument('--offsets', default='docs/dance/offsets.csv', metavar='CSV',
                      help='offsets.csv of musmove dance-offsets (default: docs/dance/offsets.csv)')  # fmt: skip
    verb.add_argument('--out', default='docs/dance', metavar='DIR', help='output folder (default: docs/dance)')


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
        help='run the whole loop on the bundled real recording: launch, record, evaluate',
        description='Render the bundled Groove MIDI performance, run the coordination graph on it with a UCI '
        'Kinect recording as the partner and the simulated robot, record the session as a bag, evaluate it.',
    )
    demo_verb.add_argument('--out', default='musmove_demo', metavar='DIR', help='bag, report and launch log')
    demo_verb.add_argument(
        '--duration',
        type=number(float, above=0.0),
        default=None,
        metavar='S',
        help='stop after S seconds (default: the whole recording)',
    )
    demo_verb.add_argument(
        '--mode',
        choices=('live', 'known', 'both'),
        default='both',
        help='live (causal, as from a microphone), known (the file published ahead of playback) or both, one '
        'after the other, side by side at the end (default: both)',
    )
    demo_verb.add_argument(
        '--lookahead',
        type=number(float, low=0.01, high=0.75),
        default=0.75,
        metavar='S',
        help='known mode: the audio is published S s before it is heard (default 0.75, chosen on the validation split)',
    )
    demo_verb.add_argument(
        '--dancer',
        metavar='SEQUENCE',
        help='a real dancer instead: a trusted dance-melody sequence (e.g. DANCE_W_33, of the test split) and its '
        'song, the robot following both (needs the data set in ../shared/data; musmove.demo_dancer)',
    )
    demo_verb.add_argument(
        '--offsets', default='docs/dance/offsets.csv', metavar='CSV', help='for --dancer: musmove dance-offsets table'
    )
    demo_verb.set_defaults(handler=demo)

    launching = verbs.add_parser(
        'launch',
        help='start the coordination graph, like `ros2 launch musmove coordination.launch.py`',
        description='Start every node of a launch description (coordination) from config/coordination.yaml, '
        'each in its own process with its output prefixed, until Ctrl-C or SIGTERM. '
        'Exit status 2: a wrong argument or parameter file, nothing started; 1: a required process exited.',
    )
    launching.add_argument('description', metavar='NAME', help='launch description: coordination')
    launching.add_argument('arguments', nargs='*', metavar='name:=value', help='launch arguments (see --show-args)')
    launching.add_argument('-s', '--show-args', action='store_true', help='list the arguments, defaults and values')
    launching.add_argument('-p', '--print', action='store_true', help='print each command line instead of starting')
    launching.set_defaults(handler=launch)

    beats = verbs.add_parser(
        'eval-beats',
        help='evaluate beat tracking on the annotated data sets',
        description='Score the causal and offline beat tracker, librosa, essentia, and madmom and BeatNet online and '
        'offline (the evaluation extra: tools/bootstrap.sh --evaluation) on a split of the annotated data sets '
        '(mir_eval F-measure, CMLt, AMLt, P-score; lock times, octave errors, bias against the performed notes; '
        'prediction error of the causal methods) and write beat_eval.md, beat_eval.csv and plots.',
    )
    beats.add_argument('--model', metavar='PATH', help='ONNX beat model; A,B: their mean (default: the DSP fallback)')
    beats.add_argument(
        '--dataset',
        nargs='+',
        default=['groove', 'asap'],
        metavar='NAME',
        help='groove, asap (default: both), pop909, mix (test renders made as the prepared data; --limit, default 20)',
    )
    beats.add_argument('--split', default='test', help='train, validation or test (default: test)')
    beats.add_argument('--limit', type=COUNT, default=None, metavar='N', help='at most N files per data set')
    beats.add_argument(
        '--all-performances', action='store_true', help='every ASAP performance, not one per score folder'
    )
    beats.add_argument(
        '--methods',
        nargs='+',
        default=list(BEAT_METHODS),
        metavar='NAME',
        help=f'default: all ({", ".join(BEAT_METHODS)})',
    )
    beats.add_argument('--seconds', type=float, default=None, metavar='S', help='only the first S s of each file')
    beats.add_argument('--out', default='eval/beats', metavar='DIR', help='output folder (default: eval/beats)')
    beats.set_defaults(handler=eval_beats)

    training = verbs.add_parser(
        'train',
        help='train a model and export it to ONNX with its card',
        description='Train a causal model on the train split (validation split for early stopping), check it, '
        'and write models/<task>_<arch>.onnx and .json. Needs requirements/training.txt (torch).',
    )
    training.add_argument(
        '--task', choices=TASKS, default='beat', help='beat (Groove MIDI, ASAP) or gesture (UCI gesture phase)'
    )
    training.add_argument('--arch', choices=ARCHITECTURE_NAMES, default='crnn', help='architecture')
    training.add_argument(
        '--dataset', nargs='+', metavar='NAME', help='beat data sets (clean: groove asap; prepared: also pop909 mix)'
    )
    training.add_argument(
        '--data',
        choices=('clean', 'prepared'),
        default='clean',
        help='clean FluidR3 renders with metronome labels, or the output of musmove prepare-beats',
    )
    training.add_argument(
        '--epochs', type=COUNT, help='most epochs (early stopping may end sooner; beat 30, gesture 20)'
    )
    training.add_argument('--steps', type=COUNT, help='batches per epoch (beat 100, gesture 40)')
    training.add_argument(
        '--max-minutes', type=number(float, above=0.0), help='wall-clock budget of one training (beat 25, gesture 5)'
    )
    training.add_argument('--limit', type=COUNT, default=None, metavar='N', help='at most N beat tracks per data set')
    training.add_argument('--seed', type=int, default=0)
    training.add_argument('--threads', type=COUNT, default=2, help='torch CPU threads')
    training.add_argument('--out', default='models', metavar='DIR', help='output folder (default: models)')
    training.set_defaults(handler=train)

    preparing = verbs.add_parser(
        'prepare-beats',
        help='render the beat training data (POP909, mixtures, SoundFonts, room and microphone) into the cache',
        description='Render Groove, ASAP, POP909 and Groove+POP909 mixtures with several SoundFonts through a '
        'simulated room and microphone, labels at the performed beats, and store log-mel features and labels in '
        'the cache (musmove.training.prepare). Deterministic; done examples are kept.',
    )
    preparing.add_argument('--split', nargs='+', default=['validation', 'train'], choices=('train', 'validation'))
    preparing.add_argument('--pop909', type=SIZE, metavar='N', help='POP909 songs per split (train 300, validation 40)')
    preparing.add_argument('--mixtures', type=SIZE, metavar='N', help='mixtures per split (train 100, validation 20)')
    preparing.add_argument('--groove', type=COUNT, metavar='N', help='the first N Groove performances (default: all)')
    preparing.add_argument('--asap', type=COUNT, metavar='N', help='the first N ASAP score folders (default: all)')
    preparing.add_argument(
        '--reverse', action='store_true', help='work through the plan from its end (a second worker, same result)'
    )
    preparing.set_defaults(handler=prepare_beats)

    offsets = verbs.add_parser(
        'dance-offsets',
        help='measure the audio-to-motion offset of each dance-melody sequence, two ways',
        description="Measure how late each dance-melody dancer's movement events come after the music's beats "
        "(madmom offline reference beats, cached; the evaluation extra): with the synchronizer's offset estimator "
        'against the beat activation, and by the beat phase of the movement events; flag the sequences whose two '
        'measurements disagree or lie at chance (musmove.evaluation.dance_offsets) and write offsets.md, '
        'offsets.csv and offsets.png.',
    )
    offsets.add_argument('sequences', nargs='*', metavar='SEQUENCE', help='e.g. DANCE_W_1 (default: all 43)')
    offsets.add_argument('--out', default='docs/dance', metavar='DIR', help='output folder (default: docs/dance)')
    offsets.set_defaults(handler=dance_offsets)

    partner = verbs.add_parser(
        'partner-beats',
        help="score the partner's causal movement beats on the trusted dance-melody sequences",
        description="Track each trusted dance-melody dancer's movement cycle causally (musmove.beat.movement), "
        'with the offsets measured by musmove dance-offsets applied, and score its tempo and beats against the '
        "song's reference beats (musmove.evaluation.partner); write partner.md and partner.csv.",
    )
    offsets_and_out(partner)
    partner.set_defaults(handler=partner_beats)

    robot = verbs.add_parser(
        'dance-robot',
        help='the simulated robot dancing with each trusted dance-melody dancer, steered by music, partner or both',
        description='Step the robot controller offline on each trusted dance-melody song, steered by the causal beats '
        "of the music, of the dancer's movement, or both (musmove.evaluation.dance_robot), clear and with the music "
        "masked; score the robot's and the dancer's asynchrony to the song's reference beats; write robot.md and "
        'robot.csv.',
    )
    offsets_and_out(robot)
    robot.set_defaults(handler=dance_robot)

    comparison = verbs.add_parser(
        'study',
        help='the five-architecture comparison (Table 2) -> docs/results.md',
        description='Evaluate the beat and gesture models of the study (CNN, RNN, LSTM, CNN-LSTM, Transformer, '
        'and the shipped CRNN) found in --models: beat models on the test splits (causal tracking), gesture '
        'models from their cross-validated cards; write the tables between the study markers of '
        'docs/results.md, docs/results/study.json and plots. Train the models first with musmove train.',
    )
    comparison.add_argument('--models', default='models', metavar='DIR', help='folder of the models (default: models)')
    comparison.add_argument('--docs', default='docs', metavar='DIR', help='folder of results.md (default: docs)')
    comparison.add_argument('--limit', type=COUNT, metavar='N', help='at most N test tracks per beat data set')
    comparison.add_argument(
        '--ablation',
        choices=ARCHITECTURE_NAMES,
        metavar='ARCH',
        help='also cross-validate this gesture architecture on mocap-only and IMU-only inputs (needs torch; '
        'about 15 minutes); kept in docs/results/ablation.json',
    )
    comparison.add_argument(
        '--dance',
        action='store_true',
        help='also run each beat model on the trusted dance-melody dancers and their songs, alone and with the '
        "dancer's movement (needs the data set and the evaluation extra; about 5 minutes); kept in "
        'docs/results/dance.json',
    )
    comparison.add_argument(
        '--offsets', default='docs/dance/offsets.csv', metavar='CSV', help='with --dance: offsets.csv of dance-offsets'
    )
    comparison.set_defaults(handler=study)
    add_estop_verb(verbs)
    add_bag_verbs(verbs)
    return main


def add_estop_verb(verbs: argparse._SubParsersAction) -> None:
    """estop on|off: the emergency stop, confirmed by the controller."""
    stopping = verbs.add_parser(
        'estop',
        help="stop or release the robot, and wait for the controller's confirmation",
        description="Call the controller's emergency_stop or release service and wait until its latched "
        'emergency_stop/state confirms it; exit 1 with the reason when it does not.',
    )
    stopping.add_argument('state', choices=['on', 'off'], help='on: brake and hold; off: release')
    stopping.add_argument('--namespace', default='', help="the controller's namespace (default: none)")
    stopping.add_argument('--timeout', type=number(float, above=0.0), default=10.0, help='seconds (default: 10)')
    stopping.set_defaults(handler=estop)


def add_bag_verbs(verbs: argparse._SubParsersAction) -> None:
    """record, play and bag (info, reindex): rosbag2 bags with rosbags."""
    recording = verbs.add_parser(
        'record',
        help='record topics into a rosbag2 bag, like `ros2 bag record`',
        description='Record every topic (or the given ones) into a rosbag2 bag until Ctrl-C or SIGTERM, then '
        'print per topic the messages received, written, lost in DDS and missing from their sequence.',
    )
    recording.add_argument('-o', '--output', metavar='DIR', help='bag folder (default: musmove_<date>-<time>)')
    recording.add_argument('--topics', nargs='+', metavar='T', help='topics to record (default: all, as they appear)')
    recording.add_argument('--storage', choices=['mcap', 'sqlite3'], default='mcap', help='storage (default: mcap)')
    recording.add_argument(
        '--max-bag-size', type=SIZE, default=0, metavar='BYTES', help='start a new storage file after BYTES (0: never)'
    )
    recording.add_argument(
        '--max-bag-duration', type=SPAN, default=0.0, metavar='S', help='start a new storage file after S s (0: never)'
    )
    recording.add_argument(
        '--privacy',
        choices=['true', 'false'],
        default='false',
        help='true: keep features and labels, drop raw audio, images and rigid bodies, anonymise skeletons',
    )
    recording.add_argument(
        '--linger', type=SPAN, default=1.0, metavar='S', help='keep recording S s after the stop signal (default: 1)'
    )
    recording.set_defaults(handler=record)

    playing = verbs.add_parser(
        'play',
        help='replay a rosbag2 bag, like `ros2 bag play`',
        description='Publish the messages of a rosbag2 bag (folder, .mcap or .db3) with their recorded spacing.',
    )
    playing.add_argument('bag', metavar='BAG', help='bag folder or storage file')
    playing.add_argument(
        '--rate', type=number(float, above=0.0), default=1.0, metavar='R', help='speed factor (default: 1)'
    )
    playing.add_argument('--loop', action='store_true', help='play again from the start at the end, until Ctrl-C')
    playing.add_argument('--start-offset', type=SPAN, default=0.0, metavar='S', help='start S seconds into the bag')
    playing.add_argument('--topics', nargs='+', metavar='T', help='topics to play (default: all)')
    playing.add_argument(
        '--clock', type=SPAN, default=0.0, metavar='HZ', help='publish the bag time on /clock at HZ (for use_sim_time)'
    )
    playing.add_argument(
        '--wait-for-subscribers', type=SIZE, default=0, metavar='N', help='start once every topic has N subscribers'
    )
    playing.set_defaults(handler=play)

    evaluating = verbs.add_parser(
        'evaluate',
        help='score a recorded session: beats, gesture phase, robot asynchrony, latency',
        description='Score the session recorded in a bag against reference beats (a MIDI file: its metronome; a '
        "text file: one time in s per line) and the partner's annotated gesture phases (UCI *_raw.csv), both "
        'from --start-time on the session clock; write report.md with a Table-2-style summary and PNG plots.',
    )
    evaluating.add_argument('bag', metavar='BAG', help='bag folder or storage file')
    evaluating.add_argument('--beats', metavar='FILE', help='reference beats: .mid (metronome) or text (s per line)')
    evaluating.add_argument('--gestures', metavar='FILE', help="the partner's annotated recording (UCI *_raw.csv)")
    evaluating.add_argument(
        '--start-time',
        type=number(float),
        default=0.0,
        metavar='T',
        help='session clock time [s] of time 0 of the references',
    )
    evaluating.add_argument('--move', choices=['nod', 'sway', 'wave'], default='nod', help="the robot's move")
    evaluating.add_argument('--out', metavar='DIR', help='report folder (default: <bag>_report)')
    evaluating.set_defaults(handler=evaluate)

    bag = verbs.add_parser('bag', help='inspect or repair a rosbag2 bag', description='Inspect or repair a bag.')
    bag_verbs = bag.add_subparsers(dest='bag_verb', required=True, metavar='VERB')
    info = bag_verbs.add_parser(
        'info', help='files, duration, topics and message counts', description='What a bag holds, like ros2 bag info.'
    )
    info.add_argument('bag', metavar='BAG', help='bag folder or storage file')
    info.set_defaults(handler=bag_info)
    repair = bag_verbs.add_parser(
        'reindex',
        help='make a bag whose recording was cut short readable',
        description='Finish the storage files of a bag whose recorder was killed (up to the last flushed chunk) '
        'and write its metadata.yaml.',
    )
    repair.add_argument('bag', metavar='BAG', help='bag folder')
    repair.set_defaults(handler=bag_reindex)


def main(argv: list[str] | None = None) -> int:
    """Run a verb; any error it meets on the way (bad input, unreadable files) is one line and exit status 2."""
    args = parser().parse_args(argv)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        return 130
    except SystemExit:
        raise
    except Exception as error:
        if os.environ.get('MUSMOVE_DEBUG'):
            raise
        reason = str(error) or type(error).__name__
        print(f'musmove {args.verb}: error: {reason} ({type(error).__name__})', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
