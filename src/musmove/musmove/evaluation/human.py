"""People as the yardstick: how precisely humans move in time, from the tapping data in `human-timing/`.

- Bååth & Madison 2012 (`baath-madison-2012/tapping.csv`): 30 people tapping to a metronome; per
  inter-stimulus interval, the mean asynchrony (tap - click) and its SD within a trial.
- TapCorrect (Driedger et al. 2019, `tapcorrect/dataset/csv/<id>/`): one person tapping along to real songs
  (`01-original_taps.csv`) and the same taps corrected onto the beat by annotators
  (`03-fully_corrected_taps.csv`); per song, the mean and SD of original - corrected.
- López & Laje 2019 (`lopez-laje-2019/*.mat`): paced tapping at 500 ms with a step change of the period
  (`temp_size` ms: +-9 or +-15 per subject in `subject_simetric_raw.mat`, 'main'; +-50 = +-10 % in
  `subject_simetric_xl_raw.mat`, 'xl') at beep `mech_bip`; the data hold no phase steps. Trials with
  the tapping target where it was (`mech_size` 57, no spatial perturbation) are taken; each trial's
  asynchronies are relative to its mean over the 10 beats before the step, beat n = beep - `mech_bip`
  (n = 1: the first beep of the new period); the curve is the median across subjects of each one's mean.
"""

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io

BAATH = 'baath-madison-2012/tapping.csv'
TAPCORRECT = 'tapcorrect/dataset/csv'
LOPEZ_LAJE = {'main': 'lopez-laje-2019/subject_simetric_raw.mat', 'xl': 'lopez-laje-2019/subject_simetric_xl_raw.mat'}
UNPERTURBED_TARGET = 57  # mech_size of the trials without a spatial perturbation
BASELINE_BEATS = 10
TAP_MATCH = 0.15  # [s] an original tap farther than this from every corrected one is unmatched
WITHIN = 0.015  # [s] "back in time": |asynchrony| at most this


@dataclass(frozen=True)
class Timing:
    """Asynchronies of one condition [s]: mean, SD and how many taps (and people or songs)."""

    label: str
    mean: float
    sd: float
    taps: int
    groups: int


def baath_madison(root: Path) -> list[Timing]:
    """Per ISI: the mean asynchrony of all taps, and the median over subjects of the SD within a trial."""
    with (root / BAATH).open() as file:
        rows = [(int(r['subject']), int(r['trial']), int(r['isi']), float(r['asynch'])) for r in csv.DictReader(file)]
    table = np.array(rows, dtype=float)
    result = []
    for isi in np.unique(table[:, 2]):
        taps = table[table[:, 2] == isi]
        sds = []
        for subject in np.unique(taps[:, 0]):
            mine = taps[taps[:, 0] == subject]
            trials = [mine[mine[:, 1] == t, 3] for t in np.unique(mine[:, 1])]
            sds.append(np.mean([np.std(t, ddof=1) for t in trials if len(t) > 1]))
        label = f'ISI {isi:.0f} ms'
        result.append(Timing(label, taps[:, 3].mean() / 1e3, float(np.median(sds)) / 1e3, len(taps), len(sds)))
    return result


def read_taps(path: Path) -> np.ndarray:
    """Tap times [s] of a TapCorrect csv (`time,"beat count"` rows)."""
    with path.open() as file:
        return np.array([float(row[0]) for row in csv.reader(file) if row], dtype=float)


def tapcorrect(root: Path) -> list[Timing]:
    """Per song: original - corrected tap (nearest, within `TAP_MATCH`), mean and SD."""
    result = []
    for song in sorted(p for p in (root / TAPCORRECT).iterdir() if p.is_dir()):
        original = read_taps(song / '01-original_taps.csv')
        corrected = read_taps(song / '03-fully_corrected_taps.csv')
        if len(original) < 2 or len(corrected) < 2:
            continue
        at = np.clip(np.searchsorted(corrected, original), 1, len(corrected) - 1)
        left, right = corrected[at - 1], corrected[at]
        nearest = np.where(np.abs(left - original) <= np.abs(right - original), left, right)
        offsets = (original - nearest)[np.abs(original - nearest) <= TAP_MATCH]
        if len(offsets) > 1:
            result.append(Timing(song.name, float(offsets.mean()), float(offsets.std(ddof=1)), len(offsets), 1))
    return result


