"""Audio-to-motion offsets of the dance-melody sequences, measured two independent ways (`musmove dance-offsets`).

The music: one reference per song, `musmove.sources.dance.REFERENCE_METHOD` (beats and the beat activation,
cached). The movement: foot events, the summed vertical acceleration of the six foot points (ankles, heels,
toes; `musmove.sync.offsets.motion_envelope` of each), since a ballroom or Latin dancer steps on the beat.

Config clock: skeleton frame k at song time start_position / 25 + k / 25. The movement keeps a different clock in
most sequences (it drifts against the beats by up to a few percent), so each method searches a clock `scale`
(frame k at start_position / 25 + scale * k / 25, `SCALES`) with its lag:

- (a) correlation: the synchronizer's own estimator, `musmove.sync.offsets.estimate_lag` of the foot-event
  envelope against madmom's beat activation, lags within half a beat; score: the normalised correlation.
- (b) phase: the beat phase of the foot events (their circular mean, weighted by the envelope, over the reference
  beats' phase), as a lag of that fraction of the median beat period; score: the vector strength.

`lag` is how late the movement's events come after the music's on the config clock, at the dance's first frame,
modulo one beat (both methods see only the phase; a whole-beat error of config.json cannot be seen). It includes
the dancer's own asynchrony to the beat. Chance level of each score: the same search against the other songs
(`NULL_SONGS` of them, the movement placed at their dance window). Trusted: both scores above every chance
value, lags within `AGREE` s (circularly, modulo the beat) and scales within `SCALE_AGREE`.

Check of the references, on a sample (`ONSET_SAMPLE` sequences per dance): the share of reference beats within 70 ms
of an onset (librosa's onset_detect on the danced part of the song) against that of the grid shifted by half a beat.
"""

import csv
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from musmove.progress import Progress
from musmove.sources.dance import ACTIVATION_FPS, REFERENCE_METHOD, DanceSequence, reference_beats, skeleton, song
from musmove.sources.recordings import DANCE_JOINTS
from musmove.sync.offsets import estimate_lag, motion_envelope

FEET = ('right_ankle', 'left_ankle', 'right_heel', 'left_heel', 'right_toe', 'left_toe')
SCALES = np.round(np.arange(0.970, 1.0301, 0.001), 4)  # the clock scales searched
AGREE = 0.08  # s: two mocap frames
SCALE_AGREE = 0.002
NULL_SONGS = 8  # other songs giving the chance level
ONSET_SAMPLE = 2  # sequences per dance (the first in splits.csv) whose reference is checked against onsets
ONSET_TOLERANCE = 0.07
ONSET_RATE = 44100  # the songs' own rate


@dataclass(frozen=True)
class Music:
    """A song's reference beats and activation (song time), its median beat period over the dance window."""

    beats: np.ndarray
    activation: tuple[np.ndarray, np.ndarray]
    period: float
    start: float  # song time of the dance's first frame


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
    chance_a: float
    lag_b: float
    scale_b: float
    strength: float
    chance_b: float
    difference: float  # lag_a - lag_b, circular modulo the beat
    trusted: bool
    onsets_on_beats: float  # share of reference beats within ONSET_TOLERANCE of an onset (nan: not in the sample)
    onsets_half_beat: float  # the same for the grid shifted by half a beat


def foot_events(seq: DanceSequence) -> tuple[np.ndarray, np.ndarray]:
    """(times from the first frame [s], envelope): the summed vertical acceleration of the foot points."""
    mocap = skeleton(seq)
    vertical = np.array([0.0, 1.0, 0.0])
    envelopes = [motion_envelope(mocap.times, mocap.positions[:, DANCE_JOINTS.index(j)] * vertical, 'position')
                 for j in FEET]  # fmt: skip
    return envelopes[0][0], np.sum([e for _, e in envelopes], axis=0)


