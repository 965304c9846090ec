"""The robot after a step change in the music (phase +-50 ms, period +-10 %), beside people (López & Laje 2019).

    python bench/perturbation.py [--performances N] [--lookahead S] [--playback] [--plot PNG]
                                 [--core] [--split validation|test] [--trials K]

For each of the first N Groove test-split performances in 4/4 (30 s or more), the MIDI is edited at the first
bar line after --step-at seconds: every event from 1/8 beat before it on moves by +-50 ms (a phase step), or the
time from it on runs with the period 10 % shorter or longer (a period step); rendered with fluidsynth, it is
played to the graph of bench/robot_asynchrony.py (audio_source, beat_tracker, robot_sim, robot_controller, each
its own process), live (causal) and in known-music mode (audio_source `lookahead`; --playback: on the sound
card). The reference is the performed beat: the edited drum notes of each beat (`rendering.performed`) plus
the render delay (`rendering.measured_delays`). The robot's movement events are matched to it; beat n = 1 is
the first beat at the new phase or period. As the human curves, each run's asynchronies are taken relative
to its mean over the 8 beats before the step, then the median over performances; "back within 15 ms" is the
beat from which the curve stays within 15 ms (`musmove.evaluation.human.beats_to_recover`). People: the
median re-synchronisation after a +-50 ms (10 %) period step of a 500 ms metronome (López & Laje 2019, 8
subjects; the data hold no phase steps). People's curve is each person's mean over their trials (8 each way),
then the median over people; with --trials K each performance is stepped K times, at the first bar line after
--step-at, --step-at + 3 s, ..., and its curve is the mean of the K (default 1: one trial, which carries the
robot's beat-to-beat scatter of 15-20 ms SD that people's mean over trials averages out).

With --core the same music goes instead through `bench/live_tuning.py`'s deterministic replay (the shipped beat
models and `BeatTracker` frame by frame, the controller's ROS-free core, a robot that moves 80 ms after each
command): seconds per performance, free of the machine's load, so that choices can be made on
`--split validation` (never on test) and then reported on test by the graph.
"""

import argparse
import os
import re
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import rclpy
from live_tuning import MOVE, dance, track
from rclpy.executors import ExternalShutdownException
from robot_asynchrony import known_music_options, perform

from musmove.evaluation import human
from musmove.evaluation.beats import RATE
from musmove.robot.asynchrony import detect_events
from musmove.robot.measurement import PROMINENCE, event_kind
from musmove.robot.moves import PANDA_MOVES
from musmove.sources.audio import load_audio
from musmove.sources.data import cache_dir, render_midi, shared_data
from musmove.training import midi
from musmove.training.beat_data import Example, examples
from musmove.training.rendering import drum_onsets, measured_delays, performed

NS = 10**9
STEPS = (('phase', 0.05), ('phase', -0.05), ('period', -0.1), ('period', 0.1))
SPAN = (-5, 15)  # beats around the step
BASELINE = 8  # beats before the step the curve is relative to
AFTER = 16  # beats of music after the step
TRIAL_SPACING = 3.0  # s between the steps of one performance's trials (--trials)


def label(kind: str, size: float) -> str:
    return f'phase {1e3 * size:+.0f} ms' if kind == 'phase' else f'period {100 * size:+.0f} %'


def edit(example: Example, kind: str, size: float, at: float) -> tuple[Path, np.ndarray, int, float]:
    """The edited MIDI, its performed beats [s], the index of beat n = 1 and the time of the step."""
    beats = np.asarray(example.beats, dtype=float)
    step = float(example.downbeats[np.searchsorted(example.downbeats, at)])
    margin = float(np.median(np.diff(beats))) / 8

    def move(t: np.ndarray) -> np.ndarray:
        if kind == 'phase':
            return np.where(t >= step - margin, t + size, t)
        return np.where(t >= step - margin, step + (t - step) * (1 + size), t)

    events = [e.at(float(move(np.array(e.time)))) for e in midi.read(example.midi)]
    name = re.sub(r'\W+', '-', f'{example.name}-{kind}-{"plus" if size > 0 else "minus"}{abs(size):g}-at{step:.3f}')
    path = midi.write(events, cache_dir() / 'perturbation' / f'{name}.mid')
    reference = performed(move(beats), drum_onsets(events)) + measured_delays()['FluidR3_GM']
    first = int(np.searchsorted(beats, step - margin)) + (kind == 'period')
    return path, reference, first, step


