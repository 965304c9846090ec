"""A minimal progress line for long jobs: redrawn on a terminal, a line every few seconds in logs."""

import sys
import time


class Progress:
    """Report `done` of `total` under a label, rate-limited."""

    def __init__(self, label: str, total: int, interval: float | None = None, enabled: bool = True) -> None:
        self.label, self.total, self.enabled = label, total, enabled
        self.tty = sys.stdout.isatty()
        self.interval = interval if interval is not None else (0.2 if self.tty else 5.0)
        self.last_time = float('-inf')
        self.done = 0

    def show(self, done: int) -> None:
        self.done = done
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last_time >= self.interval:
            self.last_time = now
            self._draw()

    def close(self) -> None:
        if not self.enabled:
            return
        self._draw()
        if self.tty:
            print()

    def _draw(self) -> None:
        line = f'{self.label} {self.done}/{self.total} ({100 * self.done / max(self.total, 1):.0f}%)'
        print(f'\r{line}' if self.tty else line, end='' if self.tty else '\n', flush=True)
