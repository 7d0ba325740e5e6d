"""summarize.py's work: find the inputs, plan their outputs, analyse each video and write its summary."""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import av
import torch
from tqdm import tqdm

from evaluation.summary import shot_lengths
from model.device import DeviceError, resolve_device
from storage.files import describe_write_error, page_written_by, png_text, write_json_atomically

from .features import GoogLeNetFeatures, PretrainedWeightsUnavailable
from .io import (OUTPUT_MARK, VIDEO_EXTENSIONS, FrameTooLarge, PartialVideoWarning, VideoError, even_size,
                 probe, write_summary)
from .page import read_summary_record, write_index, write_summary_page
from .pipeline import StageTimes, VideoSummary, analyse
from .plot import importance_figure
from .report import summary_record, warnings_of
from .scoring import CheckpointError, CstaScorer, NonFiniteScores

SUMMARY_SUFFIX = ".summary.mp4"


class OutputConflict(Exception):
    """Writing a video's outputs would overwrite an input or another video's outputs."""


def run(args) -> int:
    """Summarise every input of parsed ``summarize.py`` arguments; the exit status.

    Each input is handled on its own: one that cannot be used is named and the others go on. The
    status is 0 when every input was summarised, 2 when any could not be (a bad input or a full
    disk), 1 when any failed for a reason this tool did not foresee.
    """
    try:
        device = resolve_device(args.device)
    except DeviceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    out_dir = Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        print(f"error: --out {out_dir} exists and is not a folder", file=sys.stderr)
        return 2
    made = [folder for folder in (out_dir, *out_dir.parents) if not folder.exists()]    # removed if setup fails
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        print(f"error: --out {out_dir}: cannot create the folder ({error.strerror or error})", file=sys.stderr)
        return 2
    status = _summarise_into(out_dir, device, args)
    if status == 2 and made:
        for folder in made:                         # the folders this run made, if it left them empty
            try:
                folder.rmdir()
            except OSError:
                break
    return status


def _summarise_into(out_dir: Path, device: torch.device, args) -> int:
    """``run`` once ``--out`` exists: check the inputs and their output names, load the model, summarise."""
    videos, failures = collect_inputs(args.inputs, recursive=args.recursive)
    done_before: list[Path] = []
    if args.skip_existing:
        done_before = [v for v in videos if (out_dir / f"{v.stem}.json").is_file()]
        for video in done_before:
            print(f"{video}: skipped, {out_dir / (video.stem + '.json')} exists")
        videos = [v for v in videos if v not in done_before]
    inputs = {path.resolve() for path in videos}
    claimed: dict[Path, Path] = {}
    planned, conflicts = {}, []
    for path in videos:                             # every name clash is known before any video is decoded
        try:
            planned[path] = plan_outputs(path, out_dir, inputs, claimed)
        except OutputConflict as error:
            conflicts.append(str(error))
    if conflicts:
        for conflict in conflicts:
            print(f"error: {conflict}", file=sys.stderr)
        return 2
    if args.no_pretrained:
        print("note: --no-pretrained: GoogLeNet has random weights, so the features barely tell frames apart "
              "and the shots and summaries are meaningless; use it only to try the tool offline")
    try:
        scorer = CstaScorer(args.weights, device, args.config,
                            use_record=getattr(args, "options_from", "checkpoint") == "checkpoint")
        extractor = GoogLeNetFeatures(device, pretrained=not args.no_pretrained, batch_size=args.batch_size)
    except (CheckpointError, PretrainedWeightsUnavailable) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    settings = {
        "weights": str(args.weights),
        "samples_per_second": None if args.sample_every else args.samples_per_second,
        "sample_every": args.sample_every,
        "ratio": args.ratio,
        "kts_vmax": args.vmax,
        "kts_penalty": args.kts_penalty,
        "refine_cuts": not args.no_refine_cuts,
        "device": str(device),
        "pretrained_features": not args.no_pretrained,
        "model_options": scorer.config.model_options(),
        "model_options_from": scorer.options_from,
    }
    times = StageTimes()
    started = time.perf_counter()
    done, bugs = 0, 0
    for path in tqdm(videos, desc="videos", unit="video", disable=args.quiet or len(videos) < 2):
        try:
            outputs = planned[path]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", PartialVideoWarning)       # reported below, with the summary
                summary = analyse(probe(path), extractor, scorer, samples_per_second=args.samples_per_second,
                                  sample_every=args.sample_every, ratio=args.ratio, vmax=args.vmax,
                                  kts_penalty=args.kts_penalty, refine_cuts=not args.no_refine_cuts, times=times,
                                  progress=not args.quiet)
            tqdm.write(write_outputs(summary, outputs, settings, times, progress=not args.quiet,
                                     page=not getattr(args, "no_html", False)))
            done += 1
        except NonFiniteScores as error:           # the checkpoint's fault: every other video would fail too
            tqdm.write(f"error: {error.checkpoint}: gives NaN or infinite scores for {path} ({error.detail}); "
                       f"use another checkpoint", file=sys.stderr)
            return 2
        except VideoError as error:
            failures.append(str(error))
            tqdm.write(f"error: {error}", file=sys.stderr)
        except OSError as error:                   # a full disk, a folder that went read-only
            failures.append(f"{path}: {describe_write_error(error)}")
            tqdm.write(f"error: {failures[-1]}", file=sys.stderr)
        except Exception as error:  # one bad video must not stop the others
            bugs += 1
            failures.append(f"{path}: {type(error).__name__}: {error}")
            tqdm.write(f"error: {path}: failed with {type(error).__name__}: {error} (a bug in this tool; "
                       f"please report it)", file=sys.stderr)

    pages = not getattr(args, "no_html", False)
    for video in done_before:                       # their pages are listed, and never taken for the index
        claimed.setdefault((out_dir / f"{video.stem}.html").resolve(), video)
    if (done or done_before) and ((pages and any(Path(a).is_dir() for a in args.inputs))
                                  or (out_dir / "index.html").is_file()):
        index_written = _write_index(out_dir, claimed)          # an index already there is kept up to date
    else:
        index_written = True
    times.wall = time.perf_counter() - started
    if args.timings:
        print(times.table(f"{device} ({torch.get_num_threads()} threads)"))
    total = done + len(failures)
    print(f"{done} of {total} input(s) summarised into {out_dir}"
          + (f" ({len(done_before)} skipped, summarised before)" if done_before else ""))
    if failures:
        print(f"{len(failures)} failed:", file=sys.stderr)
        for failure in failures:
            print(f"  {failure}", file=sys.stderr)
        return 1 if bugs else 2
    return 0 if index_written else 2


