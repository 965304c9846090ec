"""`musmove evaluate BAG`: how a recorded session went, against the music's beats and the partner's gestures.

From a rosbag2 bag of the coordination graph it scores, where the topics and references are there:

- beats: the OBSERVED `beats` against reference beat times (mir_eval F-measure ±70 ms, CMLt, AMLt,
  P-score) and the PREDICTED ones by their error (`musmove.evaluation.beats.prediction_errors`);
- gesture phase: `gesture_phase` against the annotated phases of the partner's recording (frame-wise
  accuracy, macro-F1, confusion matrix);
- the robot: the movement events of the move's marking joint in `joint_states` against each reference
  (asynchrony: mean, SD, mean absolute) in two windows, from the lock (the first time the OBSERVED beats match
  the primary reference for 4 beats in a row, `musmove.evaluation.metrical.lock_time`) and from the robot's
  first movement, both to the end of the dance; and the controller's own `coordination_metrics`;
- latency: per topic, the time a message was recorded minus the time it describes.

References are on the session's clock: reference files give times from `start_time` (the common start
of the file sources), a UCI *_raw.csv its annotated phases. A MIDI file (Groove) gives two beat references: the
primary one, the performed beats people hear (`musmove.evaluation.performed.heard_beats`: the drum notes of
each metronome beat plus the render delay of fluidsynth at 22050 Hz, as the demo renders it), and the
metronome click the drummer played to (not in the audio). A text file of beat times is the one reference.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rclpy.serialization import deserialize_message
from rosbags.rosbag2 import Reader

from musmove.bag.types import message_class
from musmove.evaluation.beats import prediction_errors, scores
from musmove.evaluation.metrical import lock_time
from musmove.evaluation.performed import heard_beats
from musmove.gesture.features import PHASES
from musmove.robot.asynchrony import Asynchrony, asynchrony, detect_events
from musmove.robot.measurement import PROMINENCE, event_kind
from musmove.robot.moves import PANDA_HOME, PANDA_MOVES

NS = 10**9
LATENCY_TOPICS = ('sync_frame', 'beats', 'gesture_phase', 'joint_states')
PERFORMED = 'performed beats (drum notes + render delay)'
CLICK = 'metronome click (not in the audio)'
ANNOTATED = 'annotated beats'
WINDOWS = ('from lock', 'from first movement')


def stamp_seconds(stamp: Any) -> float:
    return stamp.sec + stamp.nanosec / NS


def read_topics(bag: Path, names: tuple[str, ...]) -> dict[str, list[tuple[float, Any]]]:
    """Messages of the topics whose last name element is in `names`: {name: [(recorded at [s], message)]}."""
    found: dict[str, list[tuple[float, Any]]] = {}
    with Reader(bag) as reader:
        chosen = [c for c in reader.connections if c.topic.rsplit('/', 1)[-1] in names]
        classes = {c.id: message_class(c.msgtype) for c in chosen}
        for connection, timestamp, data in reader.messages(connections=chosen):
            message = deserialize_message(data, classes[connection.id])
            found.setdefault(connection.topic.rsplit('/', 1)[-1], []).append((timestamp / NS, message))
    return found


def reference_beats(path: Path, start_time: float) -> dict[str, np.ndarray]:
    """Beat references [s] on the session clock, the primary first: a MIDI file's performed beats and
    metronome, or a text file of times (one per line)."""
    if path.suffix.lower() in ('.mid', '.midi'):
        performed, clicks = heard_beats(path)
        return {PERFORMED: performed[~np.isnan(performed)] + start_time, CLICK: clicks + start_time}
    return {ANNOTATED: np.loadtxt(path, ndmin=1, usecols=0) + start_time}


@dataclass(frozen=True)
class RobotTiming:
    """The robot's events against each reference beat in each window (`WINDOWS`), with the window starts [s]."""

    lock: float  # the tracker's lock on the primary reference (inf: none)
    moved: float  # the robot's first movement (inf: none)
    rows: dict[tuple[str, str], Asynchrony]  # (reference, window): asynchrony

    def lines(self, start_time: float = 0.0) -> list[str]:
        """One line per reference and window, times from `start_time`."""
        starts = {WINDOWS[0]: self.lock - start_time, WINDOWS[1]: self.moved - start_time}
        return [f'- robot vs {reference}, {window} ({starts[window]:.1f} s): {result}'
                for (reference, window), result in self.rows.items()]  # fmt: skip