@dataclass(frozen=True)
class Resynchronisation:
    """The median re-synchronisation after a period step: asynchrony [s] at beats `beats` after it."""

    step: float  # [s] the change of the period (negative: faster)
    beats: np.ndarray
    asynchrony: np.ndarray  # median over subjects, relative to the pre-step mean
    subjects: int
    trials: int

    def recovery(self, within: float = WITHIN) -> int | None:
        """The number of beats after the step until |asynchrony| stays within `within`; None: never."""
        return beats_to_recover(self.beats, self.asynchrony, within)


def beats_to_recover(beats: np.ndarray, asynchrony: np.ndarray, within: float = WITHIN) -> int | None:
    """The first beat n >= 1 from which every later |asynchrony| is within `within` (None: not in the window)."""
    after = beats >= 1
    outside = np.flatnonzero(after & ~(np.abs(asynchrony) <= within))
    if len(outside) == 0:
        return int(beats[after][0]) if after.any() else None
    last = outside[-1]
    return int(beats[last + 1]) if last + 1 < len(beats) else None


def lopez_laje(root: Path, experiment: str = 'xl', span: tuple[int, int] = (-5, 15)) -> list[Resynchronisation]:
    """The re-synchronisation curves of `experiment` ('main' or 'xl'), shorter then longer period, beats `span`."""
    subjects = scipy.io.loadmat(root / LOPEZ_LAJE[experiment], squeeze_me=True, struct_as_record=False)['subject']
    beats = np.arange(span[0], span[1] + 1)
    curves = []
    for sign in (-1, 1):
        means, sizes = [], []
        for subject in subjects:
            rows = [t for t in np.atleast_1d(subject.exp) if np.sign(t.temp_size) == sign]
            rows = [t for t in rows if t.mech_size == UNPERTURBED_TARGET]
            aligned = [(a, abs(t.temp_size)) for t in rows if (a := aligned_trial(t, beats)) is not None]
            if aligned:
                means.append(np.nanmean([a for a, _ in aligned], axis=0))
                sizes += [size for _, size in aligned]
        step = sign * float(np.median(sizes)) / 1e3
        curves.append(Resynchronisation(step, beats, np.nanmedian(means, axis=0) / 1e3, len(means), len(sizes)))
    return curves


def aligned_trial(trial, beats: np.ndarray) -> np.ndarray | None:
    """A trial's asynchronies [ms] at `beats` relative to its step, less its pre-step mean (NaN: no tap)."""
    values, beeps = np.asarray(trial.asyn, dtype=float)
    relative = beeps - trial.mech_bip
    before = values[(relative <= 0) & (relative > -BASELINE_BEATS)]
    if len(before) < BASELINE_BEATS // 2:
        return None
    lookup = dict(zip(relative.astype(int), values - before.mean(), strict=True))
    return np.array([lookup.get(int(n), np.nan) for n in beats])


def summary(root: Path) -> list[str]:
    """The human references in a few lines (ms), for a report beside the robot's figures."""
    lines = ['people (human-timing/; asynchrony in ms):']
    for row in baath_madison(root)[:2]:
        lines.append(
            f'  metronome tapping (Bååth & Madison 2012), {row.label}: mean {1e3 * row.mean:+.1f}, '
            f'SD {1e3 * row.sd:.1f} ({row.groups} people)'
        )
    songs = tapcorrect(root)
    means, sds = np.median([s.mean for s in songs]), np.median([s.sd for s in songs])
    lines.append(
        f'  tapping to songs (TapCorrect), original - corrected taps, median over {len(songs)} songs: '
        f'mean {1e3 * means:+.1f}, SD {1e3 * sds:.1f}'
    )
    for curve in lopez_laje(root, 'xl'):
        back = curve.recovery()
        lines.append(
            f'  period step {1e3 * curve.step:+.0f} ms of 500 (López & Laje 2019): back within 15 ms at beat '
            f'{back if back is not None else "never"} (median of {curve.subjects} people)'
        )
    return lines
