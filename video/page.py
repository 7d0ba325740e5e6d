"""summarize.py's pages: ``NAME.html`` for one summarised video, ``index.html`` for a folder of them.

A page is one self-contained file (inline CSS, JavaScript and SVG; nothing is fetched from a network):
an HTML5 player for the source video (referenced by its path relative to the page), the importance
curve over time with the shots drawn and the selected ones marked, the current position drawn on the
curve while the video plays, one button per shot (``data-shot``, ``data-start``, ``data-end`` in
seconds) that seeks the player, and a checkbox that plays only the selected shots (from the end of
one selected shot to the start of the next). Everything is usable with the keyboard: the shots are
buttons (Tab, then Enter or Space), the toggle is a checkbox. The page is built from the JSON record
(``video.report.summary_record``), so what it shows is what the JSON says.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

from storage.files import file_url, generator_meta, read_input_text, relative_url, write_atomically

#: The curve's drawing area, in SVG user units (the SVG scales to the page's width).
WIDTH, HEIGHT = 1000, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 24, 12, 30


def clock(seconds: float, digits: int = 1) -> str:
    """``m:ss.s`` (``h:mm:ss.s`` from an hour on), with ``digits`` decimals."""
    seconds = max(0.0, float(seconds))
    minutes, rest = divmod(seconds, 60.0)
    hours, minutes = divmod(int(minutes), 60)
    rest = min(rest, 60.0 - 10.0 ** -digits)                 # never shown as :60.0
    second = f"{rest:0{3 + digits}.{digits}f}"
    return f"{minutes:d}:{second}" if not hours else f"{hours:d}:{minutes:02d}:{second}"


def score_ceiling(scores: Sequence[float]) -> float:
    """The top of a score axis: the highest score rounded up to a round number (1 when there is none)."""
    top = max((float(s) for s in scores), default=0.0)
    if not top > 0:
        return 1.0
    step = _ticks(top, 4)[1]
    return math.ceil(top / step - 1e-9) * step


def _e(value: Any) -> str:
    """Escaped for HTML; bytes of a file name that are not UTF-8 are shown as U+FFFD."""
    text = str(value).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return html.escape(text, quote=True)


def _number(value: float) -> str:
    """A short SVG coordinate."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _ticks(limit: float, count: int = 8) -> list[float]:
    """Round tick positions from 0 to ``limit``."""
    if limit <= 0:
        return [0.0]
    raw = limit / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return [i * step for i in range(int(limit / step + 1e-9) + 1)]


def curve_svg(times: Sequence[float], scores: Sequence[float], shots: Sequence[Mapping[str, Any]],
              duration: float) -> str:
    """The importance curve (each step's score held until the next step), the shots as alternating bands
    with boundaries, the selected shots shaded, time and score axes, and the playhead (``#playhead``)."""
    duration = max(float(duration), 1e-6)
    top_score = score_ceiling(scores)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: float) -> float:
        return LEFT + plot_w * min(max(t, 0.0), duration) / duration

    def y(score: float) -> float:
        return TOP + plot_h * (1 - float(score) / top_score)

    parts = [f'<svg id="curve" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-label="importance score over time; shaded bands are the selected shots">']
    for shot in shots:
        x0, x1 = x(shot["start_s"]), x(shot["end_s"])
        kind = "band sel" if shot["selected"] else ("band odd" if shot["index"] % 2 else "band even")
        parts.append(f'<rect class="{kind}" data-band="{shot["index"]}" x="{_number(x0)}" y="{TOP}" '
                     f'width="{_number(max(x1 - x0, 0.5))}" height="{plot_h}"><title>shot {shot["index"]}: '
                     f'{clock(shot["start_s"], 2)}–{clock(shot["end_s"], 2)}, score {float(shot["score"]):.3f}'
                     f'{", selected" if shot["selected"] else ""}</title></rect>')
    for shot in shots[1:]:
        parts.append(f'<line class="cut" x1="{_number(x(shot["start_s"]))}" x2="{_number(x(shot["start_s"]))}" '
                     f'y1="{TOP}" y2="{TOP + plot_h}"/>')
    for value in _ticks(top_score, 4):
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{_number(y(value))}" '
                     f'y2="{_number(y(value))}"/><text class="tick" x="{LEFT - 6}" y="{_number(y(value) + 4)}" '
                     f'text-anchor="end">{value:g}</text>')
    for value in _ticks(duration):
        parts.append(f'<line class="axis" x1="{_number(x(value))}" x2="{_number(x(value))}" y1="{TOP + plot_h}" '
                     f'y2="{TOP + plot_h + 4}"/><text class="tick" x="{_number(x(value))}" '
                     f'y="{TOP + plot_h + 17}" text-anchor="middle">{_e(clock(value).removesuffix(".0"))}</text>')
    if len(times):
        edges = [*map(float, times), duration]
        path = [f"M{_number(x(edges[0]))},{_number(y(scores[0]))}"]
        for index, score in enumerate(scores):
            path.append(f"H{_number(x(edges[index + 1]))}")
            if index + 1 < len(scores):
                path.append(f"V{_number(y(scores[index + 1]))}")
        parts.append(f'<path class="scores" d="{"".join(path)}"/>')
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}"/>')
    parts.append(f'<line id="playhead" x1="{LEFT}" x2="{LEFT}" y1="{TOP - 4}" y2="{TOP + plot_h}"/>')
    parts.append("</svg>")
    return "\n".join(parts)