def robot_timing(
    events: np.ndarray, moving: tuple[float, float], references: dict[str, np.ndarray], observed: np.ndarray
) -> RobotTiming:
    """Score `events` against `references` (the primary first) from the lock of the `observed` beats on the
    primary reference and from the first movement, both to the end of the dance (`moving`: first and last
    time the robot was away from home)."""
    primary = next(iter(references.values()))
    lock = lock_time(primary, np.unique(observed))
    rows = {}
    for name, beats in references.items():
        tolerance = 0.25 * float(np.median(np.diff(beats))) if len(beats) > 1 else 0.1
        for window, start in zip(WINDOWS, (lock, moving[0]), strict=True):
            chosen = beats[(beats >= start) & (beats <= moving[1])]  # beats before the robot moves count as missed
            rows[name, window] = asynchrony(np.asarray(events), chosen, tolerance)
    return RobotTiming(lock, moving[0], rows)


def reference_phases(path: Path, start_time: float) -> tuple[np.ndarray, np.ndarray]:
    """Times [s] on the session clock and phase indices of an annotated recording (UCI *_raw.csv)."""
    from musmove.sources.recordings import read_mocap

    mocap = read_mocap(path)
    if mocap.labels is None:
        raise ValueError(f'{path}: no gesture-phase labels')
    return mocap.times + start_time, np.array([PHASES.index(label) for label in mocap.labels])


@dataclass
class Session:
    """The figures of one recorded session; NaN or None where the bag or the references lack what they need."""

    beat_scores: dict[str, float] = field(default_factory=dict)
    prediction_errors_ms: np.ndarray = field(default_factory=lambda: np.empty(0))
    gesture: dict[str, Any] = field(default_factory=dict)
    robot: Asynchrony | None = None  # vs the primary reference from the lock (vs the tracker's without one)
    timing: RobotTiming | None = None  # vs every reference, from the lock and from the first movement
    robot_vs_tracker: Asynchrony | None = None  # vs the OBSERVED beats, what the controller itself measures
    tracker_offset_ms: float = float('nan')  # mean of OBSERVED beat - nearest primary reference beat
    start_time: float = 0.0
    robot_reported: dict[str, float] = field(default_factory=dict)
    latencies_ms: dict[str, np.ndarray] = field(default_factory=dict)
    timeline: dict[str, np.ndarray] = field(default_factory=dict)  # for the plot


def evaluate(
    bag: Path, beats: Path | None = None, gestures: Path | None = None, start_time: float = 0.0, move: str = 'nod'
) -> Session:
    """Score the session recorded in `bag` (see the module's description)."""
    topics = read_topics(bag, (*LATENCY_TOPICS, 'coordination_metrics'))
    session = Session(start_time=start_time)
    for name in LATENCY_TOPICS:
        times = np.array([(t - stamp_seconds(m.header.stamp)) * 1e3 for t, m in topics.get(name, [])])
        if name == 'beats':  # a beat is published when estimated, not when it happens
            times = np.array([(t - stamp_seconds(m.estimated_at)) * 1e3 for t, m in topics.get(name, [])])
        if times.size:
            session.latencies_ms[name] = times
    references = reference_beats(beats, start_time) if beats else {}
    reference = next(iter(references.values())) if references else None
    observed = np.array([stamp_seconds(m.header.stamp) for _, m in topics.get('beats', []) if m.kind == m.OBSERVED])
    session.timeline['observed'] = observed
    if reference is not None:
        heard = (observed.max() if observed.size else -np.inf) + 1.0
        references = {name: times[times <= heard] for name, times in references.items()}
        reference = next(iter(references.values()))
        session.timeline['reference'] = reference
        if observed.size:
            session.beat_scores = scores(reference - start_time, np.unique(observed) - start_time)
            ahead = sorted(
                (stamp_seconds(m.estimated_at), stamp_seconds(m.header.stamp))
                for _, m in topics['beats']
                if m.kind == m.PREDICTED
            )
            if ahead:
                made, times = np.array(ahead).T - start_time
                session.prediction_errors_ms = prediction_errors(reference - start_time, made, times)
    if gestures and topics.get('gesture_phase'):
        session.gesture = score_gestures(topics['gesture_phase'], *reference_phases(gestures, start_time))
    if reference is not None and observed.size:
        session.tracker_offset_ms = 1e3 * asynchrony(observed, reference).mean  # (matching as for the robot)
    if topics.get('joint_states'):
        events, moving, session.timeline['joint'] = robot_events(topics['joint_states'], move)
        if references:
            session.timing = robot_timing(events, moving, references, observed)
            session.robot = next(iter(session.timing.rows.values()))
        else:
            session.robot = robot_timing(events, moving, {'OBSERVED': observed}, observed).rows['OBSERVED', WINDOWS[1]]
        dancing = observed[(observed >= moving[0]) & (observed <= moving[1])]
        session.robot_vs_tracker = asynchrony(events, dancing)
    if topics.get('coordination_metrics'):
        last = topics['coordination_metrics'][-1][1]
        session.robot_reported = {
            'mean_ms': 1e3 * last.mean_asynchrony,
            'sd_ms': 1e3 * last.sd_asynchrony,
            'mean_absolute_ms': 1e3 * last.mean_absolute_asynchrony,
        }
    return session


