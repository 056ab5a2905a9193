"""The training state kept in last.pt beyond the weights: how far the run got, with everything a resumed
run needs to draw exactly what the uninterrupted run would have drawn."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class EpochProgress:
    """How far an epoch got: a stopped epoch resumes at `steps` with the running loss sums."""

    steps: int = 0
    loss_sum: float = 0.0
    seen: int = 0
    stopped: bool = False

    @property
    def mean_loss(self) -> float:
        return self.loss_sum / max(self.seen, 1)


@dataclass
class PartialEpoch:
    """An epoch stopped part-way: its batch plan and how far it got."""

    epoch: int
    plan: list[list[int]]
    progress: EpochProgress


@dataclass
class ResumeState:
    """Everything beyond the weights that a resumed run needs. `epoch` is the last finished epoch."""

    epoch: int
    optimizer_state: dict[str, Any]
    scheduler_state: dict[str, Any]
    rng: dict[str, Any]
    history: list[dict[str, float]]
    top_k: list[tuple[float, int, str]]
    output_dir: str
    config_hash: str
    partial: PartialEpoch | None = None
    alignment_state: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, tree: dict[str, Any]) -> ResumeState:
        """From to_dict's output, or from a format-1 last.pt, whose flat keys had the same names."""
        partial = tree.get("partial")
        if partial is not None:
            progress = partial["progress"]
            progress = progress if isinstance(progress, EpochProgress) else EpochProgress(**progress)
            partial = PartialEpoch(partial["epoch"], partial["plan"], progress)
        return cls(
            epoch=int(tree["epoch"]),
            optimizer_state=tree["optimizer_state"],
            scheduler_state=tree["scheduler_state"],
            rng=tree["rng"],
            history=list(tree["history"]),
            top_k=[tuple(entry) for entry in tree["top_k"]],
            output_dir=str(tree["output_dir"]),
            config_hash=str(tree["config_hash"]),
            partial=partial,
            alignment_state=tree.get("alignment_state"),
        )