def collect_inputs(arguments, recursive: bool = False) -> tuple[list[Path], list[str]]:
    """Videos named directly or found in folders (sorted); problems as messages naming the path.

    In folders, every file FFmpeg opens as a video counts (known extensions are taken without
    opening them), except earlier summaries (``*.summary.mp4``), so that a folder can be summarised
    into itself more than once.
    """
    videos, problems = [], []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            candidates = sorted(p for p in (path.rglob("*") if recursive else path.iterdir())
                                if p.is_file() and not p.name.endswith(SUMMARY_SUFFIX) and not p.name.startswith("."))
            found = [p for p in candidates if p.suffix.lower() in VIDEO_EXTENSIONS or _opens_as_video(p)]
            if not found:
                problems.append(f"{path}: folder holds no video files")
            videos.extend(found)
        elif path.exists():
            videos.append(path)
        else:
            problems.append(f"{path}: no such file or folder")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return videos, problems


def _opens_as_video(path: Path) -> bool:
    if path.suffix.lower() in {".json", ".png", ".txt", ".jpg", ".jpeg", ".md", ".h5", ".pt"}:
        return False
    try:
        probe(path)
        return True
    except FrameTooLarge:
        return True                 # a video all the same: refused by name when it is summarised
    except VideoError:
        return False


def plan_outputs(video: Path, out_dir: Path, inputs: set[Path], claimed: dict[Path, Path]) -> dict[str, Path]:
    """The output paths of ``video``; refuses any that is an input, another video's output, or a file this tool
    did not write (an earlier summary's files are vouched for by its ``NAME.json``)."""
    outputs = {
        "video": out_dir / f"{video.stem}{SUMMARY_SUFFIX}",
        "json": out_dir / f"{video.stem}.json",
        "plot": out_dir / f"{video.stem}.png",
        "page": out_dir / f"{video.stem}.html",
    }
    for target in outputs.values():
        resolved = target.resolve()
        if resolved in inputs:
            raise OutputConflict(f"{video}: refusing to write {target}: that is an input file")
        if resolved in claimed and claimed[resolved] != video:
            raise OutputConflict(f"{video}: its output {target} would overwrite that of {claimed[resolved]} "
                                 f"(same name); summarise them into different --out folders")
    vouched = read_summary_record(outputs["json"]) is not None      # an earlier summary of this video
    for kind, target in outputs.items():
        if target.exists() and not ((vouched and kind != "page") or _written_here(kind, target)):
            raise OutputConflict(f"{video}: {target} exists and was not written by summarize.py; it is left as "
                                 f"it is; choose another --out")
    for target in outputs.values():
        claimed[target.resolve()] = video
    return outputs


