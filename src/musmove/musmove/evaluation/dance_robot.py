"""The robot dancing with a real dancer, offline, on the trusted dance-melody sequences (`musmove dance-robot`).

The robot: `DanceController` (the nod, the lock gate and the settings of config/coordination.yaml) stepped at
100 Hz on the song's clock, commanding `KinematicRobot` (robot_sim's kinematic model: 20 ms delay, 20 ms lag),
its latency compensated at a fixed 40 ms; the robot's events are the nod's turning points in its joint states.
What steers it, as in the graph but without transport delays (each estimate delivered at the end of the frame it
was made in): **music**, beat_tracker's stream (the shipped beat model and `BeatTracker` on the song: OBSERVED
beats, and the next 4 beats PREDICTED every 0.1 s from confidence 0.3); **partner**, partner_beat's stream (the
movement tracker of `musmove partner-beats` on the dancer's spine, its event phase fitted on the train
sequences: OBSERVED beats and the next beat every 0.1 s from confidence 0.3, spread `partner_std` 40 ms), on the
music's clock by each sequence's measured offset; **both**, the two with `partner_weight` 1 and the music's
tempo weighed by the partner's (`partner_tempo`, the late fusion of `musmove partner-beats`). Each also with the
music masked by noise (`MASK`, the dancer moving on).

Scored from the first full movement window on, against the song's reference beats
(`musmove.sources.dance.REFERENCE_METHOD`): the robot's events matched to a beat within a quarter beat (share of
the reference beats), their mean and standard deviation (ms), and the same for the masked seconds only; the means
over sequences leave out those without a figure (n/a: no event matched). On the dancer's footing, all events:
the circular mean and standard deviation of the beat phase of every robot event, in ms. The human
reference is the dancer's own asynchrony to the music: the beat phase of their spine's lowest points (one a cycle,
`musmove partner-beats`' peak phase and spread), in ms. The robot to the dancer: its events against the
dancer's lowest points shifted onto the beat by the fitted event phase. No setting was tuned on these songs.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musmove.beat.movement import MovementTracker
from musmove.beat.tracking import BeatTracker
from musmove.evaluation.beats import FPS as AUDIO_FPS
from musmove.evaluation.beats import RATE, activation
from musmove.evaluation.dance_offsets import write_csv
from musmove.evaluation.partner import (
    EVIDENCE_CONFIDENCE,
    MASK,
    Run,
    beat_phase,
    circular_mean,
    dance_audio,
    masked,
    movement,
    track,
    trusted_runs,
)
from musmove.progress import Progress
from musmove.robot.asynchrony import asynchrony, detect_events
from musmove.robot.beat_sources import MUSIC, PARTNER
from musmove.robot.controller import DanceController
from musmove.robot.gate import LockGate
from musmove.robot.limits import JointLimits
from musmove.robot.moves import PANDA_HOME, PANDA_MOVES
from musmove.robot.oscillator import Oscillator
from musmove.robot.sim import KinematicRobot, panda_urdf
from musmove.sources.dance import BEATS_PER_BAR, FPS, REFERENCE_METHOD

DT, DELAY, LAG = 0.01, 0.02, 0.02
PERIOD, COUNT, MIN_CONFIDENCE, PARTNER_STD = 0.1, 4, 0.3, 0.04
CONDITIONS = ('music', 'partner', 'both')
Event = tuple  # (time [s], order, source, observed beat or None, prediction arguments or None)


@dataclass(frozen=True)
class RobotResult:
    sequence: str
    dance: str
    split: str
    condition: str
    masked: bool
    matched: float  # share of the reference beats with a robot event within a quarter beat
    mean_ms: float
    sd_ms: float
    masked_matched: float  # the same over the masked seconds (of the masked run; of the clear one otherwise)
    masked_sd_ms: float
    phase_mean_ms: float  # circular mean and SD of the beat phase of all the robot's events, as the dancer's
    phase_sd_ms: float
    to_dancer_sd_ms: float  # robot events against the dancer's beat-shifted lowest points
    dancer_mean_ms: float  # the dancer's lowest points against the beats (the human reference)
    dancer_sd_ms: float


def music_events(heard: np.ndarray, start: float, evidence: tuple[np.ndarray, ...] | None) -> Iterator[Event]:
    """beat_tracker's stream on `heard` (song time from `start`); with `evidence`, weighed by the partner's tempo."""
    tracker, newest, last = BeatTracker(AUDIO_FPS), 0, -np.inf
    for frame, value in enumerate(activation(heard)[:, 0]):
        now = start + (frame + 1) / AUDIO_FPS
        if evidence is not None:
            times, tempo, confidence = evidence
            newest = np.searchsorted(times, now, side='right')
            confident = newest and confidence[newest - 1] >= EVIDENCE_CONFIDENCE
            tracker.tempo_evidence(tempo[newest - 1] if confident else None)
        estimate = tracker.step(value)
        if estimate.observed is not None:
            yield now, 0, MUSIC, start + estimate.observed / AUDIO_FPS, None
        due = estimate.observed is not None or now - last >= PERIOD
        if due and estimate.confidence >= MIN_CONFIDENCE:
            last = now
            frames, stds = zip(*tracker.predictions(estimate, COUNT), strict=True)
            beats = start + np.array(frames) / AUDIO_FPS
            yield now, 1, MUSIC, None, (beats, estimate.tempo, min(stds) / AUDIO_FPS, estimate.confidence)


def partner_events(run: Run, event_phase: float) -> Iterator[Event]:
    """partner_beat's stream on the dancer's spine, on the music's clock."""
    tracker, last = MovementTracker(FPS, BEATS_PER_BAR[run.seq.dance], event_phase), -np.inf
    for frame, value in enumerate(run.values):
        if not (estimate := tracker.step(float(value))) or estimate.confidence < MIN_CONFIDENCE:
            continue
        now = float(run.song_time(frame + 1))
        if estimate.observed is not None:
            yield now, 0, PARTNER, float(run.song_time(estimate.observed)), None
        if now - last >= PERIOD:
            last = now
            beat = np.array([float(run.song_time(estimate.next_beat))])
            yield now, 1, PARTNER, None, (beat, estimate.tempo / run.scale, PARTNER_STD, estimate.confidence)


