"""Audio-to-motion offsets of the dance-melody sequences, measured two independent ways (`musmove dance-offsets`).

The music: one reference per song, `musmove.sources.dance.REFERENCE_METHOD` (beats and beat activation, cached).
The movement: events of the body's rise, fall and bounce with each step, the vertical acceleration of the spine
point in the room (`musmove.sync.offsets.motion_envelope`; chosen over the foot points, the whole body and its
vertical part by the smallest median quarter spread of method (b) on the 8 train sequences first cached).

Config clock: skeleton frame k at song time start_position / 25 + k / 25. The movement keeps another clock in
most sequences (it drifts against the beats by up to a few percent), so each method searches a clock `scale`
about the dance's middle m (frame k at start_position / 25 + m + scale * (k / 25 - m), `SCALES`) with its lag:

- (a) correlation: the synchronizer's own estimator, `musmove.sync.offsets.estimate_lag` of the movement-event
  envelope against madmom's beat activation, lags within half a beat; score: the normalised correlation.
- (b) phase: the beat phase of the movement events (their circular mean, weighted by the envelope, over the
  reference beats' phase), as that fraction of the median beat period; score: the vector strength.

`lag` is how late the movement's events come after the music's beats on that clock (at the dance's middle),
modulo one beat, so song time = start_position / 25 + m + scale * (k / 25 - m) - lag aligns them. Both methods
see only the phase: a whole-beat error of config.json cannot be seen, and the lag includes the dancer's own
asynchrony to the beat (and the phase at which the chosen events fall in the step). Spread: the circular standard
deviation of the lag in each quarter of the dance at the method's scale. Trusted: the two alignments (lag and
scale) within `AGREE` of each other all through the dance (at its middle and both ends, circularly), both scales
inside the searched range (not at its edge), and both spreads at most `AGREE`.

Check of the references, on a sample (`ONSET_SAMPLE` sequences per dance): the share of reference beats within 70 ms
of an onset (librosa's onset_detect on the danced part of the song) against that of the grid shifted by half a beat.
"""

import csv
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from musmove.progress import Progress
from musmove.sources.dance import ACTIVATION_FPS, REFERENCE_METHOD, DanceSequence, reference_beats, skeleton, song
from musmove.sources.recordings import DANCE_JOINTS
from musmove.sync.offsets import estimate_lag, motion_envelope

EVENT_JOINT = 'spine'  # its vertical acceleration: the body's rise, fall and bounce with each step
SCALES = np.round(np.arange(0.950, 1.0501, 0.001), 4)  # the clock scales searched
AGREE = 0.08  # s: two mocap frames
QUARTERS = 4  # parts of a dance whose lags give the spread
ONSET_SAMPLE = 2  # sequences per dance (the first in splits.csv) whose reference is checked against onsets
ONSET_TOLERANCE = 0.07
ONSET_RATE = 44100  # the songs' own rate


@dataclass(frozen=True)
class Music:
    """A song's reference beats and activation (song time), its median beat period over the dance window."""

    beats: np.ndarray
    activation: tuple[np.ndarray, np.ndarray]
    period: float
    middle: float  # song time of the dance's middle frame on the config clock: the pivot of a clock scale


@dataclass(frozen=True)
class Offset:
    """One sequence's measurements; lags in s (movement after music), scales unitless."""

    sequence: str
    dance: str
    split: str
    tempo: float  # BPM of the reference beats over the dance
    lag_a: float
    scale_a: float
    correlation: float
    spread_a: float  # circular standard deviation of the lag over the dance's quarters
    lag_b: float
    scale_b: float
    strength: float
    spread_b: float
    difference: float  # lag_a - lag_b, circular modulo the beat
    apart: float  # the largest difference of the two alignments over the dance (its middle and ends)
    trusted: bool
    onsets_on_beats: float  # share of reference beats within ONSET_TOLERANCE of an onset (nan: not in the sample)
    onsets_half_beat: float  # the same for the grid shifted by half a beat


def movement_events(seq: DanceSequence) -> tuple[np.ndarray, np.ndarray]:
    """(times from the dance's middle frame [s], envelope): the vertical acceleration of the spine point."""
    mocap = skeleton(seq)
    vertical = mocap.positions[:, DANCE_JOINTS.index(EVENT_JOINT)] * [0.0, 1.0, 0.0]
    times, envelope = motion_envelope(mocap.times, vertical, 'position')
    return times - mocap.times[-1] / 2, envelope