def _shot_button(shot: Mapping[str, Any], top_score: float) -> str:
    selected = bool(shot["selected"])
    width = 100 * max(0.0, float(shot["score"])) / top_score
    label = (f'shot {shot["index"]}, {clock(shot["start_s"], 2)} to {clock(shot["end_s"], 2)}, score '
             f'{float(shot["score"]):.3f}{", selected" if selected else ""}: play from its start')
    return (f'<button type="button" class="shot{" selected" if selected else ""}" data-shot="{shot["index"]}" '
            f'data-start="{float(shot["start_s"]):.6f}" data-end="{float(shot["end_s"]):.6f}" '
            f'aria-label="{_e(label)}">'
            f'<span class="row"><span class="num">#{shot["index"]}</span>'
            f'<span class="when">{_e(clock(shot["start_s"], 2))}–{_e(clock(shot["end_s"], 2))}</span>'
            f'{"<span class=badge>in summary</span>" if selected else ""}</span>'
            f'<span class="row"><span class="meter" aria-hidden="true"><span style="width:{width:.1f}%"></span></span>'
            f'<span class="score">{float(shot["score"]):.3f}</span></span></button>')


_STYLE = """
:root { color-scheme: light; --ink: #1d2330; --muted: #5b6475; --line: #d8dce5; --accent: #1f6fb4;
        --sel: #f08c00; --sel-soft: rgba(240, 140, 0, .28); --bg: #f6f7f9; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       background: var(--bg); }
main { max-width: 1080px; margin: 0 auto; padding: 18px 20px 40px; }
h1 { font-size: 1.35rem; margin: 0 0 4px; overflow-wrap: anywhere; }
h2 { font-size: 1.02rem; margin: 22px 0 8px; }
.facts { color: var(--muted); margin: 0 0 12px; }
.facts b { color: var(--ink); font-weight: 600; }
.warning { background: #fff4e0; border: 1px solid #f0c36d; padding: 8px 12px; border-radius: 6px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px; }
video { display: block; width: 100%; max-height: 46vh; background: #000; border-radius: 4px; }
.controls { display: flex; flex-wrap: wrap; gap: 10px 22px; align-items: center; margin: 10px 2px 0; }
.controls label { display: inline-flex; gap: 8px; align-items: center; cursor: pointer; font-weight: 600; }
.controls input { width: 18px; height: 18px; accent-color: var(--sel); }
.controls label:has(input:disabled) { opacity: .55; cursor: default; }
#position { font-variant-numeric: tabular-nums; color: var(--muted); }
#curve { display: block; width: 100%; height: auto; cursor: crosshair; }
#curve .band.even { fill: #f4f5f8; } #curve .band.odd { fill: #e9ecf2; }
#curve .band.sel { fill: var(--sel-soft); }
#curve .band.current { stroke: var(--ink); stroke-width: 1.5; }
#curve .cut { stroke: #aab1bf; stroke-width: 1; }
#curve .grid { stroke: #e1e4ea; stroke-width: 1; }
#curve .axis { stroke: #7c8596; stroke-width: 1; }
#curve .tick { font-size: 13px; fill: var(--muted); }
#curve .scores { fill: none; stroke: var(--accent); stroke-width: 2; vector-effect: non-scaling-stroke; }
#playhead { stroke: #d11a2a; stroke-width: 2; vector-effect: non-scaling-stroke; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 18px; color: var(--muted); font-size: .88rem; margin: 6px 2px 0; }
.legend span { white-space: nowrap; }
.legend i { display: inline-block; width: 14px; height: 10px; margin-right: 6px; vertical-align: -1px; }
.shots { display: grid; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); gap: 8px; }
.shot { display: flex; flex-direction: column; gap: 5px; text-align: left; font: inherit; font-size: .9rem;
        color: var(--ink); background: #fff; border: 1px solid var(--line); border-left: 5px solid #c3c8d2;
        border-radius: 6px; padding: 6px 9px; cursor: pointer; }
.shot .row { display: flex; flex-wrap: wrap; gap: 4px 8px; align-items: center; width: 100%; }
.shot:hover { border-color: var(--accent); }
.shot:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.shot.selected { border-left-color: var(--sel); background: #fff8ee; }
.shot.current { box-shadow: 0 0 0 2px var(--ink) inset; }
.shot .num { font-weight: 700; }
.shot .when { font-variant-numeric: tabular-nums; color: var(--muted); white-space: nowrap; }
.shot .score { font-variant-numeric: tabular-nums; }
.shot .meter { flex: 1; height: 5px; background: #eceef2; border-radius: 3px; overflow: hidden; }
.shot .meter span { display: block; height: 100%; background: var(--accent); }
.shot .badge { margin-left: auto; font-size: .72rem; font-weight: 700; white-space: nowrap; color: #8a4b00;
               background: #ffe2b8; border-radius: 9px; padding: 0 7px; }
.files a { margin-right: 14px; }
.note { color: var(--muted); font-size: .88rem; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { border-bottom: 1px solid var(--line); padding: 6px 10px; text-align: left; vertical-align: middle; }
th { font-size: .85rem; color: var(--muted); font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
td img { display: block; width: 320px; max-width: 40vw; height: auto; border: 1px solid var(--line); }
"""