def _written_here(kind: str, target: Path) -> bool:
    """Whether an existing output file carries this tool's mark (a run killed before its JSON leaves such files)."""
    if kind == "json":
        return read_summary_record(target) is not None
    if kind == "page":
        return page_written_by(target, "summarize.py")
    try:
        if kind == "plot":
            return png_text(target, "Software") == OUTPUT_MARK
        with av.open(str(target)) as container:
            return container.metadata.get("comment") == OUTPUT_MARK
    except Exception:                               # noqa: BLE001: anything unreadable is not this tool's
        return False


def write_outputs(summary: VideoSummary, outputs: dict[str, Path], settings: dict, times: StageTimes,
                  progress: bool, page: bool = True) -> str:
    """Write the summary video (when any shot fits the budget), the plot, the page and the JSON; describe them.

    The JSON comes last, so that it describes files that are all there. When no shot fits, a summary
    video left in the folder by an earlier run is removed first: the JSON then says there is none; so is
    an earlier page when ``page`` is false (``--no-html``).
    """
    name = summary.info.path.name
    kept = int(summary.keep.sum())
    video_target = outputs["video"] if kept else None
    written = None
    if video_target is not None:
        with tqdm(total=summary.n_frames, unit="frame", desc=f"{name}: writing summary",
                  disable=not progress, leave=False) as bar:
            with times.measure("encode", summary.n_frames):
                written = write_summary(summary.info, video_target, summary.segments(), on_frame=bar.update)
    else:
        outputs["video"].unlink(missing_ok=True)
    seconds = sum(end - start for start, end in (summary.shot_span(i) for i in summary.selected))
    importance_figure(outputs["plot"], f"{name}: {len(summary.shots)} shots, "
                      f"{len(summary.selected)} selected ({seconds:.1f} of {summary.duration:.1f} s)",
                      summary.sample_times, summary.step_scores,
                      [summary.shot_span(i) for i in range(len(summary.shots))], summary.selected,
                      summary.duration)
    record = summary_record(summary, settings, video_target, written)
    if page:
        write_summary_page(record, outputs["page"], summary.info.path)
    else:
        outputs["page"].unlink(missing_ok=True)
    write_json_atomically(outputs["json"], record)
    names = [p.name for p in (video_target, outputs["json"], outputs["plot"], outputs["page"] if page else None)
             if p is not None]
    line = (f"{name}: {summary.n_frames} frames, {len(summary.shots)} shots, {len(summary.selected)} "
            f"selected ({seconds:.1f} s) -> {', '.join(names)}")
    if written is not None and (written.width, written.height) != even_size(summary.info.width,
                                                                            summary.info.height):
        line += f" at {written.width}×{written.height}"
    for problem in warnings_of(summary, written):
        line += f"\n  warning: {summary.info.path}: {problem}; summarised what decodes"
    if not kept:
        line += (f"\n  note: no shot fits in {summary.ratio:.0%} of the video ({summary.budget} frames; "
                 f"shortest shot {int(shot_lengths(summary.shots).min())} frames), "
                 f"so there is no summary video; try a larger --ratio or --vmax below 1")
    return line


def _write_index(out_dir: Path, claimed: dict[Path, Path]) -> bool:
    """``out_dir/index.html``, listing every summary page there, unless a video's own page has that name;
    False when it cannot be written."""
    index = (out_dir / "index.html").resolve()
    if index in claimed:
        tqdm.write(f"note: no {out_dir / 'index.html'}: that is the page of {claimed[index]}")
        return True
    if index.exists() and not page_written_by(index, "summarize.py"):
        tqdm.write(f"note: no index of the summaries: {out_dir / 'index.html'} was not written by summarize.py; "
                   f"it is left as it is")
        return True
    try:
        tqdm.write(f"index of the summaries: {write_index(out_dir)}")
    except OSError as error:
        tqdm.write(f"error: {describe_write_error(error)}", file=sys.stderr)
        return False
    return True
