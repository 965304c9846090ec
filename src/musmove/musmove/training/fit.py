"""The training loop shared by every task: AdamW, cosine schedule, early stopping, fixed seeds."""

import copy
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from musmove.progress import Progress


@dataclass
class Settings:
    epochs: int = 30
    steps_per_epoch: int = 100
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    patience: int = 6  # epochs without a better validation loss before stopping
    max_minutes: float = 25.0  # wall-clock budget; the best model so far is kept
    seed: int = 0


@dataclass
class History:
    train_loss: list[float] = field(default_factory=list)
    validation_loss: list[float] = field(default_factory=list)
    best_epoch: int = -1
    seconds: float = 0.0


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def fit(
    model: nn.Module,
    next_batch: Callable[[], tuple[Tensor, Tensor]],
    validation_loss: Callable[[nn.Module], float],
    loss: Callable[[Tensor, Tensor], Tensor],
    settings: Settings,
    quiet: bool = False,
) -> History:
    """Train `model` in place on `next_batch()`es; it ends with the weights of the best validation epoch.

    `quiet`: no progress bar and no line per epoch (for the many short runs of a cross-validation).
    """
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    total = settings.epochs * settings.steps_per_epoch
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, total)
    history, best, began = History(), None, time.monotonic()
    progress = Progress('training steps', total, enabled=not quiet)
    for epoch in range(settings.epochs):
        model.train()
        losses = []
        for step in range(settings.steps_per_epoch):
            x, y = next_batch()
            optimizer.zero_grad()
            value = loss(model(x), y)
            value.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            losses.append(value.item())
            progress.show(epoch * settings.steps_per_epoch + step + 1)
        model.eval()
        with torch.no_grad():
            history.validation_loss.append(validation_loss(model))
        history.train_loss.append(float(np.mean(losses)))
        if history.validation_loss[-1] <= min(history.validation_loss):
            history.best_epoch, best = epoch, copy.deepcopy(model.state_dict())
        progress.close()
        if not quiet:
            train, validation = history.train_loss[-1], history.validation_loss[-1]
            print(f'epoch {epoch + 1}: train {train:.4f}, validation {validation:.4f}')
        minutes = (time.monotonic() - began) / 60
        if (
            epoch - history.best_epoch >= settings.patience
            or minutes * (epoch + 2) / (epoch + 1) > settings.max_minutes
        ):
            break
    model.load_state_dict(best)
    model.eval()
    history.seconds = time.monotonic() - began
    return history
