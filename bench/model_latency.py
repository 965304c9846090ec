"""Per-frame cost of every shipped ONNX model, as the nodes run it, against the frame period.

    python bench/model_latency.py [--frames N] [--models DIR]

For each models/*.onnx (beat and gesture models of every architecture) it feeds N frames of real
features one at a time through `musmove.models.StreamingModel` (history shift, onnxruntime step
with one thread, softmax or sigmoid: what beat_tracker and gesture_phase call per frame) and prints
the median and p99 wall time, the median as a share of the model's frame period (23.2 ms for beats,
33.3 ms for gestures), and the ratio to the baseline run in the same process: the shipped CRNN beat
model. Real features: the log-mel of the bundled Groove MIDI rendering for beat models, the UCI
gesture-phase recording a1's kinematics for gesture models.
"""

import argparse
import time
from pathlib import Path

import numpy as np

from musmove.beat.features import offline_log_mel
from musmove.gesture.features import features as gesture_features
from musmove.models import StreamingModel
from musmove.sources.audio import load_audio
from musmove.sources.data import bundled, render_midi, shared_data
from musmove.sources.recordings import read_mocap

BASELINE = 'beat_crnn.onnx'


def per_frame(model: StreamingModel, features: np.ndarray) -> np.ndarray:
    """Seconds per frame of `model` on `features`, after 50 warm-up frames."""
    for row in features[:50]:
        model(row)
    times = []
    for row in features:
        began = time.perf_counter()
        model(row)
        times.append(time.perf_counter() - began)
    return np.array(times)


def inputs(card: dict, frames: int) -> np.ndarray:
    if card['task'] == 'beat':
        settings = {k: card['features'][k] for k in ('sample_rate', 'hop', 'n_fft', 'n_mels', 'fmin', 'fmax')}
        audio = load_audio(render_midi(bundled('groove_drummer3_rock_120.mid'), 22050), 22050)[:, 0]
        return offline_log_mel(audio, **settings)[1][:frames].astype(np.float32)
    mocap = read_mocap(shared_data() / 'uci-gesture-phase' / 'raw' / 'a1_raw.csv')
    return gesture_features(mocap.positions)[:frames][:, card['features']['columns']]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--frames', type=int, default=1000)
    parser.add_argument('--models', default=str(Path(__file__).resolve().parent.parent / 'models'))
    args = parser.parse_args()
    paths = sorted(Path(args.models).glob('*.onnx'), key=lambda p: (p.name != BASELINE, p.name))
    print(f'{"model":<24} {"parameters":>10} {"median µs":>10} {"p99 µs":>8} {"of period":>9} {"vs CRNN":>8}')
    baseline = None
    for path in paths:
        model = StreamingModel(path)
        times = per_frame(model, inputs(model.card, args.frames))
        median = float(np.median(times))
        baseline = baseline or median
        share = median * float(model.card['frame_rate'])
        p99 = np.percentile(times, 99)
        print(f'{path.stem:<24} {model.card["parameters"]:>10} {1e6 * median:>10.0f} {1e6 * p99:>8.0f} '
              f'{100 * share:>8.2f}% {median / baseline:>7.2f}x')  # fmt: skip


if __name__ == '__main__':
    main()
