"""``train.py --tensorboard DIR``: each split's epochs as TensorBoard scalars, through PyTorch's ``SummaryWriter``.

One run folder per split (``DIR/{dataset}_split{k}``), holding per epoch (the step is the epoch):

* ``train/loss``: the epoch's mean training loss;
* ``train/learning_rate``: the learning rate the epoch trained with (``param_groups[0]["lr"]``);
* ``selection/<metric>``: every metric of the dataset's protocol on the selection videos (the test
  videos, or the validation videos where the split has them), e.g. ``selection/kendall``;
* ``selection/kept_epoch``: the epoch the split would keep so far (0 while none passed the rule);

at the end ``test/<metric>`` (the kept weights on the test videos, at the kept epoch's step) where
the selection videos are not the test videos, and as text the run's configuration and the kept epoch.
The ``tensorboard`` package is optional: :func:`missing_package` says why it cannot be used.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from .hooks import EpochHook
from .selection import EpochMetrics

if TYPE_CHECKING:                                       # pragma: no cover
    from .loop import SplitOutcome, SplitRun


def missing_package() -> str | None:
    """Why ``torch.utils.tensorboard`` cannot be used (one line), or None when it can.

    Any exception counts: a broken install (e.g. a protobuf version clash) fails at import with a ``TypeError``.
    """
    try:
        import tensorboard  # noqa: F401
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError:
        return "--tensorboard needs the tensorboard package: pip install tensorboard"
    except Exception as error:                      # noqa: BLE001: a package that is there but does not import
        return (f"--tensorboard: the tensorboard package cannot be imported ({type(error).__name__}: "
                f"{str(error).splitlines()[0] if str(error) else 'no message'}); reinstall it: "
                f"pip install --force-reinstall tensorboard")
    return None


def run_folder(root: Path | str, dataset: str, split: int) -> Path:
    """The TensorBoard run of one split: ``ROOT/{dataset}_split{k}``."""
    return Path(root) / f"{dataset}_split{split}"


def configuration_text(config, dataset: str, split: int) -> str:
    """The run's configuration as a Markdown table (what TensorBoard's text tab shows)."""
    rows = [f"| `{name}` | `{json.dumps(value)}` |" for name, value in config.to_dict().items()]
    return "\n".join([f"**{dataset} split {split}**", "", "| option | value |", "| --- | --- |", *rows])


class TensorBoardWriter(EpochHook):
    """Writes a split's scalars after each epoch (flushed, so that a running TensorBoard shows them at once).

    Every start hides what earlier runs wrote into the same folder (``purge_step=0``: TensorBoard drops
    older events from the step given on), so one TensorBoard run is one training run; the files stay on disk.
    A resumed split first writes again the epochs its progress file holds, from their log lines. Call
    :meth:`end` with the split's outcome after ``train_split`` returns: it writes the test videos'
    metrics (computed after the last epoch) and the kept epoch, and closes the writer.
    """

    def __init__(self, root: Path | str):
        self.root = Path(root)
        self.writer = None
        self.protocol = None
        self._kept = self._written = 0

    def start(self, run: "SplitRun") -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.protocol = run.bundle.protocol
        self.writer = SummaryWriter(str(run_folder(self.root, run.bundle.name, run.split)), purge_step=0)
        self.writer.add_text("configuration", configuration_text(run.config, run.bundle.name, run.split), 0)
        self.writer.add_custom_scalars({"CSTA": {
            self.protocol.metric(name).header: ["Multiline", [f"selection/{name}", f"test/{name}"]]
            for name in self.protocol.metrics}})
        self._kept = self._written = 0
        for entry in run.outcome.log:                   # the epochs a resumed split does not train again
            self._write_epoch(entry)
        self.writer.flush()

    def epoch_end(self, run: "SplitRun", metrics: EpochMetrics, entry: dict[str, Any]) -> None:
        self._write_epoch(entry)
        self.writer.flush()

    def _write_epoch(self, entry: Mapping[str, Any]) -> None:
        epoch, writer = int(entry["epoch"]), self.writer
        writer.add_scalar("train/loss", entry["loss"], epoch)
        if "learning_rate" in entry:                    # log lines of earlier versions do not have it
            writer.add_scalar("train/learning_rate", entry["learning_rate"], epoch)
        for name in self.protocol.metrics:
            writer.add_scalar(f"selection/{name}", entry[name], epoch)
        if entry.get("selected"):
            self._kept = epoch
        writer.add_scalar("selection/kept_epoch", self._kept, epoch)
        self._written = epoch

    def finish(self, run: "SplitRun") -> None:
        self.writer.flush()

    def stop(self, run: "SplitRun") -> None:
        """A stopped run: the epochs its log holds that a stop between two hooks kept from being written."""
        if self.writer is not None:
            for entry in run.outcome.log:
                if entry["epoch"] > self._written:
                    self._write_epoch(entry)
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