_SCRIPT = """
(function () {
  "use strict";
  var EPS = 0.005;
  var video = document.getElementById("player");
  var toggle = document.getElementById("only-selected");
  var playhead = document.getElementById("playhead");
  var svg = document.getElementById("curve");
  var position = document.getElementById("position");
  var layout = JSON.parse(document.getElementById("layout").textContent);
  var buttons = Array.prototype.slice.call(document.querySelectorAll("[data-shot]"));
  var shots = buttons.map(function (button) {
    return { start: parseFloat(button.dataset.start), end: parseFloat(button.dataset.end),
             selected: button.classList.contains("selected"), button: button,
             band: svg.querySelector('[data-band="' + button.dataset.shot + '"]') };
  });
  var chosen = shots.filter(function (shot) { return shot.selected; });
  var current = null;

  function clock(t) {
    var m = Math.floor(t / 60), s = t - 60 * m;
    return m + ":" + (s < 10 ? "0" : "") + s.toFixed(1);
  }
  function shotAt(t) {
    for (var i = 0; i < shots.length; i++) {
      if (t >= shots[i].start - EPS && t < shots[i].end - EPS) { return shots[i]; }
    }
    return shots.length && t >= shots[shots.length - 1].start ? shots[shots.length - 1] : null;
  }
  function draw() {
    var t = video.currentTime || 0;
    var x = layout.left + layout.width * Math.min(Math.max(t / layout.duration, 0), 1);
    playhead.setAttribute("x1", x);
    playhead.setAttribute("x2", x);
    position.textContent = clock(t) + " / " + clock(layout.duration);
    var shot = shotAt(t);
    if (shot !== current) {
      if (current) { current.button.classList.remove("current"); current.button.removeAttribute("aria-current");
                     if (current.band) { current.band.classList.remove("current"); } }
      if (shot) { shot.button.classList.add("current"); shot.button.setAttribute("aria-current", "true");
                  if (shot.band) { shot.band.classList.add("current"); } }
      current = shot;
    }
  }
  function seek(t) {
    video.currentTime = t;
    draw();
  }
  // With the toggle on: outside a selected shot, go to the start of the next one (the end of the last
  // one pauses and goes back to the first).
  function keepToSelected() {
    if (!toggle.checked || !chosen.length) { return; }
    var t = video.currentTime;
    for (var i = 0; i < chosen.length; i++) {
      if (t >= chosen[i].start - EPS && t < chosen[i].end - EPS) { return; }
      if (chosen[i].start > t) { seek(chosen[i].start); return; }
    }
    if (!video.paused) { video.pause(); }
    seek(chosen[0].start);
  }
  function tick() {
    keepToSelected();
    draw();
    if (!video.paused && !video.ended) { window.requestAnimationFrame(tick); }
  }
  buttons.forEach(function (button, index) {
    button.addEventListener("click", function () { seek(shots[index].start); });
  });
  svg.addEventListener("click", function (event) {
    var box = svg.getBoundingClientRect();
    var x = (event.clientX - box.left) * layout.total / box.width;
    seek(Math.min(Math.max((x - layout.left) / layout.width, 0), 1) * layout.duration);
  });
  toggle.addEventListener("change", function () { if (toggle.checked) { keepToSelected(); } draw(); });
  video.addEventListener("play", function () { keepToSelected(); window.requestAnimationFrame(tick); });
  ["timeupdate", "seeked", "loadedmetadata", "pause"].forEach(function (name) {
    video.addEventListener(name, function () { if (name === "timeupdate") { keepToSelected(); } draw(); });
  });
  video.addEventListener("error", function () {
    document.getElementById("video-error").hidden = false;
  });
  if (!chosen.length) { toggle.disabled = true; }
  draw();
  window.cstaPage = { shots: shots, chosen: chosen, seek: seek, keepToSelected: keepToSelected };
})();
"""


