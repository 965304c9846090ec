"""The partner's beat from movement alone on the trusted dance-melody sequences (`musmove partner-beats`).

The movement: `musmove.beat.movement.MovementTracker` on the negated height of the spine point (25 fps, causal),
`BEATS_PER_BAR` beats to a cycle (the dance's meter: the cycle it tracks is the bar). The music: the song's
reference beats (`musmove.sources.dance.REFERENCE_METHOD`). The clock: each sequence's measured offset from
`musmove dance-offsets` (method (a): lag and clock scale, read from its offsets.csv), applied to the movement;
only the trusted sequences are scored. `event_phase` (the beat phase at the cycle's peak) is fitted on
the trusted train sequences (circular mean of the beat phase of their cycle peaks) and applied to all.

Scored from the first full window on: the cycle tempo within 4 % of the bar tempo (reference beat tempo / meter)
and within 4 % of any of 1/4, 1/3, 1/2, 1, 2, 3, 4 times the beat tempo (the share of frames), and the causal
movement beats' F-measure (mir_eval, +-70 ms) against the reference beats. Peak spread: the circular standard
deviation of the beat phase of the tracked cycle peaks, in ms: the dancer's own timing and the tracker's error
together (an upper bound on the dancer's spread to the music). Cha-cha dancers show no bar cycle in their height.
"""

import csv
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from musmove.beat.movement import MovementTracker
from musmove.evaluation.dance_offsets import music
from musmove.progress import Progress
from musmove.sources.dance import BEATS_PER_BAR, FPS, REFERENCE_METHOD, sequence, skeleton
from musmove.sources.recordings import DANCE_JOINTS

JOINT = 'spine'
TOLERANCE = 0.04  # tempo within 4 %
LEVELS = (1 / 4, 1 / 3, 1 / 2, 1, 2, 3, 4)  # metrical levels (times the beat tempo) a cycle may move at


@dataclass(frozen=True)
class PartnerResult:
    sequence: str
    dance: str
    split: str
    tempo: float  # reference beats per minute over the dance
    cycle_tempo: float  # median tracked cycles per minute
    bar_level: float  # share of frames within TOLERANCE of the bar tempo
    any_level: float  # share of frames within TOLERANCE of any of LEVELS
    f_measure: float
    peak_phase: float  # circular mean beat phase of the cycle's peaks [beats]
    spread_ms: float  # their circular standard deviation [ms]


def signal(name: str) -> np.ndarray:
    """The movement the tracker follows: minus the spine's height [m], one value per 25 fps frame."""
    return -skeleton(sequence(name)).positions[:, DANCE_JOINTS.index(JOINT), 1]


