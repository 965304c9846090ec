"""Live mode tuned on the VALIDATION split: the tracker's calibration and the controller's gains (never on test).

    python bench/live_tuning.py [--performances N] [--seconds S] [--latency L] [--split validation]
                                [--dataset groove|pop909|mix]
                                [--grid '{"phase_gain": [3, 10]}'] [--gate '{"count": 4}'] [--each]

For each of the first N Groove performances of the split in 4/4 that last 30 s or more, rendered as the demo
renders them (fluidsynth, 22050 Hz), or with --dataset pop909 / mix the first N POP909 renders or full-band
mixtures of the split made as the prepared training data is (`prepare.evaluation_audio`, `prepare.rendered`:
General MIDI instruments, SoundFont, room and microphone channel; their labels are the performed beats, the
annotated beats plus the render delay; no click), the shipped beat models and `BeatTracker` run causally frame
by frame; their OBSERVED and PREDICTED beats go, as the beat_tracker node stamps them (a frame is stamped with its first
sample and arrives once its last is in), into the controller's ROS-free core (`DanceController` with its
`LockGate`) stepped at 100 Hz, whose commands reach a robot that moves exactly --latency seconds after each
command (the latency compensated exactly: what the controller's measured latency converges to). The robot's
movement events are scored as `musmove evaluate` scores them, against the performed beats (drum notes plus
the render delay) and the metronome click, from the tracker's lock and from the first movement.

First it prints the OBSERVED beats minus the performed beats (median over the split, before any calibration):
minus that is the beat_tracker's `calibration` (with --split test, which only reports, --calibration is given).
Then, with that calibration, one line per combination of the --grid options of `Oscillator` (JSON: name -> list
of values; default: the phase and integral gains; `direct_std`: the controller's `BeatSchedule` `max_std`): medians
over the performances of mean, SD and mean absolute asynchrony (ms, vs the performed beats from the lock), the lock
time and the first movement (s), and how many performances danced at a wrong tempo (a median beat interval of the
events off the performed one by over 10 %), the SD against the OBSERVED beats (calibrated; what the controller
steers on: the controller's own share), and how many were scored (the tracker locked on the reference; the medians
are over these); with --each, those per performance before each median line.
"""

import argparse
import itertools
import json

import numpy as np

from musmove.beat.tracking import BeatTracker
from musmove.evaluation.beats import FPS, HOP, RATE, activation
from musmove.evaluation.performed import heard_beats
from musmove.evaluation.session import CLICK, PERFORMED, WINDOWS, robot_timing
from musmove.robot.asynchrony import detect_events
from musmove.robot.controller import DanceController
from musmove.robot.gate import LockGate
from musmove.robot.limits import JointLimits
from musmove.robot.measurement import PROMINENCE, event_kind
from musmove.robot.moves import PANDA_HOME, PANDA_MOVES
from musmove.robot.oscillator import Oscillator
from musmove.robot.schedule import BeatSchedule
from musmove.robot.sim import panda_urdf
from musmove.sources.audio import load_audio
from musmove.training import prepare
from musmove.training.beat_data import examples, render

DT = 0.01  # s: the control period
PREDICTED_BEATS, PERIOD = 4, 0.1  # the beat_tracker's defaults: beats per prediction, longest time between
DELIVERY = 0.003  # s: a beat message's delivery after its frame is in
MOVE = 'nod'
RENDERED = 'performed beats (labels of the render: annotated beats + render delay)'


def track(audio: np.ndarray, lookahead: float = 0.0):
    """OBSERVED beat times [s], when each was made [s], and the predictions (made at, beat times, tempo, std,
    confidence), uncalibrated. With `lookahead` (known music: the audio `lookahead` s ahead of the clock) a
    prediction is led by the newest observed beat while it is still ahead of the clock, as the node does."""
    tracker = BeatTracker(FPS)
    frame_s, observed, made_at, predictions, last = HOP / RATE, [], [], [], -np.inf
    for value in activation(audio)[:, 0]:
        estimate = tracker.step(float(value))
        made = (estimate.frame + 1) * frame_s
        if estimate.observed is not None:
            observed.append(estimate.observed * frame_s)
            made_at.append(made)
        due = estimate.observed is not None or made - last >= PERIOD - 1e-9
        if due and estimate.confidence >= tracker.min_confidence:
            last = made
            beats = tracker.predictions(estimate, PREDICTED_BEATS)
            times = [frame * frame_s for frame, _ in beats]
            std = min(s for _, s in beats) * frame_s
            if observed and observed[-1] > made - lookahead:  # not heard yet: known
                times, std = [observed[-1], *times], 0.0
            predictions.append((made, times, estimate.tempo, std, estimate.confidence))
    return np.array(observed), np.array(made_at), predictions


