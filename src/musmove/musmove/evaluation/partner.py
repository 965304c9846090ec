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

The ablation (causal F, from the first full window on): audio only (the shipped beat model and `BeatTracker` on
the song), movement only (the beats above), and both: the same audio tracker with the movement's beat tempo as
`BeatTracker.tempo_evidence` whenever the movement tracker's confidence is at least `EVIDENCE_CONFIDENCE`
(late fusion: the movement decides the metrical level, the music the beats). Each also with the music masked:
white noise at the song's level in place of `MASK` seconds of it (the dancer keeps moving). The fusion's
settings (width 0.1 octave, floor 0.05, confidence 0.3) were set before any figure, not tuned on these songs.
Each condition is scored twice: its observed beats (F) and the predicted beats a robot acts on (the error of the
newest prediction made `beats.HORIZON` before each reference beat, at the reference's metrical level:
`musmove.evaluation.beats.prediction_errors`).
"""

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from musmove.beat.model import SHIPPED
from musmove.beat.movement import MovementTracker
from musmove.evaluation.beats import HORIZON, RATE, Track, activation, error_summary, prediction_errors
from musmove.evaluation.dance_offsets import Music, music, write_csv
from musmove.progress import Progress
from musmove.sources.dance import BEATS_PER_BAR, FPS, REFERENCE_METHOD, DanceSequence, sequence, skeleton, song
from musmove.sources.recordings import DANCE_JOINTS

JOINT = 'spine'
TOLERANCE = 0.04  # tempo within 4 %
LEVELS = (1 / 4, 1 / 3, 1 / 2, 1, 2, 3, 4)  # metrical levels (times the beat tempo) a cycle may move at
EVIDENCE_CONFIDENCE = 0.3  # the movement's tempo weighs the audio tracker's from this confidence on
MASK = (20.0, 30.0)  # s into the dance: the music masked by noise
ERROR_CONDITIONS = ('audio', 'movement', 'both', 'audio_masked', 'both_masked', 'movement_masked')


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
    audio_f: float
    both_f: float
    audio_masked_f: float
    both_masked_f: float
    movement_masked_f: float  # the movement beats scored on the masked seconds only
    audio_tempo: float  # median tempo of the causal beats [BPM]
    both_tempo: float
    # The predicted beats a robot acts on (`beats.HORIZON` ahead, at the reference's level): median absolute
    # error [ms] and the share of reference beats predicted, in the order of ERROR_CONDITIONS.
    audio_error_ms: float
    movement_error_ms: float
    both_error_ms: float
    audio_masked_error_ms: float
    both_masked_error_ms: float
    movement_masked_error_ms: float
    audio_coverage: float
    movement_coverage: float
    both_coverage: float
    audio_masked_coverage: float
    both_masked_coverage: float
    movement_masked_coverage: float


def signal(name: str) -> np.ndarray:
    """The movement the tracker follows: minus the spine's height [m], one value per 25 fps frame."""
    return -skeleton(sequence(name)).positions[:, DANCE_JOINTS.index(JOINT), 1]


