"""Causal sequence models: whole sequences for training, one frame at a time for export.

Every model maps features (batch, frames, size) to logits (batch, frames, classes), frame t seeing
frames <= t only. It normalises its input with the training set's mean and std (buffers, so the
exported graph takes raw features) and pads the start with `pad` (the features of silence).
`step` gives the newest frame's logits from the last `window` frames and the recurrent state, the
graph that is exported (see `musmove.onnx_models`).
"""

import torch
from torch import Tensor, nn


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
    projection, a GRU and a linear head.
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
        self.gru = nn.GRU(hidden, hidden, batch_first=True)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, classes))
        self.state_shape = (1, 1, hidden)

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


ARCHITECTURES: dict[str, type[CausalModel]] = {'crnn': CRNN}
