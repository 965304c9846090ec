"""Per-frame cost of causal beat tracking (features + activation + tracker) against the frame hop.

    python bench/beat_tracking.py [--repeat N]

Runs on the bundled Groove MIDI performance (rendered with fluidsynth). For each audio frame it
times what the beat_tracker node does before publishing: the onset strength, its normalisation
and one tracker step. Added latency from frame arrival to Beat publish is that time plus DDS
delivery (not measured here). Baseline in the same process: librosa.beat.beat_track on the whole
file (offline, non-causal), as cost per frame.
"""

import argparse
import time

import librosa
import numpy as np

from musmove.audio import load_audio
from musmove.beat_tracking import BeatTracker, OnsetNormalizer
from musmove.data import bundled, render_midi
from musmove.features import AudioFeatures

RATE, HOP = 22050, 512


def causal(audio: np.ndarray) -> np.ndarray:
    """Seconds spent on each frame."""
    fps = RATE / HOP
    features, normalize, tracker = AudioFeatures(HOP), OnsetNormalizer(fps), BeatTracker(fps)
    costs = []
    for start in range(0, len(audio) - HOP + 1, HOP):
        frame = audio[start : start + HOP]
        began = time.perf_counter()
        tracker.step(normalize(features(frame)[1]))
        costs.append(time.perf_counter() - began)
    return np.array(costs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeat', type=int, default=5, help='timed runs (median taken)')
    args = parser.parse_args()
    audio = load_audio(render_midi(bundled('groove_drummer3_rock_120.mid'), RATE), RATE)[:, 0]
    frames = len(audio) // HOP
    hop_ms = 1000 * HOP / RATE
    runs = [causal(audio) for _ in range(args.repeat)]
    medians = [1000 * np.median(run) for run in runs]
    p99s = [1000 * np.percentile(run, 99) for run in runs]
    offline = []
    for _ in range(args.repeat):
        began = time.perf_counter()
        librosa.beat.beat_track(y=audio, sr=RATE, hop_length=HOP)
        offline.append(1000 * (time.perf_counter() - began) / frames)
    ours, p99, baseline = np.median(medians), np.median(p99s), np.median(offline)
    print(f'{frames} frames of {hop_ms:.1f} ms ({audio.size / RATE:.1f} s), {args.repeat} runs, medians over runs')
    print(f'  causal tracker per frame   median {ours:.3f} ms, p99 {p99:.3f} ms')
    print(f'  share of the frame hop     median {ours / hop_ms:.2%}, p99 {p99 / hop_ms:.2%}')
    print(f'  librosa beat_track, offline {baseline:.3f} ms per frame; ours / librosa {ours / baseline:.2f}x')


if __name__ == '__main__':
    main()
