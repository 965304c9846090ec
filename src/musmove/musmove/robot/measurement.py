"""Live measurement of a dancing robot: its command-to-motion latency and the asynchrony of its movement events.

`MotionLog` keeps the commanded and measured joint positions and the observed beats over a sliding span;
`LatencyEstimator` measures the lag of the measured behind the commanded motion from it and hands the
compensation a gradual target; `live_asynchrony` scores the marking joint's events against the beats.
`saved_latency` and `save_latency` keep the last measured latency of each robot in a small JSON file under
the user's cache (`latency_state`), the prior of the next start.
"""

import json
import math
import os
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from statistics import median

import numpy as np

from musmove.robot.asynchrony import Asynchrony, asynchrony, detect_events, estimate_latency
from musmove.robot.moves import Move
from musmove.sources.data import cache_dir

MAX_LATENCY = 0.25  # [s] longest latency measured
LATENCY_SLEW = 0.05  # [s/s] a new latency estimate is taken in this gradually
LATENCY_ESTIMATES = 5  # the latency in use is the median of the newest estimates
MIN_MOTION = 0.01  # [rad or m] commanded range a joint needs in the window to measure latency
PROMINENCE = 0.01  # [rad or m] smallest excursion between two movement events

History = deque[tuple[float, np.ndarray]]


def event_kind(move: Move) -> str:
    """Which velocity reversals of a move's marking joint fall on the beats."""
    if move.centred:
        return 'both'
    return 'min' if move.amplitude[0] > 0 else 'max'


class MotionLog:
    """Commanded and measured positions of `joints` joints and observed beat times, kept for `span` seconds."""

    def __init__(self, joints: int, span: float) -> None:
        self.joints, self.span = joints, span
        self.commands: History = deque()
        self.states: History = deque()
        self.beats: deque[float] = deque()
        self.partner_beats: deque[float] = deque()  # the partner's OBSERVED beats

    def trim(self, t: float) -> None:
        """Forget what is older than the span (and a second more) at time `t`."""
        oldest = t - self.span - 1.0
        for history in (self.commands, self.states):
            while history and history[0][0] < oldest:
                history.popleft()
        for beats in (self.beats, self.partner_beats):
            while beats and beats[0] < oldest:
                beats.popleft()

    def window(self, history: History, span: float, t: float) -> tuple[np.ndarray, np.ndarray]:
        """(times, values) of the newest `span` seconds of `history`; empty with fewer than two samples."""
        recent = [(time, value) for time, value in history if time >= t - span]
        if len(recent) < 2:
            return np.empty(0), np.empty((0, self.joints))
        times, values = zip(*recent, strict=True)
        return np.array(times), np.array(values)


class LatencyEstimator:
    """The measured lag of the joints behind their commands over `window` seconds, and a gradual target."""

    def __init__(self, window: float, dt: float, initial: float) -> None:
        self.window, self.dt = window, dt
        self.target = initial
        self.estimates: deque[float] = deque(maxlen=LATENCY_ESTIMATES)

    def measure(self, log: MotionLog, t: float, since: float = -math.inf) -> None:
        """Add an estimate at time `t` if the robot moved over most of the window from `since` (when the dance
        reached its full level: a fade-in from home measures the homing, not the dance); the target is their median."""
        span = min(self.window, t - since)
        command_times, commanded = log.window(log.commands, span, t)
        times, measured = log.window(log.states, span, t)
        spans = [np.ptp(x) if len(x) else 0.0 for x in (command_times, times)]
        if min(spans) < 0.5 * self.window:
            return
        moving = np.ptp(commanded, axis=0) > MIN_MOTION
        if not moving.any():
            return
        estimate = estimate_latency(command_times, commanded[:, moving], times, measured[:, moving], MAX_LATENCY)
        if 0 <= estimate < MAX_LATENCY - self.dt:
            self.estimates.append(estimate)
            self.target = median(self.estimates)

    def slew(self, latency: float, elapsed: float) -> float:
        """`latency` moved towards the target by at most `LATENCY_SLEW` per second over `elapsed` seconds."""
        step = LATENCY_SLEW * elapsed
        return latency + min(max(self.target - latency, -step), step)


def latency_state() -> Path:
    """The file of the last measured latency per robot: robot_latency.json in `$MUSMOVE_STATE`, by default in
    `musmove.sources.data.cache_dir()`."""
    return Path(os.environ.get('MUSMOVE_STATE') or cache_dir()) / 'robot_latency.json'


def saved_latency(robot: str) -> float | None:
    """The last latency [s] saved for `robot`, None if there is none (or the file is unreadable)."""
    try:
        value = json.loads(latency_state().read_text()).get(robot)
    except (OSError, ValueError, AttributeError):
        return None
    return float(value) if isinstance(value, int | float) and 0 <= value < MAX_LATENCY else None


def save_latency(robot: str, latency: float) -> None:
    """Save `latency` [s] as `robot`'s last measured one (atomically; other robots' entries are kept)."""
    path = latency_state()
    try:
        known = json.loads(path.read_text())
    except (OSError, ValueError):
        known = {}
    known = (known if isinstance(known, dict) else {}) | {robot: round(latency, 5)}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f'.{os.getpid()}.partial')  # another controller may save at the same time
    partial.write_text(json.dumps(known, indent=2, sort_keys=True))
    partial.replace(path)


def live_asynchrony(
    log: MotionLog,
    t: float,
    window: float,
    joint: int,
    move: Move,
    since: float = -math.inf,
    beats: Iterable[float] | None = None,
) -> tuple[Asynchrony, float]:
    """Asynchrony of `joint`'s events to the observed beats (default: the log's, the music's) in the newest
    `window` s from `since` (the lock), and the newest event's time."""
    times, positions = log.window(log.states, window, t)
    beats = np.array([b for b in (log.beats if beats is None else beats) if b >= max(t - window, since)])
    if len(times) < 3 or len(beats) == 0:
        return Asynchrony(np.empty(0), len(beats)), t
    tolerance = 0.25 * float(np.median(np.diff(beats))) if len(beats) > 1 else 0.1
    beats = beats[(beats >= times[0] + tolerance) & (beats <= times[-1] - tolerance)]
    events = detect_events(times, positions[:, joint], event_kind(move), prominence=PROMINENCE)
    return asynchrony(events, beats, tolerance), float(events[-1]) if len(events) else t
