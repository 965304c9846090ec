"""Frame-wise beat and downbeat activations, causally: a trained ONNX model, or the DSP fallback.

Both take consecutive mono frames of `hop` samples at `sample_rate` and give, per frame, the
activations (beat, downbeat) in [0, 1] for the time of that frame (see `musmove.beat.features`).
`OnsetActivation` is the spectral-flux onset strength over its running peak (no downbeats);
`OnnxBeatModel` runs a model exported by `musmove.training` and checked against its card; `BeatEnsemble`
averages several (`open_model('a.onnx,b.onnx')`).

The default, `SHIPPED`, is the mean of beat_crnn2 (trained on the prepared data: POP909, mixtures, three
SoundFonts, a recording channel) and beat_crnn (clean FluidR3 renders of Groove and ASAP). On validation, causal
F-measure with the default tracker (`bench/beat_tracker_validation.py`): 34 real dance-melody songs (first 40 s,
reference their madmom offline beats) 90.0 against 88.0 and 76.4 for either alone; Groove (first 60 s) 73.2
against 70.8 and 70.5; ASAP 53.1 against 51.7 and 56.3.
"""

import json
from pathlib import Path
from typing import Protocol

import numpy as np

from musmove.beat.features import AudioFeatures, StreamingSpectrogram
from musmove.beat.tracking import OnsetNormalizer
from musmove.models import ModelError, StreamingModel

SHIPPED = 'beat_crnn2.onnx,beat_crnn.onnx'  # beat_tracker's default: their mean, in share/musmove/models


class BeatActivation(Protocol):
    """Causal beat activations, one frame of `hop` samples at a time."""

    sample_rate: int
    hop: int

    def __call__(self, frame: np.ndarray) -> tuple[float, float]:
        """(beat, downbeat) activation of the next frame (mono, `hop` samples)."""
        ...

    def reset(self) -> None:
        """Forget the past (after a gap)."""
        ...


class OnsetActivation:
    """The DSP fallback: normalised spectral-flux onset strength as the beat activation, downbeat 0."""

    def __init__(self, sample_rate: int, hop: int) -> None:
        self.sample_rate, self.hop = sample_rate, hop
        self.reset()

    def reset(self) -> None:
        self.features, self.normalize = AudioFeatures(self.hop), OnsetNormalizer(self.sample_rate / self.hop)

    def __call__(self, frame: np.ndarray) -> tuple[float, float]:
        return self.normalize(self.features(frame)[1]), 0.0


class OnnxBeatModel:
    """A trained beat/downbeat model (`musmove train --task beat`) on its card's log-mel features."""

    def __init__(self, model: str | Path) -> None:
        self.model = StreamingModel(model, task='beat')
        card = self.model.card
        spec = card['features']
        if spec.get('kind') != 'log_mel' or 'beat' not in card['classes']:
            raise ModelError(f'{model}: expected a log_mel beat model, the card says {spec.get("kind")!r}')
        self.name, self.sample_rate, self.hop = Path(model).name, spec['sample_rate'], spec['hop']
        self.spectrogram = StreamingSpectrogram(
            spec['n_fft'], self.hop, self.sample_rate, spec['n_mels'], spec['fmin'], spec['fmax']
        )
        self.beat = card['classes'].index('beat')
        self.downbeat = card['classes'].index('downbeat') if 'downbeat' in card['classes'] else None

    def check(self, sample_rate: int, hop: int) -> None:
        """Raise ModelError unless audio frames of `hop` samples at `sample_rate` are what the model takes."""
        if (sample_rate, hop) != (self.sample_rate, self.hop):
            raise ModelError(
                f'{self.name}: trained on frames of {self.hop} samples at {self.sample_rate} Hz, '
                f"but the audio has {hop} at {sample_rate} Hz; set the audio source to the model's format"
            )

    def reset(self) -> None:
        self.spectrogram.reset()
        self.model.reset()

    def __call__(self, frame: np.ndarray) -> tuple[float, float]:
        return self.infer(self.spectrogram(frame)[1])

    def infer(self, features: np.ndarray) -> tuple[float, float]:
        """(beat, downbeat) activation of the next frame's log-mel `features`."""
        probabilities = self.model(features.astype(np.float32))
        downbeat = 0.0 if self.downbeat is None else float(probabilities[self.downbeat])
        return float(probabilities[self.beat]), downbeat


class BeatEnsemble:
    """The mean activations of several ONNX beat models that take the same audio frames (and, where their cards
    give the same log-mel features, one spectrogram for all)."""

    def __init__(self, models: list[OnnxBeatModel]) -> None:
        formats = {(m.sample_rate, m.hop) for m in models}
        if len(formats) > 1:
            raise ModelError(f'{", ".join(m.name for m in models)}: the models take different audio frames {formats}')
        self.models = models
        features = {json.dumps(m.model.card['features'], sort_keys=True) for m in models}
        self.shared = models[0].spectrogram if len(features) == 1 else None
        self.name = ','.join(m.name for m in models)
        self.sample_rate, self.hop = models[0].sample_rate, models[0].hop

    def check(self, sample_rate: int, hop: int) -> None:
        self.models[0].check(sample_rate, hop)

    def reset(self) -> None:
        for model in self.models:
            model.reset()

    def __call__(self, frame: np.ndarray) -> tuple[float, float]:
        if self.shared is None:
            outputs = [model(frame) for model in self.models]
        else:
            features = self.shared(frame)[1]
            outputs = [model.infer(features) for model in self.models]
        beat, downbeat = np.mean(outputs, axis=0)
        return float(beat), float(downbeat)


def open_model(model: str | Path) -> OnnxBeatModel | BeatEnsemble:
    """The ONNX beat model at `model`, or, for several paths or names separated by commas, their mean."""
    names = [name.strip() for name in str(model).split(',')]
    if len(names) == 1:
        return OnnxBeatModel(model)
    if not all(names):
        raise ModelError(f'{model!r}: an empty model name between commas')
    return BeatEnsemble([OnnxBeatModel(name) for name in names])


def activations(model: BeatActivation, signal: np.ndarray) -> np.ndarray:
    """(frames, 2) activations of every whole frame of a mono `signal`, computed causally frame by frame."""
    model.reset()
    hop = model.hop
    return np.array([model(signal[i : i + hop]) for i in range(0, len(signal) - hop + 1, hop)]).reshape(-1, 2)


def load(model: str | None, sample_rate: int, hop: int) -> BeatActivation:
    """The ONNX model(s) at `model` (`open_model`; checked against the cards and the audio format), or the DSP
    fallback if empty."""
    if not model:
        return OnsetActivation(sample_rate, hop)
    activation = open_model(model)
    activation.check(sample_rate, hop)
    return activation
