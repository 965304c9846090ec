"""Per-frame cost of causal beat tracking (features + activation + tracker) against the frame hop.

    python bench/beat_tracking.py [--repeat N] [--model PATH]

Runs on the bundled Groove MIDI performance (rendered with fluidsynth). For each audio frame it
times what the beat_tracker node does before publishing: the activation (the ONNX model: streaming
log-mel and one onnxruntime step; or the DSP fallback: onset strength and its normalisation) and
one tracker step. Added latency from frame arrival to Beat publish is that plus DDS delivery
(bench/beat_latency.py). Baseline in the same process: librosa.beat.beat_track on the whole file
(offline, non-causal), as cost per frame.
"""

import argparse
import time

import librosa
import numpy as np

from musmove.beat.model import SHIPPED, load
from musmove.beat.tracking import BeatTracker
from musmove.sources.audio import load_audio
from musmove.sources.data import bundled, render_midi

RATE, HOP = 22050, 512


def causal(audio: np.ndarray, model: str = '') -> tuple[np.ndarray, np.ndarray]:
    """Seconds spent on each frame: (activation, activation + tracker step)."""
    activation, tracker = load(model, RATE, HOP), BeatTracker(RATE / HOP)
    inference, total = [], []
    for start in range(0, len(audio) - HOP + 1, HOP):
        frame = audio[start : start + HOP]
        began = time.perf_counter()
        beat, _ = activation(frame)
        inferred = time.perf_counter()
        tracker.step(beat)
        inference.append(inferred - began)
        total.append(time.perf_counter() - began)
    return np.array(inference), np.array(total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeat', type=int, default=5, help='timed runs (median taken)')
    parser.add_argument('--model', default=SHIPPED, help='ONNX beat model (default: the shipped one)')
    args = parser.parse_args()
    audio = load_audio(render_midi(bundled('groove_drummer3_rock_120.mid'), RATE), RATE)[:, 0]
    frames = len(audio) // HOP
    hop_ms = 1000 * HOP / RATE
    offline = []
    for _ in range(args.repeat):
        began = time.perf_counter()
        librosa.beat.beat_track(y=audio, sr=RATE, hop_length=HOP)
        offline.append(1000 * (time.perf_counter() - began) / frames)
    baseline = np.median(offline)
    print(f'{frames} frames of {hop_ms:.1f} ms ({audio.size / RATE:.1f} s), {args.repeat} runs, medians over runs')
    for label, model in ((args.model, args.model), ('DSP fallback', '')):
        runs = [causal(audio, model) for _ in range(args.repeat)]
        inference = np.median([1000 * np.median(run[0]) for run in runs])
        ours = np.median([1000 * np.median(run[1]) for run in runs])
        p99 = np.median([1000 * np.percentile(run[1], 99) for run in runs])
        print(f'  {label}')
        print(f'    activation per frame       median {inference:.3f} ms')
        print(f'    + tracker step per frame   median {ours:.3f} ms, p99 {p99:.3f} ms')
        print(f'    share of the frame hop     median {ours / hop_ms:.2%}, p99 {p99 / hop_ms:.2%}')
        print(f'    ours / librosa offline     {ours / baseline:.2f}x')
    print(f'  librosa beat_track, offline {baseline:.3f} ms per frame')


if __name__ == '__main__':
    main()