def score_gestures(messages: list, times: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Accuracy, macro-F1 and confusion of the published phases against the label in force at their stamps."""
    from sklearn.metrics import confusion_matrix, f1_score

    stamps = np.array([stamp_seconds(m.header.stamp) for _, m in messages])
    inside = (stamps >= times[0]) & (stamps <= times[-1])
    truth = labels[np.searchsorted(times, stamps[inside], side='right') - 1]
    guess = np.array([m.phase for _, m in messages])[inside]
    classes = list(range(len(PHASES)))
    return {
        'frames': int(inside.sum()),
        'accuracy': float(np.mean(truth == guess)) if truth.size else float('nan'),
        'macro_f1': float(f1_score(truth, guess, labels=classes, average='macro', zero_division=0)),
        'confusion': confusion_matrix(truth, guess, labels=classes),
    }


def robot_events(states: list, move: str) -> tuple[np.ndarray, tuple[float, float], np.ndarray]:
    """Movement events of the move's marking joint (as robot_controller detects them), the first and last time
    it was away from home, and the joint's (times, positions)."""

    chosen = PANDA_MOVES[move]
    joint = chosen.joints[0]
    rows = [
        (stamp_seconds(m.header.stamp), m.position[list(m.name).index(joint)]) for _, m in states if joint in m.name
    ]
    times, positions = np.array(rows).T if rows else (np.empty(0), np.empty(0))
    times, first = np.unique(times, return_index=True)  # in time order, a repeated stamp once
    positions = positions[first]
    events = detect_events(times, positions, event_kind(chosen), prominence=PROMINENCE) if len(times) > 2 else []
    moving = np.abs(positions - PANDA_HOME[joint]) > PROMINENCE
    span = (float(times[moving].min()), float(times[moving].max())) if moving.any() else (np.inf, -np.inf)
    return np.asarray(events, dtype=np.float64), span, np.array([times, positions])


def _figure(value: float, scale: float = 1.0, digits: int = 1) -> str:
    return '-' if value is None or np.isnan(value) else f'{scale * value:.{digits}f}'


def summary(session: Session) -> list[str]:
    """The Table-2-style line of this session (beat alignment, gesture phase, synchronization error: the robot
    against the primary reference from the lock), then the robot against every reference in both windows."""
    robot = session.robot
    errors = session.prediction_errors_ms[~np.isnan(session.prediction_errors_ms)]
    return [
        '| beat F-measure (%) | predicted-beat median \\|error\\| (ms) | gesture accuracy (%) | gesture macro-F1 (%) '
        '| robot asynchrony mean / SD / mean abs. (ms) | matched beats |',
        '| ---: | ---: | ---: | ---: | ---: | ---: |',
        f'| {_figure(session.beat_scores.get("f_measure", np.nan), 100)} '
        f'| {_figure(np.median(np.abs(errors)) if errors.size else np.nan)} '
        f'| {_figure(session.gesture.get("accuracy", np.nan), 100)} '
        f'| {_figure(session.gesture.get("macro_f1", np.nan), 100)} '
        f'| {_figure(robot.mean if robot else np.nan, 1e3)} / {_figure(robot.sd if robot else np.nan, 1e3)} / '
        f'{_figure(robot.mean_absolute if robot else np.nan, 1e3)} '
        f'| {robot.matched if robot else 0} of {robot.matched + robot.missed if robot else 0} |',
        *(session.timing.lines(session.start_time) if session.timing else []),
    ]


def plot(session: Session, out: Path) -> list[Path]:
    """Timeline (beats and the robot's marking joint), asynchrony and latency histograms, confusion matrix."""
    from matplotlib.figure import Figure

    paths = []
    figure = Figure(figsize=(10, 3), layout='constrained')
    axes = figure.add_subplot()
    if 'joint' in session.timeline and session.timeline['joint'].size:
        t, q = session.timeline['joint']
        start = t[0] + 0.5 * (t[-1] - t[0])
        window = (t >= start) & (t <= start + 8)
        axes.plot(t[window] - start, q[window], color='black', lw=1, label="robot's marking joint (rad)")
        for name, style in (('reference', 'C0'), ('observed', 'C1')):
            beats = session.timeline.get(name, np.empty(0))
            beats = beats[(beats >= start) & (beats <= start + 8)] - start
            axes.vlines(beats, *axes.get_ylim(), colors=style, lw=1, label=f'{name} beats')
        axes.set(xlabel='time (s)', title='8 s of the session')
        axes.legend(loc='upper right', fontsize=8)
        paths.append(out / 'timeline.png')
        figure.savefig(paths[-1], dpi=100)
    figure = Figure(figsize=(10, 3), layout='constrained')
    if session.robot is not None and session.robot.matched:
        axes = figure.add_subplot(1, 2, 1)
        axes.hist(1e3 * session.robot.asynchronies, bins=30)
        axes.set(xlabel='robot event - beat (ms)', title='asynchrony')
    axes = figure.add_subplot(1, 2, 2)
    for name, values in session.latencies_ms.items():
        axes.hist(np.clip(values, 0, 200), bins=50, histtype='step', label=name)
    axes.set(xlabel='recorded - stamp (ms, clipped at 200)', title='latency by topic')
    axes.legend(fontsize=8)
    paths.append(out / 'asynchrony_latency.png')
    figure.savefig(paths[-1], dpi=100)
    if 'confusion' in session.gesture:
        paths.append(out / 'gesture_confusion.png')
        confusion_figure(session.gesture['confusion'], 'published').savefig(paths[-1], dpi=100)
    return paths


def confusion_figure(confusion: np.ndarray, predicted: str = 'predicted', title: str = '') -> Any:
    """A matplotlib Figure of the gesture-phase confusion, as % of each annotated phase's frames."""
    from matplotlib.figure import Figure

    rates = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    figure = Figure(figsize=(4.6, 4), layout='constrained')
    axes = figure.add_subplot()
    axes.imshow(rates, cmap='Blues', vmin=0, vmax=1)
    for (i, j), value in np.ndenumerate(rates):
        axes.text(j, i, f'{100 * value:.0f}', ha='center', va='center', color='black' if value < 0.6 else 'white')
    axes.set(xticks=range(len(PHASES)), yticks=range(len(PHASES)), xlabel=predicted, ylabel='annotated')
    axes.set_xticklabels(PHASES, rotation=30)
    axes.set_yticklabels(PHASES)
    axes.set_title(title, fontsize=9)
    return figure


def report(session: Session, bag: Path, out: Path) -> str:
    """Write report.md and the plots into `out`; return the Markdown."""
    out.mkdir(parents=True, exist_ok=True)
    images = plot(session, out)
    lines = [f'# Session {bag.name}', '', *summary(session), '']
    if session.beat_scores:
        lines += ['Beats (OBSERVED vs reference, mir_eval, first 5 s ignored): '
                  + ', '.join(f'{k} {100 * v:.1f} %' for k, v in session.beat_scores.items()), '']  # fmt: skip
    if session.robot_vs_tracker is not None:
        lines += [f"Robot vs the tracker's OBSERVED beats: {session.robot_vs_tracker}; the OBSERVED beats are "
                  f'{_figure(session.tracker_offset_ms)} ms after the reference beats on average.', '']  # fmt: skip
    if session.robot_reported:
        lines += ["The controller's own last report (vs its OBSERVED beats, last window): "
                  + ', '.join(f'{k} {v:.1f}' for k, v in session.robot_reported.items()), '']  # fmt: skip
    lines += ['| topic | messages | latency median (ms) | p99 (ms) |', '| --- | ---: | ---: | ---: |']
    for name, values in session.latencies_ms.items():
        lines.append(f'| {name} | {values.size} | {np.median(values):.1f} | {np.percentile(values, 99):.1f} |')
    lines += ['', *(f'![{path.stem}]({path.name})' for path in images)]
    text = '\n'.join(lines) + '\n'
    (out / 'report.md').write_text(text)
    return text
