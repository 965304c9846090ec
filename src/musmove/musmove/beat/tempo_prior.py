"""The tempo prior of the beat tracker, learned from the train-split annotations (Groove MIDI and ASAP).

Each train performance's tempo is 60 / its median annotated beat interval, moved by octaves into the tracker's
range (55-215 BPM: a piece annotated at 40 BPM can only be tracked at 80); the prior is the log-normal fitted to
those tempi, every file counting once: the mean and standard deviation of log2(BPM). The numbers are stored
in `LEARNED` (BeatTracker's defaults); this prints them again from the data:

    python -m musmove.beat.tempo_prior        (needs the shared data sets)
"""

import json

import numpy as np

LEARNED = {'prior_bpm': 105.8, 'prior_octaves': 0.365}  # 518 train files: Groove 378 + ASAP 140
RANGE = (55.0, 215.0)  # BPM: BeatTracker's default tempo range


def fold(bpm: np.ndarray, low: float = RANGE[0], high: float = RANGE[1]) -> np.ndarray:
    """Tempi moved by whole octaves into [low, high] (high >= 2 low)."""
    bpm = np.asarray(bpm, dtype=np.float64)
    up, down = np.ceil(np.log2(low / bpm)), np.ceil(np.log2(bpm / high))  # at most one of them positive
    return bpm * 2.0 ** (np.maximum(up, 0) - np.maximum(down, 0))


def learn(datasets: tuple[str, ...] = ('groove', 'asap'), split: str = 'train') -> dict[str, float | int | str]:
    """Fit the prior to the annotated tempi of `split` (ASAP: one performance per score folder)."""
    from musmove.training.beat_data import examples, one_per_folder

    chosen = [e for d in datasets for e in one_per_folder(examples(dataset=d, split=split))]
    bpm = fold(np.array([60 / np.median(np.diff(e.beats)) for e in chosen if len(e.beats) > 2]))
    octaves = np.log2(bpm)
    return {
        'prior_bpm': round(float(2 ** octaves.mean()), 1),
        'prior_octaves': round(float(octaves.std()), 3),
        'files': int(bpm.size),
        'split': f'{split}: {" + ".join(datasets)}',
        'command': 'python -m musmove.beat.tempo_prior',
    }


if __name__ == '__main__':
    print(json.dumps(learn()))