def dance(observed, predictions, calibration: float, latency: float, seconds: float, gate: dict, oscillator: dict):
    """The marking joint's (times, positions) as the robot moves them, `latency` after each command.

    `observed` holds (beat times, arrival times) [s]; a prediction arrives `DELIVERY` after it was made, less
    the look-ahead (`oscillator['lookahead']`, known music; not an `Oscillator` option); `oscillator['direct_std']`
    is the `BeatSchedule`'s `max_std` (default 0: known beats steer directly; -1: the oscillator alone)."""
    oscillator = dict(oscillator)
    ahead = oscillator.pop('lookahead', 0.0)
    schedule = BeatSchedule(max_std=oscillator.pop('direct_std', 0.0))
    names = list(PANDA_HOME)
    limits = JointLimits.from_urdf(str(panda_urdf()), dict.fromkeys(names, 10.0), names)
    home = np.array(list(PANDA_HOME.values()))
    osc = Oscillator(latency=latency, **oscillator)
    controller = DanceController(
        limits, home, PANDA_MOVES, MOVE, DT, home, osc, gate=LockGate(**gate), schedule=schedule
    )
    controller.watchdog.start()
    beats, arrivals = observed
    arrivals = arrivals - ahead if ahead else beats + calibration  # live: as scored before (the beat itself)
    messages = [(a + DELIVERY, 0, t + calibration, None) for t, a in zip(beats, arrivals, strict=True)]
    messages += [(made - ahead + DELIVERY, 1, made, p) for made, *p in predictions]
    messages = [m for m in messages if m[0] < seconds]
    messages.sort(key=lambda m: (m[0], m[1]))
    joint, k, times, positions = names.index(PANDA_MOVES[MOVE].joints[0]), 0, [], []
    for step in range(1, round(seconds / DT) + 1):
        t = step * DT
        while k < len(messages) and messages[k][0] <= t:
            received, kind, when, p = messages[k]
            if kind == 0:
                controller.on_observed(when, received)
            else:
                beats, tempo, std, confidence = p
                controller.on_beats(when, np.asarray(beats) + calibration, tempo, std, confidence, received)
            k += 1
        controller.on_joint_state(t)
        positions.append(controller.step(t)[joint])
        times.append(t + latency)
    return np.array(times), np.array(positions)


def score(data, calibration, args, oscillator) -> dict[str, float]:
    """One piece danced with `oscillator` options: figures vs its primary reference (the performed beats) from
    the lock."""
    observed, made, predictions, references, end = data
    options = {**oscillator, 'lookahead': args.lookahead}
    times, positions = dance((observed, made), predictions, calibration, args.latency, end, args.gate, options)
    events = detect_events(times, positions, event_kind(PANDA_MOVES[MOVE]), prominence=PROMINENCE)
    away = np.flatnonzero(np.abs(positions - positions[0]) > PROMINENCE)
    moving = (float(times[away[0]]), float(times[away[-1]])) if away.size else (np.inf, -np.inf)
    steered = {**references, 'observed': observed + calibration}  # what the controller steers on
    timing = robot_timing(events, moving, steered, observed + calibration)
    primary = next(iter(references))
    result = timing.rows[primary, WINDOWS[0]]
    danced = events[events >= moving[0]]
    ratio = np.median(np.diff(danced)) / np.median(np.diff(references[primary])) if danced.size > 2 else 1.0
    click = timing.rows[CLICK, WINDOWS[0]].mean_absolute if CLICK in references else np.nan
    steering = timing.rows['observed', WINDOWS[0]].sd
    return {'mean': result.mean, 'sd': result.sd, 'abs': result.mean_absolute, 'lock': timing.lock,
            'moved': timing.moved, 'wrong': float(abs(ratio - 1) > 0.1), 'click_abs': click,
            'observed_sd': steering}  # fmt: skip


def median(values: list[float]) -> float:
    """The median of the finite values; NaN if none (no click for the renders)."""
    finite = np.asarray(values, dtype=float)[np.isfinite(values)]
    return float(np.median(finite)) if finite.size else np.nan