def music(seq: DanceSequence) -> Music:
    beats, activation, begin = reference_beats(seq)
    stop = seq.start_time + (seq.end - seq.start) / 25.0
    inside = beats[(beats >= seq.start_time) & (beats <= stop)]
    period = float(np.median(np.diff(inside if len(inside) > 2 else beats)))
    times = begin + np.arange(len(activation)) / ACTIVATION_FPS
    return Music(beats, (times, activation.astype(np.float64)), period, seq.start_time)


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
    events: tuple[np.ndarray, np.ndarray], target: Music, refine: bool = True
) -> tuple[float, float, float]:
    """(lag, scale, correlation) of the best scale: estimate_lag against the beat activation.

    Scales every 0.002 on a 10 ms grid; with `refine`, then every 0.0005 about the best on estimate_lag's 5 ms grid.
    """
    times, envelope = events

    def best_of(scales: np.ndarray, step: float) -> tuple[float, float, float]:
        best = (float('nan'), 1.0, -np.inf)
        for scale in scales:
            moved = (target.start + scale * times, envelope)
            lag, correlation = estimate_lag(target.activation, moved, target.period / 2, step)
            if correlation > best[2]:
                best = (lag, float(scale), correlation)
        return best

    coarse = best_of(SCALES[::2], 0.01)
    return best_of(coarse[1] + np.arange(-0.0015, 0.0016, 0.0005), 0.005) if refine else coarse


def by_phase(events: tuple[np.ndarray, np.ndarray], target: Music) -> tuple[float, float, float]:
    """(lag, scale, vector strength) of the best scale: the foot events' phase against the reference beats."""
    times, envelope = events
    best = (0.0, 1.0, -np.inf)
    for scale in SCALES:
        phase, strength = beat_phase(target.beats, target.start + scale * times, envelope)
        if strength > best[2]:
            best = (phase * target.period, float(scale), strength)
    return best


def circular(difference: float, period: float) -> float:
    return (difference + period / 2) % period - period / 2


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
    """The offsets of `chosen`; chance levels against other songs of `every`."""
    songs = {seq.name: music(seq) for seq in every}
    bar = Progress('musmove dance-offsets: sequences', len(chosen), enabled=progress)
    results = []
    for done, seq in enumerate(chosen):
        own, events = songs[seq.name], foot_events(seq)
        lag_a, scale_a, correlation = by_correlation(events, own)
        lag_b, scale_b, strength = by_phase(events, own)
        others = [name for name in songs if name != seq.name]
        others = [others[i] for i in np.linspace(0, len(others) - 1, min(NULL_SONGS, len(others))).astype(int)]
        chance_a = max(by_correlation(events, songs[name], refine=False)[2] for name in others) if others else np.nan
        chance_b = max(by_phase(events, songs[name])[2] for name in others) if others else np.nan
        difference = circular(lag_a - lag_b, own.period)
        trusted = bool(correlation > chance_a and strength > chance_b and abs(difference) <= AGREE
                       and abs(scale_a - scale_b) <= SCALE_AGREE)  # fmt: skip
        checked = [s.name for s in every if s.dance == seq.dance][:ONSET_SAMPLE]
        on, off = onset_check(seq, own.beats) if seq.name in checked else (np.nan, np.nan)
        results.append(Offset(seq.name, seq.dance, seq.split, 60.0 / own.period, lag_a, scale_a, correlation, chance_a,
                              lag_b, scale_b, strength, chance_b, difference, trusted, on, off))  # fmt: skip
        bar.show(done + 1)
    bar.close()
    return results


