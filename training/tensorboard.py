"""``train.py --tensorboard DIR``: each split's epochs as TensorBoard scalars, through PyTorch's ``SummaryWriter``.

One run folder per split (``DIR/{dataset}_split{k}``), holding per epoch (the step is the epoch):

* ``train/loss``: the epoch's mean training loss;
* ``train/learning_rate``: the learning rate the epoch trained with (``param_groups[0]["lr"]``);
* ``selection/<metric>``: every metric of the dataset's protocol on the selection videos (the test
  videos, or the validation videos where the split has them), e.g. ``selection/kendall``;
* ``selection/kept_epoch``: the epoch the split would keep so far (0 while none passed the rule);

at the end ``test/<metric>`` (the kept weights on the test videos, at the kept epoch's step) where
the selection videos are not the test videos, and as text the run's configuration and the kept epoch.
The ``tensorboard`` package is optional: :func:`missing_package` says whether it can be used.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .hooks import EpochHook
from .selection import EpochMetrics

if TYPE_CHECKING:                                       # pragma: no cover
    from .loop import SplitOutcome, SplitRun

MISSING_PACKAGE = "--tensorboard needs the tensorboard package: pip install tensorboard"


def missing_package() -> bool:
    """True when ``torch.utils.tensorboard`` cannot be used (the ``tensorboard`` package is not installed)."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return True
    return False


def run_folder(root: Path | str, dataset: str, split: int) -> Path:
    """The TensorBoard run of one split: ``ROOT/{dataset}_split{k}``."""
    return Path(root) / f"{dataset}_split{split}"


def configuration_text(config, dataset: str, split: int) -> str:
    """The run's configuration as a Markdown table (what TensorBoard's text tab shows)."""
    rows = [f"| `{name}` | `{json.dumps(value)}` |" for name, value in config.to_dict().items()]
    return "\n".join([f"**{dataset} split {split}**", "", "| option | value |", "| --- | --- |", *rows])


class TensorBoardWriter(EpochHook):
    """Writes a split's scalars after each epoch (flushed, so that a running TensorBoard shows them at once).

    Call :meth:`end` with the split's outcome after ``train_split`` returns: it writes the test videos'
    metrics (computed after the last epoch) and the kept epoch, and closes the writer. After a resume the
    steps from the resumed epoch on replace those an earlier, stopped run wrote (``purge_step``).
    """

    def __init__(self, root: Path | str):
        self.root = Path(root)
        self.writer = None
        self.protocol = None
        self._lr = float("nan")

    def start(self, run: "SplitRun") -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.protocol = run.bundle.protocol
        self.writer = SummaryWriter(str(run_folder(self.root, run.bundle.name, run.split)),
                                    purge_step=run.first_epoch if run.first_epoch > 1 else None)
        self._lr = _learning_rate(run)
        self.writer.add_text("configuration", configuration_text(run.config, run.bundle.name, run.split),
                             run.first_epoch - 1)
        self.writer.add_custom_scalars({"CSTA": {
            self.protocol.metric(name).header: ["Multiline", [f"selection/{name}", f"test/{name}"]]
            for name in self.protocol.metrics}})

    def epoch_end(self, run: "SplitRun", metrics: EpochMetrics, entry: dict[str, Any]) -> None:
        epoch, writer = metrics.epoch, self.writer
        writer.add_scalar("train/loss", metrics.loss, epoch)
        writer.add_scalar("train/learning_rate", self._lr, epoch)
        for name in self.protocol.metrics:
            writer.add_scalar(f"selection/{name}", metrics.value(name), epoch)
        best = run.outcome.best
        writer.add_scalar("selection/kept_epoch", best.epoch if best is not None else 0, epoch)
        self._lr = _learning_rate(run)              # after the epoch's schedule step: the next epoch's
        writer.flush()

    def finish(self, run: "SplitRun") -> None:
        self.writer.flush()

    def stop(self, run: "SplitRun") -> None:
        self.close()

    def end(self, outcome: "SplitOutcome", selected_by: str) -> None:
        """The split's kept epoch and, where they were scored apart, the test videos' metrics; then close."""
        if self.writer is None:
            return
        kept = outcome.best.epoch
        if outcome.test is not None:
            for name in self.protocol.metrics:
                if name in outcome.test:
                    self.writer.add_scalar(f"test/{name}", outcome.test[name], kept)
        self.writer.add_text("kept_epoch", f"epoch {kept} kept ({selected_by})", kept)
        self.close()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def _learning_rate(run: "SplitRun") -> float:
    return float(run.optimizer.param_groups[0]["lr"])