def track(values: np.ndarray, beats_per_cycle: int, event_phase: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(cycle tempo per frame (NaN before the first window), observed beats [frames]) of a causal run."""
    tempi, beats, *_ = movement(values, beats_per_cycle, event_phase)
    return tempi, beats


def movement(values: np.ndarray, beats_per_cycle: int, event_phase: float) -> tuple[np.ndarray, ...]:
    """Cycle tempo, confidence and the next beat [frames] per frame (NaN before the first window), and the
    observed beats [frames]."""
    tracker = MovementTracker(FPS, beats_per_cycle=beats_per_cycle, event_phase=event_phase)
    tempi, confidence, beats = np.full(len(values), np.nan), np.zeros(len(values)), []
    coming = np.full(len(values), np.nan)
    for k, value in enumerate(values):
        if estimate := tracker.step(float(value)):
            tempi[k], confidence[k], coming[k] = estimate.cycle_tempo, estimate.confidence, estimate.next_beat
            if estimate.observed is not None:
                beats.append(estimate.observed)
    return tempi, np.array(beats), confidence, coming


def audio_beats(activations: np.ndarray, start: float, evidence: tuple[np.ndarray, ...] | None) -> Track:
    """Causal beats and predictions [song time] of the audio tracker on `activations` from song time `start`
    (the predictions beat_tracker would publish); with `evidence` (song times, beat tempo, confidence of the
    movement), the movement's tempo weighs the tracker's when confident."""
    from musmove.beat.tracking import BeatTracker
    from musmove.evaluation.beats import FPS as AUDIO_FPS

    tracker, beats, predictions, newest = BeatTracker(AUDIO_FPS), [], [], 0
    for frame, value in enumerate(activations[:, 0]):
        if evidence is not None:
            times, tempo, confidence = evidence
            newest = np.searchsorted(times, start + (frame + 1) / AUDIO_FPS, side='right')  # heard by then
            confident = newest and confidence[newest - 1] >= EVIDENCE_CONFIDENCE
            tracker.tempo_evidence(tempo[newest - 1] if confident else None)
        estimate = tracker.step(value)
        if estimate.observed is not None:
            beats.append(start + estimate.observed / AUDIO_FPS)
        if estimate.confidence >= tracker.min_confidence:
            predictions.append((frame + 1, estimate.next_beat, 60 * AUDIO_FPS / estimate.tempo))
    made, coming, periods = np.array(predictions, dtype=np.float64).reshape(-1, 3).T
    return Track(
        np.array(beats), np.zeros(0), *(start + made / AUDIO_FPS, start + coming / AUDIO_FPS), periods / AUDIO_FPS
    )


def masked(audio: np.ndarray, rate: int, span: tuple[float, float]) -> np.ndarray:
    """`audio` with the seconds `span` replaced by white noise at its RMS level (seeded)."""
    noisy = audio.copy()
    part = slice(round(span[0] * rate), round(span[1] * rate))
    level = float(np.sqrt(np.mean(audio**2)))
    noisy[part] = np.random.default_rng(0).normal(0.0, level, len(noisy[part])).astype(audio.dtype)
    return noisy


def dance_audio(seq, frames: int) -> np.ndarray:
    """The song over the dance window (config clock), mono at the beat model's rate."""
    start = round(seq.start_time * RATE)
    return song(seq, RATE)[start : start + round(frames / FPS * RATE)]


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


@dataclass(frozen=True)
class Run:
    """One trusted sequence: its music, movement signal, clock mapping and the beat phase of its cycle peaks."""

    seq: DanceSequence
    music: Music
    values: np.ndarray
    scale: float
    lag: float
    phases: np.ndarray

    def song_time(self, frames: np.ndarray) -> np.ndarray:
        """Song time [s] of movement frames, with the measured lag and clock scale applied."""
        middle = (len(self.values) - 1) / FPS / 2
        return self.music.middle + self.scale * (np.asarray(frames, dtype=float) / FPS - middle) - self.lag


def movement_track(run: Run, meter: int, event_phase: float) -> tuple[Track, np.ndarray, np.ndarray]:
    """The movement's causal beats and predictions [song time] (those partner_beat would publish: confidence at
    least `EVIDENCE_CONFIDENCE`, its default), and its beat tempo [BPM, song clock] and confidence per frame."""
    tempi, beats, confidence, coming = movement(run.values, meter, event_phase)
    frames = np.flatnonzero(confidence >= EVIDENCE_CONFIDENCE)
    periods = run.scale * 60 / (tempi[frames] * meter)
    song = lambda f: run.song_time(f) if len(f) else np.zeros(0)  # noqa: E731
    made = frames.astype(np.float64)  # a pose is an instant: the estimate after it is known at its time
    track = Track(song(beats), np.zeros(0), song(made), song(coming[frames]), periods)
    return track, tempi * meter / run.scale, confidence


def prepare(seq: DanceSequence, row: dict[str, str]) -> Run:
    """A run with the beat phase of its cycle peaks (beats_per_cycle 1 marks each peak as a "beat")."""
    values = signal(seq.name)
    run = Run(seq, music(seq), values, float(row['scale_a']), float(row['lag_a']), np.array([]))
    _, peaks = track(values, 1)
    phases = beat_phase(run.song_time(peaks), run.music.beats) % 1.0 if len(peaks) else np.array([])
    return replace(run, phases=phases)


def spans(run: Run) -> tuple[tuple[float, float], tuple[float, float]]:
    """Song time [s] scored (from the movement tracker's first full window to the end), and the masked part."""
    start = run.seq.start_time
    whole = (start + MovementTracker(FPS).length / FPS, start + len(run.values) / FPS)
    return whole, (start + MASK[0], start + MASK[1])


def inside(times: np.ndarray, span: tuple[float, float]) -> np.ndarray:
    return times[(times >= span[0]) & (times <= span[1])]


def f_measure(run: Run, estimated: Track, span: tuple[float, float]) -> float:
    """mir_eval F-measure (+-70 ms) of `estimated`'s observed beats against the reference beats within `span`."""
    import mir_eval

    return float(mir_eval.beat.f_measure(inside(run.music.beats, span), inside(estimated.beats, span)))


def prediction_error(run: Run, estimated: Track, span: tuple[float, float]) -> tuple[float, float]:
    """(median |error| [ms], share of reference beats predicted) of `estimated`'s predictions within `span`."""
    reference = inside(run.music.beats, span)
    summary = error_summary(
        prediction_errors(reference, estimated.made, estimated.predicted, periods=estimated.periods)
    )
    return summary['median_abs_error_ms'], summary['coverage']


def fused(run: Run, event_phase: float, model: str = SHIPPED) -> dict[str, Track]:
    """The audio tracker on the beat `model`'s activation (default: beat_tracker's), alone and with the movement's
    tempo as evidence, clear and with the music masked: {'audio', 'both', 'audio_masked', 'both_masked'}."""
    _, beat_tempo, confidence = movement_track(run, BEATS_PER_BAR[run.seq.dance], event_phase)
    evidence = (run.song_time(np.arange(len(run.values))), beat_tempo, confidence)
    heard = dance_audio(run.seq, len(run.values))
    tracks = {}
    for suffix, audio in (('', heard), ('_masked', masked(heard, RATE, MASK))):
        activations = activation(audio, model)
        tracks['audio' + suffix] = audio_beats(activations, run.seq.start_time, None)
        tracks['both' + suffix] = audio_beats(activations, run.seq.start_time, evidence)
    return tracks


def score(run: Run, event_phase: float, model: str = SHIPPED) -> PartnerResult:
    """Movement alone, audio alone and both (on the beat `model`), clear and masked, on one run."""
    seq, own, meter = run.seq, run.music, BEATS_PER_BAR[run.seq.dance]
    moved, beat_tempo, _ = movement_track(run, meter, event_phase)
    whole, mask = spans(run)
    audio = fused(run, event_phase, model)

    def tempo(estimated: Track) -> float:
        later = estimated.beats[estimated.beats >= whole[0]]
        return float(60 / np.median(np.diff(later))) if len(later) > 2 else np.nan

    bpm = 60.0 / own.period
    valid = beat_tempo[np.isfinite(beat_tempo)] / meter  # cycles per minute on the music's clock
    near = [np.abs(valid / (bpm * level) - 1) <= TOLERANCE for level in LEVELS]
    mean, spread = circular_mean(run.phases)
    f = {name: f_measure(run, estimated, whole) for name, estimated in audio.items()}
    errors = [prediction_error(run, audio.get(c, moved), mask if c == 'movement_masked' else whole)
              for c in ERROR_CONDITIONS]  # fmt: skip
    return PartnerResult(
        seq.name, seq.dance, seq.split, bpm, float(np.median(valid)), float(near[LEVELS.index(1 / meter)].mean()),
        float(np.any(near, axis=0).mean()), f_measure(run, moved, whole), mean, 1000 * spread * own.period,
        f['audio'], f['both'], f['audio_masked'], f['both_masked'], f_measure(run, moved, mask),
        tempo(audio['audio']), tempo(audio['both']), *(e for e, _ in errors), *(c for _, c in errors),
    )  # fmt: skip


def trusted_runs(offsets: dict[str, dict[str, str]], progress: bool = True) -> tuple[list[Run], float]:
    """The trusted sequences' runs and the event_phase fitted on the trusted train sequences."""
    trusted = [sequence(name) for name, row in offsets.items() if row.get('trusted') == 'True']
    if not trusted:
        raise ValueError('no trusted sequence (an offsets.csv of musmove dance-offsets has a column trusted)')
    bar = Progress('musmove: the trusted sequences', len(trusted), enabled=progress)
    runs = []
    for seq in trusted:
        runs.append(prepare(seq, offsets[seq.name]))
        bar.show(len(runs))
    bar.close()
    train = [run.phases for run in runs if run.seq.split == 'train']
    return runs, circular_mean(np.concatenate(train))[0] % 1.0 if train else 0.0


def evaluate(offsets: dict[str, dict[str, str]], progress: bool = True) -> tuple[list[PartnerResult], float]:
    """Results per trusted sequence and the event_phase fitted on the trusted train sequences."""
    runs, event_phase = trusted_runs(offsets, progress)
    bar = Progress('musmove partner-beats: sequences', len(runs), enabled=progress)
    results = []
    for run in runs:
        results.append(score(run, event_phase))
        bar.show(len(results))
    bar.close()
    return results, event_phase


def write(results: list[PartnerResult], event_phase: float, out: Path) -> str:
    """partner.md and partner.csv in `out`; returns the Markdown."""
    out.mkdir(parents=True, exist_ok=True)
    write_csv(results, out / 'partner.csv')
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
        f'## Ablation: causal F (%) against the reference beats; music masked {MASK[0]:g}-{MASK[1]:g} s into the dance',
        '',
        '| sequence | split | audio | movement | both | audio, masked | both, masked | movement, masked part | '
        'tempo (BPM): reference / audio / both |',
        '|---|---|---|---|---|---|---|---|---|',
        *[ablation_row(r) for r in results],
        ablation_mean('mean, all trusted', results),
        ablation_mean('mean, held out (test)', [r for r in results if r.split == 'test']),
        '',
        f'## Ablation: the predicted beats a robot acts on, {1000 * HORIZON:.0f} ms ahead: median absolute error (ms) '
        'and the share of reference beats predicted at their level (%)',
        '',
        '| sequence | split | audio | movement | both | audio, masked | both, masked | movement, masked part |',
        '|---|---|---|---|---|---|---|---|',
        *[error_row(f'{r.sequence} | {r.split}', [r]) for r in results],
        error_row('mean, all trusted |', results),
        error_row('mean, held out (test) |', [r for r in results if r.split == 'test']),
        '',
    ])  # fmt: skip
    (out / 'partner.md').write_text(text)
    return text