def curve(times: np.ndarray, positions: np.ndarray, reference: np.ndarray, first: int, move: str):
    """The robot's asynchrony [s] at beats SPAN around the step, less its pre-step mean; and that mean. `times` [s]
    and `positions` are the marking joint's."""
    events = detect_events(times, positions, event_kind(PANDA_MOVES[move]), prominence=PROMINENCE)
    tolerance = 0.25 * float(np.median(np.diff(reference)))
    n = np.arange(SPAN[0] - BASELINE, SPAN[1] + 1)
    values = np.full(len(n), np.nan)
    for k, beat in enumerate(n + first - 1):
        if 0 <= beat < len(reference) and len(events):
            nearest = events[np.argmin(np.abs(events - reference[beat]))]
            values[k] = nearest - reference[beat] if abs(nearest - reference[beat]) <= tolerance else np.nan
    before = values[(n <= 0) & (n > -BASELINE)]
    baseline = float(np.nanmean(before)) if np.isfinite(before).any() else np.nan
    inside = n >= SPAN[0]
    return values[inside] - baseline, baseline


def on_graph(example: Example, args: argparse.Namespace, log_dir: Path, wav: Path) -> tuple[np.ndarray, ...]:
    """The marking joint's (times [s] from sample 0, positions) as robot_sim reports it, and warnings."""
    node, t0, warnings = perform(example, args, log_dir, wav)
    states = np.array(sorted(node.states), dtype=float).reshape(-1, 2)
    fresh = np.concatenate([[True], np.diff(states[:, 0]) > 0])
    return (states[fresh, 0] - t0) / NS, states[fresh, 1], warnings


def on_core(args: argparse.Namespace, wav: Path) -> tuple[np.ndarray, ...]:
    """The same through the deterministic replay of `bench/live_tuning.py` (the shipped calibration, 80 ms)."""
    audio = load_audio(wav, RATE)[: round(args.seconds * RATE), 0]
    observed, made, predictions = track(audio, args.lookahead)
    options = {'lookahead': args.lookahead}
    times, positions = dance((observed, made), predictions, -0.0008, 0.08, args.seconds, {}, options)
    return times, positions, []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--performances', type=int, default=1, help='performances of the split (default 1)')
    parser.add_argument('--step-at', type=float, default=14.0, help='the step at the first bar line after [s]')
    parser.add_argument('--lead', type=float, default=15.0, help='seconds from starting the nodes to sample 0')
    parser.add_argument('--robot', choices=('panda', 'kinematic'), default='panda', help='robot_sim (default panda)')
    parser.add_argument('--move', choices=tuple(PANDA_MOVES), default='nod', help='robot_controller move')
    parser.add_argument('--plot', type=Path, help='write the curves as a PNG')
    parser.add_argument('--core', action='store_true', help="live_tuning's deterministic replay, not the graph")
    parser.add_argument('--split', choices=('validation', 'test'), default='test', help='(default test)')
    parser.add_argument('--trials', type=int, default=1, help='steps per performance, 3 s apart (default 1)')
    known_music_options(parser)
    args = parser.parse_args()
    if args.trials < 1:
        parser.error('--trials must be 1 or more')
    if args.core and (args.playback or args.move != MOVE or args.robot != 'panda'):
        parser.error(f'--core replays the {MOVE} of a Panda, without a sound card')
    args.settle = 8.0
    chosen = [e for e in examples(split=args.split) if e.time_signature == '4/4' and e.beats[-1] >= 30.0]
    chosen = chosen[: args.performances]
    modes = {'live': 0.0, f'known {args.lookahead:g} s': args.lookahead} if args.lookahead else {'live': 0.0}
    people = human.lopez_laje(shared_data() / 'human-timing', 'xl')
    where = 'the core replay' if args.core else f'robot {args.robot}'
    print(f'perturbation: {len(chosen)} {args.split} performance(s), {", ".join(modes)}; {where}, move {args.move};')
    print(f'  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; asynchrony = event - performed beat')
    results: dict[tuple[str, str], list[np.ndarray]] = {}
    baselines: dict[tuple[str, str], list[float]] = {}
    rclpy.init(args=[])
    try:
        with tempfile.TemporaryDirectory(prefix='perturbation-') as log_dir:
            for example in chosen:
                for kind, size in STEPS:
                    trials: dict[str, list[tuple[np.ndarray, float]]] = {}
                    for trial in range(args.trials):
                        at = args.step_at + TRIAL_SPACING * trial
                        for mode, run in perturb(example, kind, size, at, modes, args, Path(log_dir)).items():
                            trials.setdefault(mode, []).append(run)
                    for mode, runs in trials.items():
                        key = (label(kind, size), mode)
                        with warnings.catch_warnings():
                            warnings.simplefilter('ignore', RuntimeWarning)  # a beat no trial matched: NaN
                            results.setdefault(key, []).append(np.nanmean([values for values, _ in runs], axis=0))
                        baselines.setdefault(key, []).extend(baseline for _, baseline in runs)
    except (KeyboardInterrupt, ExternalShutdownException):
        sys.exit(130)
    except RuntimeError as error:
        sys.exit(f'perturbation: {error}')
    finally:
        rclpy.try_shutdown()
    report(results, baselines, people, len(chosen), args.plot)


