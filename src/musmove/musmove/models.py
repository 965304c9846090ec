"""Trained models at run time: an ONNX file, its JSON model card, and causal frame-by-frame inference.

Every model exported by `musmove.training` is a *step* graph: it takes the last `window` feature frames
(`features`, shape (1, window, size)) and, for recurrent models, the state after the previous frame
(`state`), and gives the output of the newest frame (`logits`, shape (1, classes)) and the next state
(`state_out`). The card (`<model>.json` beside `<model>.onnx`) records the graph's inputs and outputs,
the features it expects, its classes, how it was trained and evaluated, and the ONNX file's sha256;
`load_card` checks the file against it and `StreamingModel` checks the graph against it, so a wrong,
corrupt or mismatched model fails at start with a message naming the file and what differs.
"""

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime

CARD_VERSION = 1


class ModelError(RuntimeError):
    """A model file that is missing, corrupt or not what its card or its user says."""


def resolve(model: str | Path) -> Path:
    """`model` as given if it exists, else the installed `share/musmove/models/<model>`."""
    if Path(model).exists() or Path(model).is_absolute():
        return Path(model)
    from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

    try:
        installed = Path(get_package_share_directory('musmove'), 'models', model)
    except PackageNotFoundError:
        return Path(model)
    return installed if installed.exists() else Path(model)


def card_path(model: str | Path) -> Path:
    """The card of a model given as its .onnx or .json path."""
    return Path(model).with_suffix('.json')


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_card(model: str | Path, task: str | None = None) -> dict[str, Any]:
    """The card of `model` (.onnx or .json), checked: version, task, the ONNX file's presence and sha256."""
    path = card_path(resolve(model))
    if not path.is_file():
        where = '' if path.is_absolute() else ' in the working directory or share/musmove/models'
        raise ModelError(f'{path}: model card not found{where} (every model needs its .json card beside the .onnx)')
    try:
        card = json.loads(path.read_text())
        onnx = path.with_name(card['file'])
        expected = card['sha256']
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise ModelError(f'{path}: not a musmove model card ({error})') from error
    if card.get('card_version') != CARD_VERSION:
        raise ModelError(f'{path}: card_version {card.get("card_version")!r}, this musmove reads {CARD_VERSION}')
    if task is not None and card.get('task') != task:
        raise ModelError(f'{path}: a {card.get("task")!r} model, not a {task!r} model')
    if not onnx.is_file():
        raise ModelError(f'{onnx}: model file not found (named by {path})')
    if (actual := sha256(onnx)) != expected:
        raise ModelError(f'{onnx}: sha256 {actual[:12]}… differs from its card ({expected[:12]}…): corrupt or replaced')
    return card


class StreamingModel:
    """Causal inference with a step graph: feed one feature frame, get that frame's output."""

    def __init__(self, model: str | Path, task: str | None = None) -> None:
        self.card = load_card(model, task)
        onnx = card_path(resolve(model)).with_name(self.card['file'])
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        try:
            self.session = onnxruntime.InferenceSession(str(onnx), options, providers=['CPUExecutionProvider'])
        except Exception as error:  # onnxruntime raises its own untyped errors for unreadable graphs
            raise ModelError(f'{onnx}: onnxruntime cannot load it ({error})') from error
        self.window, self.size = self.card['inputs']['features']['shape'][1:]
        self.pad = float(self.card['inputs']['features'].get('pad', 0.0))  # the features before the first frame
        state = self.card['inputs'].get('state')
        self.state_shape = tuple(state['shape']) if state else None
        self._check_graph(onnx)
        self.reset()

    def _check_graph(self, onnx: Path) -> None:
        """The graph's inputs and outputs are the card's, with the card's shapes."""
        declared = {**self.card['inputs'], **self.card['outputs']}
        actual = {io.name: io.shape for io in [*self.session.get_inputs(), *self.session.get_outputs()]}
        for role, spec in declared.items():
            if spec is None:
                continue
            if spec['name'] not in actual:
                raise ModelError(f'{onnx}: no {role} tensor {spec["name"]!r} (graph has {sorted(actual)})')
            if list(actual[spec['name']]) != list(spec['shape']):
                raise ModelError(f'{onnx}: {spec["name"]} has shape {actual[spec["name"]]}, card says {spec["shape"]}')

    def reset(self) -> None:
        """Forget the past: padding as feature history, zero state."""
        self.history = np.full((1, self.window, self.size), self.pad, dtype=np.float32)
        self.state = np.zeros(self.state_shape, dtype=np.float32) if self.state_shape else None

    def __call__(self, features: np.ndarray) -> np.ndarray:
        """Output probabilities (sigmoid or softmax, as the card says) of the next frame's features."""
        if features.shape != (self.size,):
            raise ValueError(f'expected {self.size} features per frame, got shape {features.shape}')
        self.history[0, :-1] = self.history[0, 1:]
        self.history[0, -1] = features
        inputs = {self.card['inputs']['features']['name']: self.history}
        if self.state is not None:
            inputs[self.card['inputs']['state']['name']] = self.state
        names = [self.card['outputs']['logits']['name']]
        if self.state is not None:
            names.append(self.card['outputs']['state']['name'])
        logits, *state = self.session.run(names, inputs)
        if state:
            self.state = state[0]
        return activate(logits[0], self.card['activation'])


def activate(logits: np.ndarray, activation: str) -> np.ndarray:
    """'sigmoid' (independent classes) or 'softmax' (one class of several) of the logits."""
    if activation == 'sigmoid':
        return 1.0 / (1.0 + np.exp(-logits))
    exp = np.exp(logits - logits.max())
    return exp / exp.sum()