def dance(events: list[Event], start: float, end: float, partner: bool) -> np.ndarray:
    """The robot's event times [s] over [start, end] steered by `events` (time-ordered)."""
    names = list(PANDA_HOME)
    limits = JointLimits.from_urdf(panda_urdf(), 10.0, names)
    home = np.array(list(PANDA_HOME.values()))
    oscillator = Oscillator(latency=DELAY + LAG)
    controller = DanceController(limits, home, PANDA_MOVES, 'nod', DT, home, oscillator, gate=LockGate(),
                                 partner_weight=1.0 if partner else None)  # fmt: skip
    controller.watchdog.start()
    robot = KinematicRobot(limits, home, delay=DELAY, lag=LAG, time=start)
    joint = names.index(PANDA_MOVES['nod'].joints[0])
    times, positions, k = np.arange(start, end, DT), [], 0
    for t in times:
        while k < len(events) and events[k][0] <= t:
            now, _, source, observed, prediction = events[k]
            if observed is not None:
                controller.on_observed(observed, now, source)
            else:
                beats, tempo, std, confidence = prediction
                controller.on_beats(now, beats, tempo, std, confidence, now, source)
            k += 1
        controller.on_joint_state(t)
        robot.command(controller.step(t), t)
        robot.step(DT)
        positions.append(robot.state()[0][joint])
    kind = 'min' if PANDA_MOVES['nod'].amplitude[0] > 0 else 'max'
    return detect_events(times, np.array(positions), kind, prominence=0.005)


def score(run: Run, event_phase: float) -> list[RobotResult]:
    """Every condition, clear and masked, on one run."""
    seq, beats, period = run.seq, run.music.beats, run.music.period
    start = seq.start_time + MovementTracker(FPS).length / FPS
    end = seq.start_time + len(run.values) / FPS
    mask = (seq.start_time + MASK[0], seq.start_time + MASK[1])
    meter = BEATS_PER_BAR[seq.dance]
    tempi, _, confidence, _ = movement(run.values, meter, event_phase)
    evidence = (run.song_time(np.arange(len(run.values))), tempi * meter / run.scale, confidence)
    partner = list(partner_events(run, event_phase))
    peaks = run.song_time(track(run.values, 1)[1])
    dancer_mean, dancer_sd = circular_mean(run.phases)
    dancer_beats = peaks - dancer_mean * period  # the dancer's lowest points shifted onto the beat, on average
    heard = dance_audio(seq, len(run.values))
    results = []
    for noisy in (False, True):
        audio = masked(heard, RATE, MASK) if noisy else heard
        for condition in CONDITIONS:
            streams = []
            if condition != 'partner':
                streams += music_events(audio, seq.start_time, evidence if condition == 'both' else None)
            if condition != 'music':
                streams += partner
            events = dance(sorted(streams, key=lambda e: e[:2]), seq.start_time, end + 1.0, condition != 'music')
            inside = lambda b, span=(start, end): b[(b >= span[0]) & (b <= span[1])]  # noqa: E731
            whole, hidden = asynchrony(events, inside(beats)), asynchrony(events, inside(beats, mask))
            to_dancer = asynchrony(events, inside(dancer_beats))
            phase_mean, phase_sd = circular_mean(beat_phase(inside(events), beats)) if len(events) else (np.nan,) * 2
            results.append(RobotResult(
                seq.name, seq.dance, seq.split, condition, noisy, share(whole), 1e3 * whole.mean, 1e3 * whole.sd,
                share(hidden), 1e3 * hidden.sd, 1e3 * phase_mean * period, 1e3 * phase_sd * period,
                1e3 * to_dancer.sd, 1e3 * dancer_mean * period, 1e3 * dancer_sd * period,
            ))  # fmt: skip
    return results