def _page(title: str, body: str, script: str = "") -> str:
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src \'self\' file: data:; '
            f'media-src \'self\' file:; style-src \'unsafe-inline\'; script-src \'unsafe-inline\'">\n'
            f'{generator_meta("summarize.py")}\n<link rel="icon" href="data:,">\n<title>{_e(title)}</title>\n<style>{_STYLE}</style>\n</head>\n'
            f'<body>\n<main>\n{body}\n</main>\n{f"<script>{script}</script>" if script else ""}\n</body>\n</html>\n')


def _json_for_script(value: Any) -> str:
    return json.dumps(value).replace("</", "<\\/")


def summary_page(record: Mapping[str, Any], page: Path | str, source: Path | str | None = None) -> str:
    """The HTML of one summarised video's page, written at ``page`` (links are relative to its folder).

    ``record``: the video's JSON record (``video.report.summary_record``); ``source``: the source video
    (default: the record's ``input``), which the player plays.
    """
    page = Path(page)
    source = Path(source if source is not None else record["input"])
    name = source.name
    shots = record["shots"]
    duration = float(record["duration_s"])
    times, scores = record["steps"]["times_s"], record["steps"]["scores"]
    summary = record["summary"]
    selected = [s for s in shots if s["selected"]]
    top_score = score_ceiling([s["score"] for s in shots])
    settings = record.get("settings", {})
    rate = f", {float(record['fps']):.3g} fps" if record.get("fps") else ""
    facts = [f"<b>{clock(duration)}</b> ({duration:.1f} s, {record['frames']} frames{rate}, "
             f"{record['width']}×{record['height']})",
             f"<b>{len(shots)}</b> shots, <b>{len(selected)}</b> selected",
             f"summary <b>{float(summary['duration_s']):.1f} s</b> ({summary['frames']} of at most "
             f"{summary['budget_frames']} frames)"]
    notes = []
    if record.get("warning"):
        notes.append(f'<p class="warning" role="status">Not everything decoded: {_e(record["warning"])}. '
                     f'The summary covers what did.</p>')
    if settings.get("pretrained_features") is False:
        notes.append('<p class="warning" role="status">Made with <code>--no-pretrained</code>: random GoogLeNet '
                     'features, so the shots and scores are meaningless.</p>')
    files = []
    if summary.get("video"):
        files.append(f'<a href="{_e(file_url(summary["video"]))}">summary video ({_e(summary["video"])})</a>')
    stem = page.stem
    files.append(f'<a href="{_e(file_url(stem + ".json"))}">shots and scores ({_e(stem)}.json)</a>')
    files.append(f'<a href="{_e(file_url(stem + ".png"))}">plot ({_e(stem)}.png)</a>')
    toggle_state, toggle_note = ("", "") if selected else (" disabled", " (no shot is selected)")
    fallback = ""
    if summary.get("video"):
        fallback = f', and <a href="{_e(file_url(summary["video"]))}">the summary video</a> (H.264) may play'
    layout = {"left": LEFT, "width": WIDTH - LEFT - RIGHT, "total": WIDTH, "duration": max(duration, 1e-6)}
    body = f"""
<h1>{_e(name)}</h1>
<p class="facts">{" · ".join(facts)}</p>
{"".join(notes)}
<section class="card" aria-label="player">
<video id="player" controls preload="metadata" src="{_e(relative_url(source, page))}"></video>
<p id="video-error" class="warning" hidden>This browser cannot play {_e(name)}; the shots and the curve below
still describe it{fallback}.</p>
<div class="controls">
<label><input type="checkbox" id="only-selected"{toggle_state}> Play only the selected shots{toggle_note}</label>
<span id="position" aria-live="off"></span>
</div>
</section>
<h2>Importance over time</h2>
<section class="card">
{curve_svg(times, scores, shots, duration)}
<div class="legend" aria-hidden="true"><span><i style="background:#1f6fb4;height:3px"></i>importance score</span>
<span><i style="background:rgba(240,140,0,.45)"></i>selected shot</span>
<span><i style="background:#e9ecf2;border:1px solid #aab1bf"></i>shot</span>
<span><i style="background:#d11a2a;width:3px"></i>playing position</span></div>
</section>
<h2>Shots <span class="note">— press one (or Tab to it, then Enter) to play from its start</span></h2>
<div class="shots">
{chr(10).join(_shot_button(shot, top_score) for shot in shots)}
</div>
<p class="files note">{" ".join(files)}</p>
<p class="note">CSTA scores with {_e(Path(str(settings.get("weights", "?"))).name)}; summary ratio
{_e(settings.get("ratio", "?"))}. Times are the frames' own timestamps.</p>
<script type="application/json" id="layout">{_json_for_script(layout)}</script>
"""
    return _page(f"{name} — CSTA summary", body, _SCRIPT)


