"""Metrical-level measures of a beat tracker: lock time, octave errors and the level of a tempo.

A tracker can follow the music at the annotated metrical level, or at another one: twice or three times the
annotated tempo, half or a third of it (any phase), or on the off-beats. `levels` builds those reference variants
(as mir_eval's AMLt does); `lock_time` is when the estimated beats first match a reference for `RUN` beats in a
row; `same_level` says whether a tempo is nearer (on a log scale) to the annotated tempo than to any other level.
"""

import numpy as np

TOLERANCE = 0.07  # s: a beat matches a reference beat within this (mir_eval's F-measure window)
RUN = 4  # consecutive matched beats that make a lock
RATIOS = (1 / 3, 1 / 2, 2 / 3, 1.0, 3 / 2, 2.0, 3.0)  # tempo ratios of the metrical levels told apart
# A tempo is at the annotated level when its ratio to it is nearer 1 than 2/3 or 3/2 (geometric midpoints).
LEVEL_BOUND = float(np.sqrt(1.5))


def _interpolated(reference: np.ndarray, parts: int) -> np.ndarray:
    """`parts` evenly spaced beats per reference interval (the reference beats among them)."""
    fractions = np.arange(parts) / parts
    inner = (reference[:-1, None] + np.diff(reference)[:, None] * fractions).ravel()
    return np.append(inner, reference[-1:]) if reference.size else reference


def levels(reference: np.ndarray) -> dict[str, np.ndarray]:
    """The reference beats (s) at the annotated level and at the other metrical levels a tracker may follow."""
    reference = np.asarray(reference, dtype=np.float64)
    double, triple = _interpolated(reference, 2), _interpolated(reference, 3)
    variants = {'annotated': reference, 'double': double, 'triple': triple, 'off-beat': double[1::2]}
    variants |= {f'half {k}': reference[k::2] for k in range(2)}
    variants |= {f'third {k}': reference[k::3] for k in range(3)}
    return variants


def lock_time(reference: np.ndarray, estimated: np.ndarray, run: int = RUN, tolerance: float = TOLERANCE) -> float:
    """Time (s) of the first reference beat of the first `run` consecutive reference beats matched, one to one
    and in order, by `run` consecutive estimated beats within ±`tolerance`; inf when there is no such run.

    Consecutive on both sides: an extra estimated beat between two matched ones (twice the tempo) breaks the run.
    """
    reference, estimated = np.asarray(reference, dtype=np.float64), np.asarray(estimated, dtype=np.float64)
    if reference.size < run or estimated.size < run:
        return float('inf')
    nearest = np.clip(np.searchsorted(estimated, reference), 1, estimated.size - 1)
    nearest -= np.abs(estimated[nearest - 1] - reference) <= np.abs(estimated[nearest] - reference)
    matched = np.abs(estimated[nearest] - reference) <= tolerance
    streak = 0
    for i in range(reference.size):
        continues = matched[i] and (streak == 0 or nearest[i] == nearest[i - 1] + 1)
        streak = streak + 1 if continues else int(matched[i])
        if streak >= run:
            return float(reference[i - run + 1])
    return float('inf')


def lock_times(reference: np.ndarray, estimated: np.ndarray) -> tuple[float, float]:
    """Lock time (s) at the annotated level and at any metrical level (the earliest over `levels`)."""
    times = {name: lock_time(beats, estimated) for name, beats in levels(reference).items()}
    return times['annotated'], min(times.values())


def same_level(ratio: float) -> bool:
    """Whether an estimated-to-annotated tempo ratio is at the annotated metrical level (within sqrt(3/2))."""
    return bool(1 / LEVEL_BOUND < ratio < LEVEL_BOUND)


def tempo_ratio(reference: np.ndarray, estimated: np.ndarray, start: float) -> float:
    """The estimated tempo over the annotated tempo after `start` (s): ratio of the median beat intervals;
    NaN with fewer than two beats of either after `start`."""
    reference, estimated = np.asarray(reference), np.asarray(estimated)
    after_reference, after_estimated = reference[reference >= start], estimated[estimated >= start]
    if after_reference.size < 2 or after_estimated.size < 2:
        return float('nan')
    return float(np.median(np.diff(after_reference)) / np.median(np.diff(after_estimated)))


def octave_error(reference: np.ndarray, estimated: np.ndarray, start: float) -> float:
    """1.0 when the estimated tempo after `start` (s) is at another metrical level than the annotated one,
    0.0 when at the same, NaN when there are too few beats to tell."""
    ratio = tempo_ratio(reference, estimated, start)
    return float('nan') if np.isnan(ratio) else float(not same_level(ratio))
