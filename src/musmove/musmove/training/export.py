"""Export a trained causal model as an ONNX step graph with its card, checked against torch."""

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import torch
from torch import Tensor, nn

from musmove.models import CARD_VERSION, StreamingModel, activate, sha256
from musmove.training.architectures import CausalModel

OPSET = 17


class _Step(nn.Module):
    def __init__(self, model: CausalModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, window: Tensor, state: Tensor | None = None) -> tuple[Tensor, ...]:
        return self.model.step(window, state) if state is not None else (self.model.step(window, None)[0],)


def export(
    model: CausalModel,
    path: Path,
    card: dict[str, Any],
    check_features: np.ndarray,
    activation: str,
    tolerance: float = 1e-4,
) -> dict[str, Any]:
    """Write `path` (.onnx) and its card; raise if onnxruntime step by step differs from torch by > `tolerance`.

    `card` gives everything but the graph's description, sha256 and parity, which this adds.
    `check_features` (frames, size) are real features the parity is measured on.
    """
    model.eval()
    size = check_features.shape[1]
    window = torch.zeros(1, model.window, size)
    inputs = {'features': {'name': 'features', 'shape': [1, model.window, size], 'pad': model.pad}}
    outputs = {'logits': {'name': 'logits', 'shape': [1, len(card['classes'])]}}
    args: tuple[Tensor, ...] = (window,)
    if model.state_shape:
        inputs['state'] = {'name': 'state', 'shape': list(model.state_shape)}
        outputs['state'] = {'name': 'state_out', 'shape': list(model.state_shape)}
        args = (window, torch.zeros(model.state_shape))
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # the TorchScript exporter's notes on its deprecation and on batch sizes
        warnings.simplefilter('ignore', (DeprecationWarning, UserWarning, torch.jit.TracerWarning))
        _export(model, args, path, inputs, outputs)
    card = {
        'card_version': CARD_VERSION,
        **card,
        'file': path.name,
        'activation': activation,
        'inputs': inputs,
        'outputs': outputs,
        'parameters': sum(p.numel() for p in model.parameters()),
        'onnx_opset': OPSET,
        'torch': torch.__version__,
        'onnxruntime': onnxruntime.__version__,
        'sha256': sha256(path),
    }
    path.with_suffix('.json').write_text(json.dumps(card, indent=2) + '\n')
    difference = parity(model, path, check_features, activation)
    if difference > tolerance:
        raise RuntimeError(f'{path}: onnxruntime differs from torch by {difference:.2e} (> {tolerance:.0e})')
    card['parity'] = {'frames': len(check_features), 'max_abs_difference': difference}
    path.with_suffix('.json').write_text(json.dumps(card, indent=2) + '\n')
    return card


def _export(model: CausalModel, args: tuple[Tensor, ...], path: Path, inputs: dict, outputs: dict) -> None:
    torch.onnx.export(
        _Step(model).eval(),  # eval: batch norm with its running statistics
        args,
        str(path),
        input_names=[spec['name'] for spec in inputs.values()],
        output_names=[spec['name'] for spec in outputs.values()],
        opset_version=OPSET,
        dynamo=False,
    )


def parity(model: CausalModel, path: Path, features: np.ndarray, activation: str) -> float:
    """Largest difference of the output probabilities: torch on the whole sequence vs ONNX frame by frame."""
    with torch.no_grad():
        logits = model(torch.as_tensor(features[None], dtype=torch.float32))[0].numpy()
    expected = np.array([activate(row, activation) for row in logits])
    streaming = StreamingModel(path)
    actual = np.array([streaming(row) for row in features.astype(np.float32)])
    return float(np.abs(actual - expected).max())