def track(values: np.ndarray, beats_per_cycle: int, event_phase: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(cycle tempo per frame (NaN before the first window), observed beats [frames]) of a causal run."""
    tracker = MovementTracker(FPS, beats_per_cycle=beats_per_cycle, event_phase=event_phase)
    tempi, beats = np.full(len(values), np.nan), []
    for k, value in enumerate(values):
        if estimate := tracker.step(float(value)):
            tempi[k] = estimate.cycle_tempo
            if estimate.observed is not None:
                beats.append(estimate.observed)
    return tempi, np.array(beats)


def beat_phase(times: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """Beat phase [0, 1) of each of `times` against the reference `beats` (NaN outside them)."""
    index = np.searchsorted(beats, times, side='right') - 1
    inside = (index >= 0) & (index < len(beats) - 1)
    phase = np.full(len(times), np.nan)
    i = index[inside]
    phase[inside] = (times[inside] - beats[i]) / (beats[i + 1] - beats[i])
    return phase


def circular_mean(phases: np.ndarray) -> tuple[float, float]:
    """(mean in (-0.5, 0.5], circular standard deviation) of phases in cycles."""
    resultant = np.mean(np.exp(2j * np.pi * phases[np.isfinite(phases)]))
    spread = np.sqrt(-2 * np.log(max(abs(resultant), 1e-12))) / (2 * np.pi)
    return float(np.angle(resultant) / (2 * np.pi)), float(spread)


def evaluate(offsets: dict[str, dict[str, str]], progress: bool = True) -> tuple[list[PartnerResult], float]:
    """Results per trusted sequence and the event_phase fitted on the trusted train sequences."""
    import mir_eval

    trusted = [sequence(name) for name, row in offsets.items() if row['trusted'] == 'True']
    bar = Progress('musmove partner-beats: sequences', 2 * len(trusted), enabled=progress)
    runs = {}
    for seq in trusted:  # pass 1: the cycle peaks' beat phase (beats_per_cycle 1 marks each peak as a "beat")
        row, own, values = offsets[seq.name], music(seq), signal(seq.name)
        middle = (len(values) - 1) / FPS / 2
        song_time = lambda frames, r=row, o=own, m=middle: (  # noqa: E731
            o.middle + float(r['scale_a']) * (frames / FPS - m) - float(r['lag_a'])
        )
        _, peaks = track(values, 1)
        phases = (beat_phase(song_time(peaks), own.beats) % 1.0) if len(peaks) else np.array([])
        runs[seq.name] = (seq, own, values, song_time, phases)
        bar.show(len(runs))
    train = np.concatenate([r[4] for r in runs.values() if r[0].split == 'train'] or [np.array([])])
    event_phase = circular_mean(train)[0] % 1.0 if len(train) else 0.0
    results = []
    for seq, own, values, song_time, phases in runs.values():
        meter = BEATS_PER_BAR[seq.dance]
        tempi, beats = track(values, meter, event_phase)
        start = seq.start_time + MovementTracker(FPS).length / FPS  # the first full window
        stop = seq.start_time + len(values) / FPS
        reference = own.beats[(own.beats >= start) & (own.beats <= stop)]
        estimated = song_time(beats) if len(beats) else np.array([])
        estimated = estimated[(estimated >= start) & (estimated <= stop)]
        bpm = 60.0 / own.period
        valid = tempi[np.isfinite(tempi)] / float(offsets[seq.name]['scale_a'])  # on the music's clock
        near = lambda target, v=valid: np.abs(v / target - 1) <= TOLERANCE  # noqa: E731
        mean, spread = circular_mean(phases)
        results.append(PartnerResult(
            seq.name, seq.dance, seq.split, bpm, float(np.median(valid)), float(near(bpm / meter).mean()),
            float(np.any([near(bpm * level) for level in LEVELS], axis=0).mean()),
            float(mir_eval.beat.f_measure(reference, estimated)), mean, 1000 * spread * own.period,
        ))  # fmt: skip
        bar.show(len(runs) + len(results))
    bar.close()
    return results, event_phase


def write(results: list[PartnerResult], event_phase: float, out: Path) -> str:
    """partner.md and partner.csv in `out`; returns the Markdown."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / 'partner.csv').open('w', newline='') as file:
        writer = csv.DictWriter(file, fieldnames=[k for k in asdict(results[0]) if k != 'split'])
        writer.writeheader()
        for result in results:
            values = {k: v for k, v in asdict(result).items() if k != 'split'}
            writer.writerow({k: f'{v:.4f}' if isinstance(v, float) else v for k, v in values.items()})
    rows = [
        f'| {r.sequence} | {r.dance} | {"held out (test)" if r.split == "test" else "fit (" + r.split + ")"} | '
        f'{r.tempo:.1f} | {r.cycle_tempo:.1f} | {100 * r.bar_level:.0f} | {100 * r.any_level:.0f} | '
        f'{100 * r.f_measure:.1f} | {r.peak_phase:+.2f} | {r.spread_ms:.0f} |'
        for r in results
    ]
    text = '\n'.join([
        "# dance-melody: the partner's beat from movement alone (`musmove partner-beats`)",
        '',
        __doc__.split('\n\n', 1)[1].replace('\n', ' ').strip(),
        '',
        f'Music reference: {REFERENCE_METHOD}. event_phase fitted on the trusted train sequences: '
        f'the beat phase {event_phase:.3f} at the cycle peak. Derived numbers only; the data set is not copied.',
        '',
        '| sequence | dance | split | tempo (BPM) | cycle (per min) | bar level (%) | any level (%) | F (%) | '
        'peak phase (beats) | peak spread (ms) |',
        '|---|---|---|---|---|---|---|---|---|---|',
        *rows,
        '',
    ])  # fmt: skip
    (out / 'partner.md').write_text(text)
    return text