def share(result) -> float:
    total = result.matched + result.missed
    return result.matched / total if total else np.nan


def evaluate(offsets: dict[str, dict[str, str]], progress: bool = True) -> list[RobotResult]:
    """Results per trusted sequence, condition and masking."""
    runs, event_phase = trusted_runs(offsets, progress)
    bar = Progress('musmove dance-robot: sequences', len(runs), enabled=progress)
    results = []
    for k, run in enumerate(runs, start=1):
        results += score(run, event_phase)
        bar.show(k)
    bar.close()
    return results


def write(results: list[RobotResult], out: Path) -> str:
    """robot.md and robot.csv in `out`; returns the Markdown."""
    out.mkdir(parents=True, exist_ok=True)
    write_csv(results, out / 'robot.csv')
    rows = [row(r) for r in results if not r.masked]
    masked_rows = [row(r) for r in results if r.masked]
    header = (
        '| sequence | split | steered by | beats matched (%) | mean (ms) | SD (ms) | masked part: matched (%) '
        '| SD (ms) | all events: mean (ms) | SD (ms) | SD to the dancer (ms) | the dancer: mean (ms) | SD (ms) |'
    )
    rule = '|---|---|---|---|---|---|---|---|---|---|---|---|---|'
    text = '\n'.join([
        '# dance-melody: the robot dancing with a real dancer, offline (`musmove dance-robot`)',
        '',
        __doc__.split('\n\n', 1)[1].replace('\n', ' ').strip(),
        '',
        f'Music reference: {REFERENCE_METHOD}. Masked: {MASK[0]:g}-{MASK[1]:g} s into the dance. Derived numbers '
        'only; the data set is not copied.',
        '',
        '## Means over the sequences',
        '',
        '| sequences | music | steered by | beats matched (%) | SD (ms) | masked part: matched (%) | SD (ms) | '
        'all events: SD (ms) | SD to the dancer (ms) | the dancer: SD (ms) |',
        '|---|---|---|---|---|---|---|---|---|---|',
        *means(results),
        '',
        '## Per sequence, music clear',
        '',
        header,
        rule,
        *rows,
        '',
        '## Per sequence, music masked',
        '',
        header,
        rule,
        *masked_rows,
        '',
    ])  # fmt: skip
    (out / 'robot.md').write_text(text)
    return text


def cell(value: float, spec: str = '.0f') -> str:
    return 'n/a' if np.isnan(value) else format(value, spec)


def row(r: RobotResult) -> str:
    values = (100 * r.matched, r.mean_ms, r.sd_ms, 100 * r.masked_matched, r.masked_sd_ms, r.phase_mean_ms,
              r.phase_sd_ms, r.to_dancer_sd_ms, r.dancer_mean_ms, r.dancer_sd_ms)  # fmt: skip
    specs = ('.0f', '+.0f', '.0f', '.0f', '.0f', '+.0f', '.0f', '.0f', '+.0f', '.0f')
    cells = ' | '.join(cell(v, spec) for v, spec in zip(values, specs, strict=True))
    return f'| {r.sequence} | {r.split} | {r.condition} | {cells} |'


def means(results: list[RobotResult]) -> list[str]:
    lines = []
    for label, split in (('all trusted', None), ('held out (test)', 'test')):
        for noisy in (False, True):
            for condition in CONDITIONS:
                chosen = [r for r in results if r.condition == condition and r.masked == noisy
                          and (split is None or r.split == split)]  # fmt: skip
                if not chosen:
                    continue
                m = lambda name, rs=chosen: np.nanmean([getattr(r, name) for r in rs])  # noqa: E731
                lines.append(
                    f'| {label} ({len(chosen)}) | {"masked" if noisy else "clear"} | {condition} | '
                    f'{cell(100 * m("matched"))} | {cell(m("sd_ms"))} | {cell(100 * m("masked_matched"))} | '
                    f'{cell(m("masked_sd_ms"))} | {cell(m("phase_sd_ms"))} | {cell(m("to_dancer_sd_ms"))} | '
                    f'{cell(m("dancer_sd_ms"))} |'
                )
    return lines