def write(results: list[Offset], out: Path) -> str:
    """offsets.md, offsets.csv and offsets.png in `out`; returns the Markdown."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / 'offsets.csv').open('w', newline='') as file:
        writer = csv.DictWriter(file, fieldnames=list(asdict(results[0])))
        writer.writeheader()
        for result in results:
            writer.writerow({k: f'{v:.4f}' if isinstance(v, float) else v for k, v in asdict(result).items()})
    trusted = [r for r in results if r.trusted]
    lags = np.array([r.lag_a for r in trusted]) * 1000
    summary = f'{len(trusted)} of {len(results)} trusted'
    if len(lags):
        quartiles = np.percentile(lags, [25, 50, 75])
        summary += (f'; their lag (a): median {quartiles[1]:.0f} ms, interquartile {quartiles[0]:.0f} to '
                    f'{quartiles[2]:.0f} ms, range {lags.min():.0f} to {lags.max():.0f} ms')  # fmt: skip
    rows = [
        f'| {r.sequence} | {r.dance} | {r.split} | {r.tempo:.1f} | {1000 * r.lag_a:.0f} | {r.scale_a:.3f} | '
        f'{r.correlation:.3f} ({r.chance_a:.3f}) | {1000 * r.lag_b:.0f} | {r.scale_b:.3f} | {r.strength:.3f} '
        f'({r.chance_b:.3f}) | {1000 * r.difference:.0f} | {"yes" if r.trusted else "no"} | ' + onsets(r)
        for r in results
    ]
    sample = [r for r in results if not np.isnan(r.onsets_on_beats)]
    on = np.mean([r.onsets_on_beats for r in sample]) * 100 if sample else np.nan
    off = np.mean([r.onsets_half_beat for r in sample]) * 100 if sample else np.nan
    text = '\n'.join([
        '# dance-melody: audio-to-motion offsets (`musmove dance-offsets`)',
        '',
        f'Music reference (one per song): {REFERENCE_METHOD}. Movement: the summed vertical acceleration of the six '
        'foot points. Lag: how late the foot events come after the music on the config.json clock, at the '
        'dance\'s first frame, modulo one beat, at the best clock scale of each method (frame k at start + scale * '
        'k / 25). (a): the synchronizer\'s estimator (`estimate_lag`, foot events against the beat activation). '
        '(b): the beat phase of the foot events against the reference beats. In brackets: the best score of the '
        f'same search against {NULL_SONGS} other songs (chance). Trusted: both scores above chance, lags within '
        f'{AGREE * 1000:.0f} ms and scales within {SCALE_AGREE}. Onsets: % of reference beats within '
        f'{ONSET_TOLERANCE * 1000:.0f} ms of a librosa onset, on the beat / half a beat off, for the first '
        f'{ONSET_SAMPLE} sequences of each dance (mean {on:.0f} % / {off:.0f} % over {len(sample)} songs). '
        'Derived numbers only; the data set is not copied.',
        '',
        f'**{summary}.**',
        '',
        '| sequence | dance | split | tempo (BPM) | lag a (ms) | scale a | corr. a (chance) | lag b (ms) | scale b | '
        'strength b (chance) | a - b (ms) | trusted | onsets on / off beat (%) |',
        '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
        *rows,
        '',
        '![offsets](offsets.png)',
        '',
    ])  # fmt: skip
    (out / 'offsets.md').write_text(text)
    plot(results, out / 'offsets.png')
    return text


def onsets(result: Offset) -> str:
    if np.isnan(result.onsets_on_beats):
        return '- |'
    return f'{100 * result.onsets_on_beats:.0f} / {100 * result.onsets_half_beat:.0f} |'


def plot(results: list[Offset], path: Path) -> None:
    from matplotlib.figure import Figure  # no pyplot: rendered with Agg, no display needed

    figure = Figure(figsize=(11, 4.2))
    left, right = figure.subplots(1, 2)
    for trusted, colour, label in ((True, 'tab:green', 'trusted'), (False, 'tab:grey', 'not trusted')):
        chosen = [r for r in results if r.trusted == trusted]
        left.scatter([1000 * r.lag_b for r in chosen], [1000 * r.lag_a for r in chosen], c=colour, label=label, s=18)
    span = max(350, *(1000 * abs(r.lag_a) for r in results))
    left.plot([-span, span], [-span, span], 'k:', lw=0.8)
    left.set(xlabel='lag (b), beat phase [ms]', ylabel='lag (a), estimate_lag [ms]', title='two methods per sequence')
    left.legend()
    lags = [1000 * r.lag_a for r in results if r.trusted]
    right.hist(lags, bins=np.arange(-350, 351, 25), color='tab:green')
    right.set(xlabel='lag (a) of trusted sequences [ms]', ylabel='sequences', title='offset distribution')
    figure.tight_layout()
    figure.savefig(path, dpi=110)
