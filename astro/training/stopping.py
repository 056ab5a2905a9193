"""Graceful stops: SIGINT/SIGTERM end training after the current step, with its state saved."""

from __future__ import annotations

import logging
import signal
import threading

from astro.errors import TrainingInterrupted

log = logging.getLogger(__name__)


class GracefulStop:
    """SIGINT/SIGTERM set a flag that the loop checks after each step; a second signal stops at once."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> GracefulStop:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame: object) -> None:
        if self.signal is not None:
            raise KeyboardInterrupt
        self.signal = signum
        log.warning("%s received: stopping after this step (again to stop now)", signal.Signals(signum).name)

    @property
    def requested(self) -> bool:
        return self.signal is not None

    def interrupted(self, epoch: int, step: int, last: str) -> TrainingInterrupted:
        """The error that ends the run: where it stopped, where the state is, how to continue."""
        name = signal.Signals(self.signal).name
        return TrainingInterrupted(
            f"stopped by {name} at epoch {epoch}, step {step}; state saved to {last}; "
            "continue with the same command plus resume=auto",
            exit_code=128 + int(self.signal),
        )
