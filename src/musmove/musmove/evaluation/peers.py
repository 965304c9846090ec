"""The published beat trackers run beside ours in `musmove eval-beats`: madmom and BeatNet, online and offline.

They come with the optional evaluation extra (`requirements/evaluation.txt`, `tools/bootstrap.sh --evaluation`),
never with the nodes; without it their rows say "not installed". Each takes mono audio at 22050 Hz and returns
beat times (s):

- madmom-online: `RNNBeatProcessor(online=True)` (its unidirectional networks) and the forward
  `DBNBeatTrackingProcessor(online=True)`, on the audio resampled to 44100 Hz (madmom's rate): causal;
- madmom-offline: the bidirectional `RNNBeatProcessor` and the Viterbi `DBNBeatTrackingProcessor` (non-causal);
- beatnet-online: BeatNet (Heydari et al. 2021; model 1) in 'online' mode: its causal CRNN over the whole file and
  particle filtering, random seed 0 for every file;
- beatnet-offline: BeatNet's 'offline' mode (the same CRNN, madmom's DBN downbeat tracker).
"""

import importlib
from collections.abc import Callable
from functools import cache
from math import gcd
from typing import Any

import numpy as np
from scipy.signal import resample_poly

from musmove.evaluation import PEERS

RATE = 22050
MADMOM_RATE = 44100
EXTRA = 'the evaluation extra: tools/bootstrap.sh --evaluation'
REQUIRES = dict(zip(PEERS, ('madmom', 'madmom', 'BeatNet', 'BeatNet'), strict=True))  # the package of each
ONLINE_PEERS = ('madmom-online', 'beatnet-online')


@cache
def missing_reason(peer: str) -> str | None:
    """Why `peer` cannot run here ('not installed: …'), or None when it can (its package imports)."""
    if peer not in REQUIRES:
        return None
    module = REQUIRES[peer]
    try:
        _beatnet() if module == 'BeatNet' else importlib.import_module('madmom.features.beats')
    except Exception as error:  # an absent package, or one that does not import (no metadata, no numpy ABI)
        return f'not installed: {module} ({EXTRA}; {type(error).__name__}: {error})'.splitlines()[0]
    return None


def _madmom_signal(audio: np.ndarray) -> Any:
    from madmom.audio.signal import Signal

    common = gcd(MADMOM_RATE, RATE)
    resampled = resample_poly(audio, MADMOM_RATE // common, RATE // common)
    return Signal(np.ascontiguousarray(resampled, dtype=np.float32), sample_rate=MADMOM_RATE)


def madmom_online(audio: np.ndarray) -> np.ndarray:
    """Beats (s) of madmom's online beat tracker (causal)."""
    from madmom.features.beats import DBNBeatTrackingProcessor, RNNBeatProcessor

    activation = RNNBeatProcessor(online=True)(_madmom_signal(audio))
    return np.asarray(DBNBeatTrackingProcessor(fps=100, online=True)(activation), dtype=np.float64)


def madmom_offline(audio: np.ndarray) -> np.ndarray:
    """Beats (s) of madmom's offline beat tracker (bidirectional networks, Viterbi DBN)."""
    from madmom.features.beats import DBNBeatTrackingProcessor, RNNBeatProcessor

    activation = RNNBeatProcessor()(_madmom_signal(audio))
    return np.asarray(DBNBeatTrackingProcessor(fps=100)(activation), dtype=np.float64)


@cache
def _beatnet() -> Any:
    """BeatNet's class, imported on first use; BeatNet 1.1.1 still calls `np.in1d`, which numpy 2.4 dropped."""
    if not hasattr(np, 'in1d'):
        np.in1d = np.isin  # the same for the 1-D arrays BeatNet passes
    from BeatNet.BeatNet import BeatNet

    return BeatNet


def _beatnet_beats(audio: np.ndarray, mode: str, inference: str) -> np.ndarray:
    np.random.seed(0)  # the particle filter draws from numpy's global generator
    tracker = _beatnet()(1, mode=mode, inference_model=inference, plot=[], thread=False)
    output = tracker.process(np.ascontiguousarray(audio, dtype=np.float32))
    return np.asarray(output, dtype=np.float64).reshape(-1, 2)[:, 0]


def beatnet_online(audio: np.ndarray) -> np.ndarray:
    """Beats (s) of BeatNet online: causal CRNN and particle filtering."""
    return _beatnet_beats(audio, 'online', 'PF')


def beatnet_offline(audio: np.ndarray) -> np.ndarray:
    """Beats (s) of BeatNet offline: the CRNN and madmom's DBN."""
    return _beatnet_beats(audio, 'offline', 'DBN')


RUN: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    'madmom-online': madmom_online,
    'madmom-offline': madmom_offline,
    'beatnet-online': beatnet_online,
    'beatnet-offline': beatnet_offline,
}
