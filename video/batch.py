"""summarize.py's work: find the inputs, plan their outputs, analyse each video and write its summary."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from tqdm import tqdm

from evaluation.files import write_json_atomically
from evaluation.summary import shot_lengths

from .features import GoogLeNetFeatures, PretrainedWeightsUnavailable
from .io import VIDEO_EXTENSIONS, VideoError, probe, write_selected_frames
from .pipeline import StageTimes, VideoSummary, analyse
from .plot import importance_figure
from .report import summary_record
from .scoring import CheckpointError, CstaScorer

SUMMARY_SUFFIX = ".summary.mp4"


class OutputConflict(Exception):
    """Writing a video's outputs would overwrite an input or another video's outputs."""


def run(args) -> int:
    """Summarise every input of parsed ``summarize.py`` arguments; the exit status."""
    device = _resolve_device(args.device)
    out_dir = Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        print(f"error: --out {out_dir} exists and is not a folder", file=sys.stderr)
        return 2
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        print(f"error: --out {out_dir}: cannot create the folder ({error.strerror or error})", file=sys.stderr)
        return 2

    videos, failures = collect_inputs(args.inputs)
    try:
        scorer = CstaScorer(args.weights, device, args.config)
        extractor = GoogLeNetFeatures(device, pretrained=not args.no_pretrained, batch_size=args.batch_size)
    except (CheckpointError, PretrainedWeightsUnavailable) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    settings = {
        "weights": str(args.weights),
        "sample_rate": args.sample_rate,
        "ratio": args.ratio,
        "kts_vmax": args.vmax,
        "device": str(device),
        "pretrained_features": not args.no_pretrained,
        "model_options": scorer.config.model_options(),
        "model_options_from": scorer.options_from,
    }
    inputs = {path.resolve() for path in videos}
    claimed: dict[Path, Path] = {}
    times = StageTimes()
    done = 0
    for path in tqdm(videos, desc="videos", unit="video", disable=args.quiet or len(videos) < 2):
        try:
            outputs = plan_outputs(path, out_dir, inputs, claimed)
            summary = analyse(probe(path), extractor, scorer, sample_rate=args.sample_rate,
                              ratio=args.ratio, vmax=args.vmax, times=times, progress=not args.quiet)
            tqdm.write(write_outputs(summary, outputs, settings, times, progress=not args.quiet))
            done += 1
        except (VideoError, OutputConflict) as error:
            failures.append(str(error))
            tqdm.write(f"error: {error}", file=sys.stderr)
        except Exception as error:  # one bad video must not stop the others
            failures.append(f"{path}: {type(error).__name__}: {error}")
            tqdm.write(f"error: {path}: failed with {type(error).__name__}: {error}", file=sys.stderr)

    if args.timings:
        print(times.table(f"{device} ({torch.get_num_threads()} threads)"))
    total = done + len(failures)
    print(f"{done} of {total} input(s) summarised into {out_dir}")
    if failures:
        print(f"{len(failures)} failed:", file=sys.stderr)
        for failure in failures:
            print(f"  {failure}", file=sys.stderr)
        return 1
    return 0


def collect_inputs(arguments) -> tuple[list[Path], list[str]]:
    """Videos named directly or found in folders (sorted); problems as messages naming the path.

    Folders are searched for video extensions, skipping earlier summaries (``*.summary.mp4``) so that
    a folder can be summarised into itself more than once.
    """
    videos, problems = [], []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS
                           and not p.name.endswith(SUMMARY_SUFFIX))
            if not found:
                problems.append(f"{path}: folder holds no {', '.join(VIDEO_EXTENSIONS)} files")
            videos.extend(found)
        elif path.exists():
            videos.append(path)
        else:
            problems.append(f"{path}: no such file or folder")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return videos, problems


def plan_outputs(video: Path, out_dir: Path, inputs: set[Path], claimed: dict[Path, Path]) -> dict[str, Path]:
    """The three output paths of ``video``; refuses any that is an input or another video's output."""
    outputs = {
        "video": out_dir / f"{video.stem}{SUMMARY_SUFFIX}",
        "json": out_dir / f"{video.stem}.json",
        "plot": out_dir / f"{video.stem}.png",
    }
    for target in outputs.values():
        resolved = target.resolve()
        if resolved in inputs:
            raise OutputConflict(f"{video}: refusing to write {target}: that is an input file")
        if resolved in claimed and claimed[resolved] != video:
            raise OutputConflict(f"{video}: its output {target} would overwrite that of {claimed[resolved]} "
                                 f"(same name); summarise them into different --out folders")
    for target in outputs.values():
        claimed[target.resolve()] = video
    return outputs


def write_outputs(summary: VideoSummary, outputs: dict[str, Path], settings: dict, times: StageTimes,
                  progress: bool) -> str:
    """Write the summary video (when any shot fits the budget), the plot and the JSON; describe them."""
    name = summary.info.path.name
    kept = int(summary.keep.sum())
    video_target = outputs["video"] if kept else None
    if video_target is not None:
        with tqdm(total=summary.n_frames, unit="frame", desc=f"{name}: writing summary",
                  disable=not progress, leave=False) as bar:
            with times.measure("encode", summary.n_frames):
                write_selected_frames(summary.info, video_target, summary.keep, on_frame=bar.update)
    importance_figure(outputs["plot"], f"{name}: {len(summary.shots)} shots, "
                      f"{len(summary.selected)} selected ({kept} of {summary.n_frames} frames)",
                      summary.sample_frames, summary.step_scores, summary.shots, summary.selected,
                      summary.n_frames, summary.info.frame_rate)
    write_json_atomically(outputs["json"], summary_record(summary, settings, video_target))
    written = [p.name for p in (video_target, outputs["json"], outputs["plot"]) if p is not None]
    line = (f"{name}: {summary.n_frames} frames, {len(summary.shots)} shots, {len(summary.selected)} "
            f"selected ({kept / summary.info.frame_rate:.1f} s) -> {', '.join(written)}")
    if not kept:
        line += (f"\n  note: no shot fits in {summary.ratio:.0%} of the video ({summary.budget} frames; "
                 f"shortest shot {int(shot_lengths(summary.shots).min())} frames), "
                 f"so there is no summary video; try a larger --ratio or --vmax below 1")
    return line


def _resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise SystemExit(f"error: --device {name}: {error}")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"error: --device {name}: CUDA is not available here (use --device cpu)")
    return device