def perturb(
    example: Example,
    kind: str,
    size: float,
    at: float,
    modes: dict[str, float],
    args: argparse.Namespace,
    log_dir: Path,
) -> dict[str, tuple[np.ndarray, float]]:
    """One step of `example` at the first bar line after `at` [s], danced in each of `modes` (name -> lookahead):
    per mode, its curve and pre-step mean (`curve`), printed."""
    wav_midi, reference, first, step = edit(example, kind, size, at)
    args.seconds = float(reference[min(first + AFTER, len(reference) - 1)]) + 0.5
    wav, runs, playback = render_midi(wav_midi), {}, args.playback
    for mode, lookahead in modes.items():
        args.lookahead, args.playback = lookahead, playback and lookahead > 0
        times, positions, notes = on_core(args, wav) if args.core else on_graph(example, args, log_dir, wav)
        args.playback = playback
        values, baseline = runs[mode] = curve(times, positions, reference, first, args.move)
        shown = ' '.join('  .' if np.isnan(v) else f'{1e3 * v:+.0f}' for v in values)
        print(f'{example.name} {label(kind, size)} at {step:.2f} s, {mode}: pre-step mean {1e3 * baseline:+.1f} ms')
        print(f'  n={SPAN[0]}..{SPAN[1]} [ms]: {shown}', *notes, sep='\n  ', flush=True)
    return runs


def report(results, baselines, people: list[human.Resynchronisation], performances: int, plot: Path | None) -> None:
    """The median curves and beats to get back within 15 ms, robot and people, and the plot."""
    beats = np.arange(SPAN[0], SPAN[1] + 1)
    print(f'\nmedian over {performances} performance(s), each the mean of its trials, relative to the pre-step mean')
    print('[ms]; back within 15 ms at beat')
    rows = []
    for curve_ in people:
        name = f'people: period {100 * curve_.step / 0.5:+.0f} %'
        rows.append((name, curve_.asynchrony, curve_.recovery(), f'{curve_.subjects} subjects, {curve_.trials} trials'))
    for (step, mode), runs in results.items():
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', RuntimeWarning)  # a beat no run matched: NaN
            median = np.nanmedian(np.array(runs), axis=0)
        recovered = human.beats_to_recover(beats, median)
        rows.append(
            (f'robot {mode}: {step}', median, recovered, f'pre-step {1e3 * np.nanmean(baselines[step, mode]):+.1f}')
        )
    for name, values, recovered, note in rows:
        shown = ' '.join('  .' if np.isnan(v) else f'{1e3 * v:+4.0f}' for v in values[beats >= -1][:12])
        print(f'  {name:<32} back at {recovered if recovered is not None else "never":>5}  n=-1..10: {shown}  ({note})')
    if plot:
        import matplotlib

        matplotlib.use('Agg')
        from matplotlib import pyplot

        figure, axes = pyplot.subplots(1, 2, figsize=(11, 4), sharey=True)
        for axis, kind in zip(axes, ('phase', 'period'), strict=True):
            for name, values, _, _ in rows:
                if kind in name:
                    style = '--' if name.startswith('people') else '-'
                    axis.plot(beats, 1e3 * values, style, marker='o', markersize=3, label=name)
            axis.axhspan(-15, 15, color='0.9')
            title = f'{kind} steps' + (' (no human data)' if kind == 'phase' else ' (people: López & Laje 2019)')
            axis.set(title=title, xlabel='beat after the step', ylabel='asynchrony - pre-step mean [ms]')
            axis.legend(fontsize=7)
        figure.tight_layout()
        figure.savefig(plot, dpi=120)
        print(f'  plot: {plot}')


if __name__ == '__main__':
    main()
