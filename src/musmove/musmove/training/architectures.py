"""Causal sequence models: whole sequences for training, one frame at a time for export.

The five architectures of the study (`ARCHITECTURES`): a temporal CNN (dilated causal convolutions),
an Elman RNN, an LSTM, a CNN-LSTM (causal convolutions, then an LSTM) and a Transformer (causal
self-attention over a sliding window with learned relative-position biases); and the CRNN of the
shipped beat model (2-D convolutions over time and mel bands, then a GRU).

Every model maps features (batch, frames, size) to logits (batch, frames, classes), frame t seeing
frames <= t only. It normalises its input with the training set's mean and std (buffers, so the
exported graph takes raw features) and pads the start with `pad` (the features of silence).
`step` gives the newest frame's logits from the last `window` frames and the recurrent state, the
graph that is exported (see `musmove.models`).
"""

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from musmove.training import ARCHITECTURE_NAMES


class CausalModel(nn.Module):
    """Shared input handling: normalisation, start padding, the per-frame step."""

    window = 1  # frames of input the per-frame step needs
    state_shape: tuple[int, ...] | None = None  # recurrent state per sequence (layers, 1, hidden), if any

    def __init__(self, mean: Tensor, std: Tensor, pad: float) -> None:
        super().__init__()
        self.register_buffer('mean', torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer('std', torch.as_tensor(std, dtype=torch.float32).clamp_min(1e-3))
        self.pad = pad

    def normalized(self, features: Tensor) -> Tensor:
        """Features with `window - 1` frames of silence before them, standardised."""
        padding = features.new_full((features.shape[0], self.window - 1, features.shape[2]), self.pad)
        return (torch.cat([padding, features], dim=1) - self.mean) / self.std


class CRNN(CausalModel):
    """Convolutions over (time, frequency), causal in time, then a unidirectional GRU (Böck-style CRNN).

    Two 3x3 convolutions with batch norm, ELU and frequency max-pooling (window: 5 frames), a linear
    projection, a GRU of `layers` layers and a linear head.
    """

    def __init__(
        self,
        size: int,
        classes: int,
        mean: Tensor,
        std: Tensor,
        pad: float,
        channels: int = 16,
        hidden: int = 64,
        dropout: float = 0.1,
        layers: int = 1,
    ) -> None:
        super().__init__(mean, std, pad)
        self.window = 5
        self.convolutions = nn.Sequential(
            nn.Conv2d(1, channels // 2, 3, padding=(0, 1)),
            nn.BatchNorm2d(channels // 2),
            nn.ELU(),
            nn.MaxPool2d((1, 3)),
            nn.Conv2d(channels // 2, channels, 3, padding=(0, 1)),
            nn.BatchNorm2d(channels),
            nn.ELU(),
            nn.MaxPool2d((1, 3)),
            nn.Dropout(dropout),
        )
        self.projection = nn.Linear(channels * (size // 3 // 3), hidden)
        self.gru = nn.GRU(hidden, hidden, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, classes))
        self.state_shape = (layers, 1, hidden)

    def encode(self, normalized: Tensor) -> Tensor:
        """(batch, frames + window - 1, size) standardised -> (batch, frames, hidden)."""
        maps = self.convolutions(normalized.unsqueeze(1))  # (batch, channels, frames, bands)
        return torch.relu(self.projection(maps.permute(0, 2, 1, 3).flatten(2)))

    def forward(self, features: Tensor) -> Tensor:
        output, _ = self.gru(self.encode(self.normalized(features)))
        return self.head(output)

    def step(self, window: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        """Logits (1, classes) of the newest of `window` (1, window, size) raw frames, and the next state."""
        output, state = self.gru(self.encode((window - self.mean) / self.std), state)
        return self.head(output[:, -1]), state


def causal_convolutions(size: int, hidden: int, dilations: tuple[int, ...], dropout: float) -> nn.Sequential:
    """Unpadded 1-D convolutions (kernel 3) over time, channels first: the output is `sum(2 d)` frames shorter."""
    layers: list[nn.Module] = []
    for dilation in dilations:
        layers += [nn.Conv1d(size, hidden, 3, dilation=dilation), nn.BatchNorm1d(hidden), nn.ELU(), nn.Dropout(dropout)]
        size = hidden
    return nn.Sequential(*layers)


class TemporalCNN(CausalModel):
    """Dilated causal convolutions (a small TCN) and a linear head; no state: the step sees its receptive field."""

    def __init__(
        self,
        size: int,
        classes: int,
        mean: Tensor,
        std: Tensor,
        pad: float,
        hidden: int = 64,
        dilations: tuple[int, ...] = (1, 2, 4, 8),
        dropout: float = 0.1,
    ) -> None:
        super().__init__(mean, std, pad)
        self.window = 1 + 2 * sum(dilations)
        self.convolutions = causal_convolutions(size, hidden, dilations, dropout)
        self.head = nn.Linear(hidden, classes)

    def encode(self, normalized: Tensor) -> Tensor:
        return self.convolutions(normalized.transpose(1, 2)).transpose(1, 2)

    def forward(self, features: Tensor) -> Tensor:
        return self.head(self.encode(self.normalized(features)))

    def step(self, window: Tensor, state: Tensor | None) -> tuple[Tensor, Tensor | None]:
        return self.head(self.encode((window - self.mean) / self.std)[:, -1]), state


class Recurrent(CausalModel):
    """An input layer (linear, or causal convolutions for the CNN-LSTM), a unidirectional RNN/LSTM, a linear head.

    The step's state is (layers, 1, hidden) for the RNN and, for the LSTM, h and c stacked: (2 layers, 1, hidden).
    """

    def __init__(
        self,
        size: int,
        classes: int,
        mean: Tensor,
        std: Tensor,
        pad: float,
        cell: str = 'lstm',
        hidden: int = 64,
        layers: int = 1,
        dilations: tuple[int, ...] = (),
        dropout: float = 0.1,
    ) -> None:
        super().__init__(mean, std, pad)
        self.window = 1 + 2 * sum(dilations)
        self.input = (
            causal_convolutions(size, hidden, dilations, dropout)
            if dilations
            else nn.Sequential(nn.Conv1d(size, hidden, 1), nn.ELU(), nn.Dropout(dropout))
        )
        self.lstm = cell == 'lstm'
        self.recurrent = (nn.LSTM if self.lstm else nn.RNN)(hidden, hidden, layers, batch_first=True)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, classes))
        self.layers = layers
        self.state_shape = ((2 if self.lstm else 1) * layers, 1, hidden)

    def encode(self, normalized: Tensor) -> Tensor:
        return self.input(normalized.transpose(1, 2)).transpose(1, 2)

    def forward(self, features: Tensor) -> Tensor:
        output, _ = self.recurrent(self.encode(self.normalized(features)))
        return self.head(output)

    def step(self, window: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        encoded = self.encode((window - self.mean) / self.std)
        if self.lstm:
            output, (h, c) = self.recurrent(encoded, (state[: self.layers], state[self.layers :]))
            return self.head(output[:, -1]), torch.cat([h, c])
        output, state = self.recurrent(encoded, state)
        return self.head(output[:, -1]), state


class Attention(nn.Module):
    """Multi-head self-attention of each frame to itself and the `span - 1` frames before it (pre-norm block)."""

    def __init__(self, width: int, heads: int, span: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.span = heads, span
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv, self.out = nn.Linear(width, 3 * width), nn.Linear(width, width)
        self.bias = nn.Parameter(torch.zeros(heads, span))  # by distance to the attended frame
        self.feed = nn.Sequential(
            nn.Linear(width, 2 * width), nn.GELU(), nn.Dropout(dropout), nn.Linear(2 * width, width)
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        batch, frames, width = x.shape
        position = torch.arange(frames, device=x.device)
        distance = position[:, None] - position[None, :]
        seen = (distance >= 0) & (distance < self.span)
        q, k, v = self.qkv(self.norm1(x)).view(batch, frames, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]) + self.bias[:, distance.clamp(0, self.span - 1)]
        weights = self.dropout(torch.softmax(scores.masked_fill(~seen, float('-inf')), dim=-1))
        x = x + self.dropout(self.out((weights @ v).transpose(1, 2).reshape(batch, frames, width)))
        return x + self.dropout(self.feed(self.norm2(x)))


class CausalTransformer(CausalModel):
    """A linear embedding, `layers` windowed causal self-attention blocks, a linear head.

    Each block looks `span - 1` frames back, so the output of a frame depends on the last
    `layers (span - 1) + 1` frames: the step's window, on which it is exactly the sequence model's.
    """

    def __init__(
        self,
        size: int,
        classes: int,
        mean: Tensor,
        std: Tensor,
        pad: float,
        hidden: int = 64,
        heads: int = 4,
        layers: int = 2,
        span: int = 16,
        dropout: float = 0.1,
    ) -> None:
        super().__init__(mean, std, pad)
        self.window = layers * (span - 1) + 1
        self.embed = nn.Linear(size, hidden)
        self.blocks = nn.Sequential(*(Attention(hidden, heads, span, dropout) for _ in range(layers)))
        self.head = nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, classes))

    def forward(self, features: Tensor, block: int = 512) -> Tensor:
        """Logits of every frame, `block` frames at a time (each with its `window - 1` frames of context), so that
        a long recording does not need one attention matrix over all of its frames."""
        x = self.embed(self.normalized(features))
        frames = features.shape[1]
        pieces = [self.blocks(x[:, start : start + block + self.window - 1]) for start in range(0, frames, block)]
        return self.head(torch.cat([piece[:, self.window - 1 :] for piece in pieces], dim=1))

    def step(self, window: Tensor, state: Tensor | None) -> tuple[Tensor, Tensor | None]:
        return self.head(self.blocks(self.embed((window - self.mean) / self.std))[:, -1]), state


def _named(cls: type[CausalModel], **fixed) -> Callable[..., CausalModel]:
    return lambda *args, **kwargs: cls(*args, **fixed, **kwargs)


ARCHITECTURES: dict[str, Callable[..., CausalModel]] = {
    'cnn': TemporalCNN,
    'rnn': _named(Recurrent, cell='rnn'),
    'lstm': _named(Recurrent, cell='lstm'),
    'cnn_lstm': _named(Recurrent, cell='lstm', dilations=(1, 2)),
    'transformer': CausalTransformer,
    'crnn': CRNN,
    'crnn2': _named(CRNN, hidden=96, layers=2),
}
assert tuple(ARCHITECTURES) == ARCHITECTURE_NAMES
