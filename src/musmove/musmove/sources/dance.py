"""dance-melody (Tang, Jia, Mao 2018): 43 real dancers' motion capture with the songs they danced to.

Each sequence folder `DANCE_<C|R|T|W>_<n>/` holds `audio.mp3` (the whole song), `skeletons.npz` (`skeletons`:
frames x 23 joints x 3 in cm relative to `center`, y up; `center`: the body's root in the room) at 25 fps and
`config.json` (`start_position`, `end_position`: the dance window, in 25 fps frames of the song); `splits.csv`
gives the split. The data set has no licence: it is read from the shared data sets, never copied.

The joint order is not documented; `DANCE_JOINTS` (in `musmove.sources.recordings`) is what the geometry shows,
checked on every sequence by test/test_dance.py:

    0 head_right    1 head_left      2 spine          3 right_shoulder  4 right_elbow   5 right_forearm
    6 right_wrist   7 right_hip      8 right_knee     9 right_ankle    10 right_heel   11 right_toe
   12 left_shoulder 13 left_elbow   14 left_wrist    15 left_hand      16 left_hip     17 left_knee
   18 left_ankle   19 left_heel     20 left_toe      21 left_forearm   22 right_hand

- Chains: the near-rigid distances (smallest spread over a sequence) form a tree: spine to two shoulders
  (34 cm each) and two hips (20 cm), each shoulder to an elbow (27-33 cm) and three forearm points, each
  hip to knee (44-53 cm), ankle (32-35 cm) and two foot points; the two head points are 11 cm apart side by
  side, 49 cm above the spine point. Feet are lowest, the head highest.
- Heel and toe: of the two foot points the one 10 cm from the ankle (and higher) is the heel, the one 21 cm
  from the heel the toe. Facing: the horizontal heel-to-toe direction; the knees then bend forward and the
  elbows backward in every sequence, which confirms it.
- Left and right: right = facing x up, assuming a right-handed frame (the data set does not say). Joints
  0, 3-11 and 22 lie on that side; the head points on either side of the midline (0 right, 1 left).
- The forearm points are named by their distance from the elbow (forearm 11-12 cm, wrist, hand farthest),
  which is also the order of how much they move. The left arm is less regular (its wrist point lies 18 cm
  from the elbow against the right's 25 cm): of the two wrists the right one (6) is the better placed.

Times: skeleton frame k is song time (start_position + k) / 25 s; `measured_offset` is not applied here.
"""

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musmove.sources.audio import load_audio
from musmove.sources.data import cache_dir, shared_data
from musmove.sources.recordings import DANCE_FPS, MocapRecording, read_mocap

DANCE_MELODY = 'dance-melody'
FPS = DANCE_FPS
DANCES = {'C': 'cha-cha', 'R': 'rumba', 'T': 'tango', 'W': 'waltz'}
BEATS_PER_BAR = {'cha-cha': 4, 'rumba': 4, 'tango': 4, 'waltz': 3}
REFERENCE_METHOD = (
    'madmom 0.17 offline: bidirectional RNNBeatProcessor and Viterbi DBNBeatTrackingProcessor at 44.1 kHz, on the '
    'danced part of the song and 10 s either side'
)
ACTIVATION_FPS = 100.0  # madmom's beat activation rate
MARGIN = 10.0  # s of the song either side of the dance window given to the reference beat tracker


@dataclass(frozen=True)
class DanceSequence:
    """One dancer's sequence: where its files are and the part of the song it covers."""

    name: str
    dance: str
    split: str
    folder: Path
    start: int  # config start_position: the song frame (25 fps) of skeleton frame 0
    end: int  # config end_position

    @property
    def audio(self) -> Path:
        return self.folder / 'audio.mp3'

    @property
    def skeletons(self) -> Path:
        return self.folder / 'skeletons.npz'

    @property
    def start_time(self) -> float:
        """Song time [s] of skeleton frame 0, as config.json states it."""
        return self.start / FPS


def dance_root() -> Path:
    """The dance-melody folder in the shared data sets (FileNotFoundError naming it when absent)."""
    root = shared_data() / DANCE_MELODY
    if not (root / 'splits.csv').is_file():
        raise FileNotFoundError(f'the dance-melody data set is not at {root} (no splits.csv)')
    return root


def sequences(split: str | None = None) -> list[DanceSequence]:
    """The sequences of splits.csv (all, or those of `split`), in its order."""
    root = dance_root()
    with (root / 'splits.csv').open(newline='') as file:
        rows = list(csv.DictReader(file))
    found = []
    for row in rows:
        if split is not None and row['split'] != split:
            continue
        folder = root / row['sequence']
        config = json.loads((folder / 'config.json').read_text())
        found.append(DanceSequence(row['sequence'], row['dance'], row['split'], folder,
                                   int(config['start_position']), int(config['end_position'])))  # fmt: skip
    if split is not None and not found:
        raise ValueError(f'no dance-melody sequences in split {split!r}; splits: train, validation, test')
    return found


def sequence(name: str) -> DanceSequence:
    """The sequence called `name` (e.g. DANCE_W_1)."""
    for candidate in sequences():
        if candidate.name == name:
            return candidate
    raise ValueError(f'no dance-melody sequence {name!r}; e.g. DANCE_W_1')


def skeleton(seq: DanceSequence) -> MocapRecording:
    """The sequence's joints in the room [m] (skeleton + center), frame 0 at time 0, in `DANCE_JOINTS` order."""
    return read_mocap(seq.skeletons)


def song(seq: DanceSequence, sample_rate: int) -> np.ndarray:
    """The whole song, mono float32 at `sample_rate`."""
    return load_audio(seq.audio, sample_rate)[:, 0]


def reference_beats(seq: DanceSequence) -> tuple[np.ndarray, np.ndarray, float]:
    """The song's reference beats [s, song time], madmom's beat activation (100 fps) and the song time of its
    first frame, computed once and cached.

    The method is `REFERENCE_METHOD`, run on the danced part of the song and `MARGIN` s either side (the whole
    song would take twice as long for beats no figure uses). The cache (outside git) is keyed by the song's
    content and the part: cache_dir()/dance-melody/<sequence>-<sha>.npz.
    """
    begin = max(0.0, seq.start_time - MARGIN)
    end = seq.start_time + (seq.end - seq.start) / FPS + MARGIN
    key = hashlib.sha256(seq.audio.read_bytes() + f'{begin}:{end}'.encode()).hexdigest()[:16]
    path = cache_dir() / DANCE_MELODY / f'{seq.name}-{key}.npz'
    if not path.is_file():
        try:
            from madmom.audio.signal import Signal
            from madmom.features.beats import DBNBeatTrackingProcessor, RNNBeatProcessor
        except ImportError as error:
            raise RuntimeError(f'the reference beats need madmom ({error}): tools/bootstrap.sh --evaluation') from None
        audio = song(seq, 44100)[round(begin * 44100) : round(end * 44100)]
        activation = RNNBeatProcessor()(Signal(audio, sample_rate=44100))
        beats = DBNBeatTrackingProcessor(fps=ACTIVATION_FPS)(activation) + begin
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix('.partial.npz')
        np.savez(partial, beats=np.asarray(beats, dtype=np.float64), activation=activation.astype(np.float32))
        partial.replace(path)
    with np.load(path) as cached:
        return cached['beats'], cached['activation'], begin