def ablation_row(r: PartnerResult) -> str:
    figures = (r.audio_f, r.f_measure, r.both_f, r.audio_masked_f, r.both_masked_f, r.movement_masked_f)
    cells = [f'{100 * v:.1f}' for v in figures]
    return (f'| {r.sequence} | {r.split} | ' + ' | '.join(cells) +
            f' | {r.tempo:.1f} / {r.audio_tempo:.1f} / {r.both_tempo:.1f} |')  # fmt: skip


def ablation_mean(label: str, results: list[PartnerResult]) -> str:
    if not results:
        return f'| {label} | | | | | | | | |'
    names = ('audio_f', 'f_measure', 'both_f', 'audio_masked_f', 'both_masked_f', 'movement_masked_f')
    cells = [f'**{100 * np.mean([getattr(r, n) for r in results]):.1f}**' for n in names]
    return f'| {label} | | ' + ' | '.join(cells) + ' | |'


def error_row(label: str, results: list[PartnerResult]) -> str:
    """Prediction error (ms) and coverage (%) per condition: one sequence's, or their means (bold)."""
    if not results:
        return f'| {label} |' + ' |' * len(ERROR_CONDITIONS)
    bold = '**' if len(results) > 1 else ''
    cells = []
    for condition in ERROR_CONDITIONS:
        errors = np.array([getattr(r, f'{condition}_error_ms') for r in results])
        coverage = np.mean([getattr(r, f'{condition}_coverage') for r in results])
        cells.append('-' if np.isnan(errors).all() else f'{bold}{np.nanmean(errors):.0f}{bold} ({100 * coverage:.0f})')
    return f'| {label} | ' + ' | '.join(cells) + ' |'