def pieces(dataset: str, split: str, count: int, seconds: float) -> list[tuple[str, np.ndarray, dict]]:
    """(name, the first `seconds` of audio, references: the primary first, each cut 0.3 s before the end)."""
    if dataset == 'groove':
        chosen = [e for e in examples(split=split) if e.time_signature == '4/4' and e.beats[-1] >= 30.0][:count]
        items = []
        for example in chosen:
            performed, clicks = heard_beats(example.midi)
            audio = load_audio(render(example), RATE)[:, 0]
            items.append((example.name, audio, {PERFORMED: performed[np.isfinite(performed)], CLICK: clicks}))
    else:
        chosen = prepare.evaluation_audio(dataset, split, count)
        rendered = [(name, prepare.rendered(dataset, name, group)) for name, group in chosen]
        items = [(name, labelled.audio, {RENDERED: labelled.beats}) for name, labelled in rendered]
    end = seconds - 0.3
    return [(name, audio[: round(seconds * RATE)], {key: beats[beats <= end] for key, beats in refs.items()})
            for name, audio, refs in items]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--performances', type=int, default=12, help='performances of the split (default 12)')
    parser.add_argument('--seconds', type=float, default=30.0, help='seconds of each (default 30)')
    parser.add_argument('--latency', type=float, default=0.08, help='command-to-motion latency [s] (default 0.08)')
    parser.add_argument('--split', default='validation', choices=('validation', 'test'), help='(default validation)')
    parser.add_argument('--dataset', default='groove', choices=('groove', 'pop909', 'mix'), help='(default groove)')
    parser.add_argument('--grid', type=json.loads, default={}, help='Oscillator options: JSON name -> values')
    parser.add_argument('--gate', type=json.loads, default={}, help='LockGate options (JSON)')
    parser.add_argument('--calibration', type=float, default=None, help='[s]; default: fitted on validation')
    parser.add_argument('--lookahead', type=float, default=0.0, help='known music: audio this far ahead [s]')
    parser.add_argument('--each', action='store_true', help='also a line per performance (SD, |a|, obs SD)')
    args = parser.parse_args()
    if args.split == 'test' and args.calibration is None:
        parser.error('--split test reports, it does not fit: give --calibration (the shipped one: -0.0008)')
    chosen = pieces(args.dataset, args.split, args.performances, args.seconds)
    print(f'live_tuning: {len(chosen)} {args.dataset} {args.split} pieces, {args.seconds:g} s each, '
          f'latency {1e3 * args.latency:.0f} ms, gate {args.gate or "defaults"}, '
          f'lookahead {args.lookahead:g} s; reference: {next(iter(chosen[0][2])) if chosen else "-"}')  # fmt: skip
    runs, offsets = [], []
    for _, audio, references in chosen:
        observed, made, predictions = track(audio, args.lookahead)
        runs.append((observed, made, predictions, references, args.seconds))
        heard = next(iter(references.values()))
        after = observed[observed >= 5.0]
        if heard.size and after.size:
            nearest = heard[np.clip(np.searchsorted(heard, after), 1, heard.size - 1)]
            before = heard[np.clip(np.searchsorted(heard, after) - 1, 0, heard.size - 1)]
            nearest = np.where(np.abs(before - after) < np.abs(nearest - after), before, nearest)
            offsets.extend(after[np.abs(after - nearest) <= 0.07] - nearest[np.abs(after - nearest) <= 0.07])
    bias = float(np.median(offsets)) if offsets else 0.0
    calibration = -bias if args.calibration is None else args.calibration
    print(f'OBSERVED - performed beats: median {1e3 * bias:+.1f} ms, mean {1e3 * np.mean(offsets):+.1f} ms over '
          f'{len(offsets)} beats after 5 s; calibration {1e3 * calibration:+.1f} ms')  # fmt: skip
    grid = args.grid or {'phase_gain': [3.0, 10.0], 'frequency_gain': [2.0], 'integral_gain': [1.0, 3.0]}
    print(f'{"oscillator options":<60} {"mean":>6} {"SD":>5} {"|a|":>5} {"click|a|":>8} {"lock":>5} {"moved":>5} wrong '
          f'{"obs SD":>6} scored')  # fmt: skip
    for values in itertools.product(*grid.values()):
        options = dict(zip(grid, values, strict=True))
        rows = [score(run, calibration, args, options) for run in runs]
        for (name, _, _), r in zip(chosen, rows, strict=True) if args.each else ():
            print(f'  {name:<58} SD {1e3 * r["sd"]:5.1f} |a| {1e3 * r["abs"]:5.1f} '
                  f'obs SD {1e3 * r["observed_sd"]:5.1f}{" wrong tempo" if r["wrong"] else ""}')  # fmt: skip
        m = {k: median([r[k] for r in rows]) for k in rows[0]}
        wrong = sum(r['wrong'] for r in rows)
        scored = sum(np.isfinite(r['sd']) for r in rows)  # the medians are over these
        figures = ' '.join(f'{1e3 * m[k]:>{w}.1f}' for k, w in (('sd', 5), ('abs', 5), ('click_abs', 8)))
        print(f'{json.dumps(options):<60} {1e3 * m["mean"]:>+6.1f} {figures} {m["lock"]:>5.2f} {m["moved"]:>5.2f} '
              f'{wrong:>5.0f} {1e3 * m["observed_sd"]:>6.1f} {scored:>3}/{len(rows)}', flush=True)  # fmt: skip


if __name__ == '__main__':
    main()
