"""inference.py's ``report.html``: its tables and the training curves, one self-contained page beside the JSON.

The page holds every table inference.py prints (per dataset: the final means next to uniform random
scores, each split's means, each split's videos) and, inside it as ``data:`` URLs, the pictures
train.py wrote: each checkpoint's own curves (``curves`` in a split's results, found by
``training.curves.checkpoint_picture``) and ``{dataset}_runs.png`` from the results folder. The page is
one file that can be opened, moved or shared alone. No network, no scripts.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any, Mapping

from evaluation.protocols import get_protocol
from storage.files import file_url, generator_meta

from .curves import runs_picture_path

_STYLE = """
:root { color-scheme: light; --ink: #1d2330; --muted: #5b6475; --line: #d8dce5; --bg: #f6f7f9; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       background: var(--bg); }
main { max-width: 1120px; margin: 0 auto; padding: 18px 20px 40px; }
h1 { font-size: 1.4rem; margin: 0 0 4px; }
h2 { font-size: 1.15rem; margin: 30px 0 8px; border-bottom: 2px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 1rem; margin: 18px 0 6px; }
.facts, .note { color: var(--muted); }
.note { font-size: .88rem; }
table { border-collapse: collapse; background: #fff; border: 1px solid var(--line); margin: 6px 0 10px; }
caption { text-align: left; font-weight: 600; padding: 0 0 4px; color: var(--ink); }
th, td { border-bottom: 1px solid var(--line); padding: 5px 12px; }
th { font-size: .85rem; color: var(--muted); font-weight: 600; text-align: right; background: #fafbfc; }
th:first-child, td:first-child { text-align: left; }
td { text-align: right; font-variant-numeric: tabular-nums; }
tr.final td { font-weight: 700; }
tr.random td { color: var(--muted); font-style: italic; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 560px), 1fr)); gap: 12px; }
figure { margin: 0; background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 8px; }
figure img { display: block; width: 100%; max-width: 920px; height: auto; margin: 0 auto; }
figcaption { font-size: .85rem; color: var(--muted); padding-top: 4px; }
details { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 6px 10px; margin: 6px 0; }
summary { cursor: pointer; font-weight: 600; }
summary:focus-visible, a:focus-visible { outline: 3px solid #1f6fb4; outline-offset: 2px; }
code { font-size: .9em; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _header(protocol, column: str) -> str:
    return "F1 (%)" if column == "f1" else protocol.metric(column).header


def _table(caption: str, headers, rows, classes=()) -> str:
    head = "".join(f"<th scope=\"col\">{_e(h)}</th>" for h in headers)
    body = []
    for index, row in enumerate(rows):
        css = f' class="{classes[index]}"' if index < len(classes) and classes[index] else ""
        body.append(f"<tr{css}>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>")
    return (f"<table><caption>{_e(caption)}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def _figure(target: Path, caption: str) -> str:
    """The picture inside the page (a ``data:`` URL): the page stays true when the PNG is later replaced, and
    opens the same from anywhere it is copied."""
    try:
        data = base64.b64encode(target.read_bytes()).decode("ascii")
    except OSError as error:
        return f'<p class="note">{_e(caption)}: <code>{_e(target)}</code> cannot be read ({_e(error.strerror)}).</p>'
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{_e(caption)}">'
            f"<figcaption>{_e(caption)} (<code>{_e(target)}</code>)</figcaption></figure>")


def results_page(results: Mapping[str, Mapping[str, Any]], results_dir: Path | str,
                 config: Mapping[str, Any] | None = None, json_name: str | None = None) -> str:
    """The HTML of the report on ``results`` (inference.py's per-dataset results); the ``--runs`` figure is
    looked for in ``results_dir``."""
    results_dir = Path(results_dir)
    config = dict(config or {})
    sections = []
    for name, result in results.items():
        protocol = get_protocol(result["protocol"])
        columns = list(protocol.reported)
        metrics = list(protocol.metrics)
        splits = {int(k): v for k, v in result["splits"].items()}
        parts = [f'<h2 id="{_e(name)}">{_e(name)}</h2>',
                 f'<p class="facts">protocol {_e(protocol.name)}; F1 is {_e(protocol.f1_meaning)}; '
                 f'<code>{_e(result.get("h5", ""))}</code></p>']
        final_rows = [(f"mean over split{'s' if len(splits) > 1 else ''} {', '.join(map(str, sorted(splits)))}",
                       *(protocol.metric(c).format(result["final"][c]) for c in columns)),
                      ("uniform random scores (mean of 20 draws)",
                       *(protocol.metric(c).format(result["random_scores"][c]) for c in columns))]
        parts.append(_table("Final", ["", *(_header(protocol, c) for c in columns)], final_rows,
                            ("final", "random")))
        split_rows = [(f"split {k}", s.get("selected_epoch") or "", s.get("selected_on", ""),
                       *(protocol.metric(c).format(s["mean"][c]) for c in metrics), len(s["videos"]))
                      for k, s in sorted(splits.items())]
        parts.append(_table("Per split (means over its test videos)",
                            ["", "kept epoch", "chosen on", *(protocol.headers[c] for c in metrics), "videos"],
                            split_rows))
        figures = []
        runs = runs_picture_path(results_dir, name)
        if runs.is_file():
            figures.append(_figure(runs, f"{name}: the splits over the runs"))
        missing = []
        for k, split in sorted(splits.items()):
            if split.get("curves"):
                figures.append(_figure(Path(split["curves"]), f"{name} split {k}: training curves on the selection "
                                                              f"videos"))
            else:
                missing.append(f"split {k}: {split.get('no_curves') or 'no picture'}")
        if figures:
            parts.append('<h3>Training curves</h3><div class="figures">' + "".join(figures) + "</div>")
        if missing:
            parts.append('<p class="note">No training curves for ' + "; ".join(_e(m) for m in missing) + ".</p>")
        for k, split in sorted(splits.items()):
            rows = [(key, *(protocol.metric(c).format(v[c]) for c in metrics), v.get("summary_frames", ""))
                    for key, v in split["videos"].items()]
            rows.append(("mean", *(protocol.metric(c).format(split["mean"][c]) for c in metrics), ""))
            parts.append(f"<details><summary>{_e(name)} split {k}: {len(split['videos'])} test videos "
                         f"(<code>{_e(split.get('weights', ''))}</code>)</summary>"
                         + _table(f"{name} split {k}", ["video", *(protocol.headers[c] for c in metrics),
                                                         "summary frames"], rows, [""] * (len(rows) - 1) + ["final"])
                         + "</details>")
        sections.append("\n".join(parts))
    contents = " · ".join(f'<a href="#{_e(n)}">{_e(n)}</a>' for n in results)
    settings = ", ".join(f"{k} {_e(config[k])}" for k in ("model_name", "seed", "device") if k in config)
    source = f' The numbers are in <a href="{_e(file_url(json_name))}">{_e(json_name)}</a>.' if json_name else ""
    body = (f"<h1>CSTA results</h1>\n<p class=\"facts\">{contents}{'; ' + settings if settings else ''}; "
            f"checkpoints from <code>{_e(config.get('weights_dir', ''))}</code>.{source}</p>\n" + "\n".join(sections))
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src \'self\' file: data:; '
            f'style-src \'unsafe-inline\'">\n{generator_meta("inference.py")}\n<link rel="icon" href="data:,">\n'
            f'<title>CSTA results</title>\n'
            f"<style>{_STYLE}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n")