def write_summary_page(record: Mapping[str, Any], page: Path | str, source: Path | str | None = None) -> None:
    """Write :func:`summary_page` to ``page`` (a temporary, then renamed)."""
    text = summary_page(record, page, source)
    write_atomically(Path(page), lambda file: file.write(text), mode="w")


def index_page(entries: Sequence[tuple[str, Mapping[str, Any]]], title: str = "CSTA summaries") -> str:
    """The HTML of a folder's index: one row per ``(page name, record)``, with its plot when there is one."""
    rows = []
    for page_name, record in entries:
        stem = Path(page_name).stem
        shots = record.get("shots", [])
        summary = record.get("summary", {})
        length = f'{float(summary.get("duration_s", 0)):.1f} s' if summary.get("frames") else "none"
        rows.append(
            f'<tr><td><a href="{_e(file_url(page_name))}">{_e(Path(str(record.get("input", stem))).name)}</a>'
            f'{" <span class=note>(not everything decoded)</span>" if record.get("warning") else ""}</td>'
            f'<td class="n">{_e(clock(float(record.get("duration_s", 0))))}</td>'
            f'<td class="n">{len(shots)}</td><td class="n">{sum(1 for s in shots if s.get("selected"))}</td>'
            f'<td class="n">{length}</td>'
            f'<td><a href="{_e(file_url(page_name))}" tabindex="-1" aria-hidden="true">'
            f'<img src="{_e(file_url(stem + ".png"))}" alt="importance curve of {_e(stem)}" loading="lazy"></a></td></tr>')
    body = f"""
<h1>{_e(title)}</h1>
<p class="facts">{len(entries)} summarised video{"" if len(entries) == 1 else "s"}; open one to play it with its
shots and importance curve.</p>
<table>
<thead><tr><th scope="col">video</th><th scope="col" class="n">length</th><th scope="col" class="n">shots</th>
<th scope="col" class="n">selected</th><th scope="col" class="n">summary</th><th scope="col">importance</th></tr></thead>
<tbody>
{chr(10).join(rows) if rows else '<tr><td colspan="6">no summaries</td></tr>'}
</tbody>
</table>
"""
    return _page(title, body)


def read_summary_record(path: Path | str) -> dict | None:
    """The record summarize.py wrote at ``path`` (``NAME.json``), or None when it is missing, does not parse or
    is not a summary."""
    try:
        record = json.loads(read_input_text(path, "summary record"))
    except (ValueError, RecursionError):                     # InputFileError included: not a summary
        return None
    if isinstance(record, dict) and isinstance(record.get("shots"), list) and "summary" in record:
        return record
    return None


def folder_entries(folder: Path | str) -> list[tuple[str, dict]]:
    """Every summary in ``folder`` with a page: ``(NAME.html, the record of NAME.json)``, by name; JSON files
    that are not summaries (or do not parse) are left out."""
    entries = []
    for page in sorted(Path(folder).glob("*.html")):
        if page.name == "index.html":
            continue
        record = read_summary_record(page.with_suffix(".json"))
        if record is not None:
            entries.append((page.name, record))
    return entries


def write_index(folder: Path | str) -> Path:
    """Write ``folder/index.html`` listing every summary page in ``folder``; its path."""
    target = Path(folder) / "index.html"
    text = index_page(folder_entries(folder))
    write_atomically(target, lambda file: file.write(text), mode="w")
    return target