def music(seq: DanceSequence) -> Music:
    beats, activation, begin = reference_beats(seq)
    stop = seq.start_time + (seq.end - seq.start) / 25.0
    inside = beats[(beats >= seq.start_time) & (beats <= stop)]
    period = float(np.median(np.diff(inside if len(inside) > 2 else beats)))
    times = begin + np.arange(len(activation)) / ACTIVATION_FPS
    middle = seq.start_time + skeleton(seq).times[-1] / 2
    return Music(beats, (times, activation.astype(np.float64)), period, middle)


def beat_phase(beats: np.ndarray, times: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """Circular mean beat phase of `weights` at `times` (cycles, (-0.5, 0.5]) and its vector strength."""
    index = np.searchsorted(beats, times, side='right') - 1
    inside = (index >= 0) & (index < len(beats) - 1)
    if inside.sum() < 2 or weights[inside].sum() <= 0:
        return 0.0, 0.0
    i = index[inside]
    phase = (times[inside] - beats[i]) / (beats[i + 1] - beats[i])
    resultant = np.sum(weights[inside] * np.exp(2j * np.pi * phase)) / np.sum(weights[inside])
    return float(np.angle(resultant) / (2 * np.pi)), float(abs(resultant))


def by_correlation(
    events: tuple[np.ndarray, np.ndarray], target: Music, scales: np.ndarray | None = None
) -> tuple[float, float, float]:
    """(lag, scale, correlation) of the best scale: estimate_lag against the beat activation.

    Scales every 0.002 on a 10 ms grid, then every 0.0005 about the best on estimate_lag's 5 ms grid (or `scales`).
    """
    times, envelope = events

    def best_of(scales: np.ndarray, step: float) -> tuple[float, float, float]:
        best = (float('nan'), 1.0, -np.inf)
        for scale in scales:
            moved = (target.middle + scale * times, envelope)
            lag, correlation = estimate_lag(target.activation, moved, target.period / 2, step)
            if correlation > best[2]:
                best = (lag, float(scale), correlation)
        return best

    if scales is not None:
        return best_of(scales, 0.005)
    coarse = best_of(SCALES[::2], 0.01)
    return best_of(coarse[1] + np.arange(-0.0015, 0.0016, 0.0005), 0.005)


def by_phase(
    events: tuple[np.ndarray, np.ndarray], target: Music, scales: np.ndarray | None = None
) -> tuple[float, float, float]:
    """(lag, scale, vector strength) of the best scale (`SCALES` every 0.0005, or `scales`): the events' beat phase."""
    times, envelope = events
    best = (0.0, 1.0, -np.inf)
    for scale in np.arange(SCALES[0], SCALES[-1] + 1e-9, 0.0005) if scales is None else scales:
        phase, strength = beat_phase(target.beats, target.middle + scale * times, envelope)
        if strength > best[2]:
            best = (phase * target.period, float(scale), strength)
    return best


def circular(difference: float, period: float) -> float:
    return (difference + period / 2) % period - period / 2


def quarter_spread(method, events: tuple[np.ndarray, np.ndarray], target: Music, scale: float) -> float:
    """Circular standard deviation [s] of `method`'s lag in each quarter of the dance, at `scale`."""
    times, envelope = events
    parts = np.array_split(np.arange(len(times)), QUARTERS)
    lags = [method((times[part], envelope[part]), target, np.array([scale]))[0] for part in parts]
    resultant = abs(np.mean(np.exp(2j * np.pi * np.array(lags) / target.period)))
    return float(np.sqrt(-2 * np.log(max(resultant, 1e-12))) * target.period / (2 * np.pi))


def onset_check(seq: DanceSequence, beats: np.ndarray) -> tuple[float, float]:
    """Shares of the reference beats in the dance window within ONSET_TOLERANCE of an onset, on and off the beat."""
    import librosa

    start, stop = seq.start_time, seq.start_time + (seq.end - seq.start) / 25.0
    audio = song(seq, ONSET_RATE)[round(start * ONSET_RATE) : round(stop * ONSET_RATE)]
    onsets = start + librosa.onset.onset_detect(y=audio, sr=ONSET_RATE, units='time')
    inside = beats[(beats >= start) & (beats <= stop)]
    if len(onsets) == 0 or len(inside) < 2:
        return 0.0, 0.0

    def share(grid: np.ndarray) -> float:
        nearest = np.abs(onsets[np.clip(np.searchsorted(onsets, grid), 1, len(onsets) - 1) - 1 + [[0], [1]]] - grid)
        return float(np.mean(nearest.min(axis=0) <= ONSET_TOLERANCE))

    return share(inside), share(inside[:-1] + np.diff(inside) / 2)


def measure(chosen: list[DanceSequence], every: list[DanceSequence], progress: bool = True) -> list[Offset]:
    """The offsets of `chosen` (`every`: all sequences, for the onset-check sample)."""
    bar = Progress('musmove dance-offsets: sequences', len(chosen), enabled=progress)
    results = []
    for done, seq in enumerate(chosen):
        own, events = music(seq), movement_events(seq)
        lag_a, scale_a, correlation = by_correlation(events, own)
        lag_b, scale_b, strength = by_phase(events, own)
        spread_a = quarter_spread(by_correlation, events, own, scale_a)
        spread_b = quarter_spread(by_phase, events, own, scale_b)
        difference = circular(lag_a - lag_b, own.period)
        half = events[0][-1]  # the two alignments differ most at the dance's ends
        apart = max(abs(circular(lag_a - lag_b + sign * (scale_b - scale_a) * half, own.period)) for sign in (-1, 0, 1))
        inside = all(SCALES[0] < scale < SCALES[-1] for scale in (scale_a, scale_b))  # not at the search's edge
        trusted = bool(inside and apart <= AGREE and max(spread_a, spread_b) <= AGREE)
        checked = [s.name for s in every if s.dance == seq.dance][:ONSET_SAMPLE]
        on, off = onset_check(seq, own.beats) if seq.name in checked else (np.nan, np.nan)
        results.append(Offset(seq.name, seq.dance, seq.split, 60.0 / own.period, lag_a, scale_a, correlation, spread_a,
                              lag_b, scale_b, strength, spread_b, difference, apart, trusted, on, off))  # fmt: skip
        bar.show(done + 1)
    bar.close()
    return results


def write_csv(results: Sequence, path: Path) -> None:
    """One row per result (a dataclass), floats to 4 decimals; the split stays out: it is the data set's
    splits.csv, not ours to copy."""
    with path.open('w', newline='') as file:
        writer = csv.DictWriter(file, fieldnames=[k for k in asdict(results[0]) if k != 'split'])
        writer.writeheader()
        for result in results:
            values = {k: v for k, v in asdict(result).items() if k != 'split'}
            writer.writerow({k: f'{v:.4f}' if isinstance(v, float) else v for k, v in values.items()})


def read_offsets(path: Path) -> dict[str, dict[str, str]]:
    """The rows of an offsets.csv written by `write`, by sequence name."""
    with path.open(newline='') as file:
        return {row['sequence']: row for row in csv.DictReader(file)}


def write(results: list[Offset], out: Path) -> str:
    """offsets.md, offsets.csv and offsets.png in `out`; returns the Markdown."""
    out.mkdir(parents=True, exist_ok=True)
    write_csv(results, out / 'offsets.csv')
    trusted = [r for r in results if r.trusted]
    lags = np.array([r.lag_a for r in trusted]) * 1000
    summary = f'{len(trusted)} of {len(results)} trusted'
    if len(lags):
        quartiles = np.percentile(lags, [25, 50, 75])
        summary += (f'; their lag (a): median {quartiles[1]:.0f} ms, interquartile {quartiles[0]:.0f} to '
                    f'{quartiles[2]:.0f} ms, range {lags.min():.0f} to {lags.max():.0f} ms')  # fmt: skip
    rows = [row(r) for r in results]
    sample = [r for r in results if not np.isnan(r.onsets_on_beats)]
    on = np.mean([r.onsets_on_beats for r in sample]) * 100 if sample else np.nan
    off = np.mean([r.onsets_half_beat for r in sample]) * 100 if sample else np.nan
    agree = f'{AGREE * 1000:.0f} ms'
    note = ' '.join([
        f'Music reference (one per song): {REFERENCE_METHOD}.',
        'Movement events: the vertical acceleration of the spine point.',
        'Lag: how late the movement events come after the beats, modulo one beat, at the dance\'s middle m and',
        'at each method\'s best clock scale: frame k is at song time start_position / 25 + m + scale * (k / 25 - m)',
        '- lag.',
        '(a): the synchronizer\'s estimator (`musmove.sync.offsets.estimate_lag`, events against the beat',
        'activation; score: correlation). (b): the beat phase of the events against the reference beats (score:',
        'vector strength). Spread: circular SD of the lag over the four quarters of the dance.',
        f'Trusted: alignments (a) and (b) within {agree} all through the dance (middle and both ends: "apart"),',
        f'scales inside {SCALES[0]}-{SCALES[-1]} (not at the edge), both spreads <= {agree}.',
        f'Onsets: % of reference beats within {ONSET_TOLERANCE * 1000:.0f} ms of a librosa onset, on the beat / half',
        f'a beat off, for the first {ONSET_SAMPLE} sequences of each dance (mean {on:.0f} % / {off:.0f} % over',
        f'{len(sample)} songs). Derived numbers only; the data set is not copied.',
    ])  # fmt: skip
    text = '\n'.join([
        '# dance-melody: audio-to-motion offsets (`musmove dance-offsets`)',
        '',
        note,
        '',
        f'**{summary}.**',
        '',
        '| ' + ' | '.join(COLUMNS) + ' |',
        '|' + '---|' * len(COLUMNS),
        *rows,
        '',
        '![offsets](offsets.png)',
        '',
    ])  # fmt: skip
    (out / 'offsets.md').write_text(text)
    plot(results, out / 'offsets.png')
    return text


COLUMNS = ('sequence', 'dance', 'tempo (BPM)', 'lag a (ms)', 'lag a (beats)', 'scale a', 'corr. a',
           'spread a (ms)', 'lag b (ms)', 'scale b', 'strength b', 'spread b (ms)', 'a - b (ms)', 'apart (ms)',
           'trusted', 'onsets on / off beat (%)')  # fmt: skip


def row(r: Offset) -> str:
    cells = [r.sequence, r.dance, f'{r.tempo:.1f}', f'{1000 * r.lag_a:.0f}', f'{r.lag_a * r.tempo / 60:+.2f}',
             f'{r.scale_a:.4f}',
             f'{r.correlation:.3f}', f'{1000 * r.spread_a:.0f}', f'{1000 * r.lag_b:.0f}', f'{r.scale_b:.4f}',
             f'{r.strength:.3f}', f'{1000 * r.spread_b:.0f}', f'{1000 * r.difference:.0f}', f'{1000 * r.apart:.0f}',
             'yes' if r.trusted else 'no', onsets(r)]  # fmt: skip
    return '| ' + ' | '.join(cells) + ' |'


def onsets(result: Offset) -> str:
    if np.isnan(result.onsets_on_beats):
        return '-'
    return f'{100 * result.onsets_on_beats:.0f} / {100 * result.onsets_half_beat:.0f}'


def plot(results: list[Offset], path: Path) -> None:
    from matplotlib.figure import Figure  # no pyplot: rendered with Agg, no display needed

    figure = Figure(figsize=(11, 4.2))
    left, right = figure.subplots(1, 2)
    for trusted, colour, label in ((True, 'tab:green', 'trusted'), (False, 'tab:grey', 'not trusted')):
        chosen = [r for r in results if r.trusted == trusted]
        left.scatter([1000 * r.lag_b for r in chosen], [1000 * (r.lag_b + r.difference) for r in chosen], c=colour,
                     label=label, s=18)  # fmt: skip
    left.plot([-500, 500], [-500, 500], 'k:', lw=0.8)
    left.set(xlabel='lag (b), beat phase [ms]', ylabel='lag (a), estimate_lag, nearest to (b) [ms]',
             title='two methods per sequence (at the dance\'s middle)')  # fmt: skip
    left.legend()
    dances = sorted({r.dance for r in results})
    lags = [[1000 * r.lag_a for r in results if r.trusted and r.dance == dance] for dance in dances]
    right.hist(lags, bins=np.arange(-400, 401, 40), stacked=True, label=dances)
    right.set(xlabel='lag (a) of the trusted sequences, modulo a beat [ms]', ylabel='sequences',
              title='offset distribution (trusted)')  # fmt: skip
    right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
