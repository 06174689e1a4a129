#!/usr/bin/env python3
"""Draws the book's diagrams as SVG files under book/src/images/.

Run it from anywhere (`python3 book/tools/diagrams.py`) after changing a drawing; the
SVG files it writes are committed next to the chapters that show them. Only the
standard library is used.
"""

from pathlib import Path
from xml.sax.saxutils import escape

IMAGES = Path(__file__).resolve().parent.parent / "src" / "images"

FONT = "font-family=\"-apple-system, 'Segoe UI', Helvetica, Arial, sans-serif\""
MONO = "font-family=\"'SFMono-Regular', Menlo, Consolas, monospace\""

# A small, calm palette.
INK = "#1f2933"
MUTED = "#52606d"
RUNTIME_FILL = "#f5f7fa"
RUNTIME_LINE = "#9aa5b1"
WORKER_FILL = "#e4e7eb"
TASK_FILL = "#e3f2fd"
TASK_LINE = "#1e88e5"
MAIL_FILL = "#fff8e1"
MAIL_LINE = "#f9a825"
MONITOR_LINE = "#d81b60"
SUPERVISOR_FILL = "#e8f5e9"
SUPERVISOR_LINE = "#43a047"


class Svg:
    """Collects SVG elements and writes them out."""

    def __init__(self, width, height):
        self.width, self.height = width, height
        self.items = []

    def rect(self, x, y, w, h, fill, stroke, rx=8, dash=None, width=1.5):
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        self.items.append(
            f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="{rx}" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="{width}"{dashes}/>'
        )

    def text(self, x, y, s, size=13, anchor="middle", weight="normal", color=INK, mono=False):
        family = MONO if mono else FONT
        self.items.append(
            f'<text x="{x}" y="{y}" {family} font-size="{size}" text-anchor="{anchor}" '
            f'font-weight="{weight}" fill="{color}">{escape(s)}</text>'
        )

    def line(self, x1, y1, x2, y2, color, dash=None, arrow=None, width=1.6):
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        head = f' marker-end="url(#{arrow})"' if arrow else ""
        self.items.append(
            f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="{color}" '
            f'stroke-width="{width}"{dashes}{head}/>'
        )

    def path(self, d, color, dash=None, arrow=None, width=1.6):
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        head = f' marker-end="url(#{arrow})"' if arrow else ""
        self.items.append(
            f'<path d="{d}" fill="none" stroke="{color}" stroke-width="{width}"{dashes}{head}/>'
        )

    def write(self, name):
        markers = "".join(
            f'<marker id="{mid}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
            f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
            f'fill="{color}"/></marker>'
            for mid, color in [
                ("arrow-ink", INK),
                ("arrow-task", TASK_LINE),
                ("arrow-monitor", MONITOR_LINE),
                ("arrow-sup", SUPERVISOR_LINE),
            ]
        )
        body = "\n  ".join(self.items)
        svg = (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.width} {self.height}" '
            f'width="{self.width}" height="{self.height}" role="img">\n'
            f"  <defs>{markers}</defs>\n"
            f'  <rect width="100%" height="100%" fill="white"/>\n'
            f"  {body}\n</svg>\n"
        )
        IMAGES.mkdir(parents=True, exist_ok=True)
        (IMAGES / name).write_text(svg)
        print(f"wrote {IMAGES / name}")


def task(svg, x, y, name, queued=3, w=150):
    """A task: a box with its name, and its mailbox (a queue of messages) on the left.

    Returns the point where messages enter the mailbox."""
    svg.rect(x, y, w, 46, TASK_FILL, TASK_LINE)
    svg.text(x + w / 2 + 14, y + 20, name, size=13, weight="bold", mono=True)
    svg.text(x + w / 2 + 14, y + 37, "task", size=11, color=MUTED)
    # The mailbox: a strip of message slots inside the box's left edge.
    mx, my = x + 8, y + 13
    for i in range(3):
        filled = i >= 3 - queued
        svg.rect(mx + i * 13, my, 11, 20, MAIL_FILL if filled else "white", MAIL_LINE, rx=2, width=1.2)
    return (x, y + 23)


def architecture():
    svg = Svg(960, 600)
    # The runtime.
    svg.rect(20, 20, 920, 560, RUNTIME_FILL, RUNTIME_LINE, rx=14)
    svg.text(40, 48, "Runtime (one per program, or several: one per node)", size=15,
             anchor="start", weight="bold")
    svg.text(40, 68, "its own tasks, names and clock", size=12, anchor="start", color=MUTED)

    # The scheduler band: worker threads and the reactor.
    svg.rect(40, 86, 880, 92, "white", RUNTIME_LINE, rx=10)
    svg.text(60, 108, "Scheduler", size=13, anchor="start", weight="bold")
    for i, label in enumerate(["worker 0", "worker 1", "…", "worker N-1"]):
        x = 60 + i * 150
        if label == "…":
            svg.text(x + 60, 148, "…", size=18, color=MUTED)
            continue
        svg.rect(x, 118, 120, 44, WORKER_FILL, RUNTIME_LINE, rx=6)
        svg.text(x + 60, 137, label, size=12, weight="bold")
        svg.text(x + 60, 153, "OS thread", size=11, color=MUTED)
    svg.rect(660, 118, 240, 44, WORKER_FILL, RUNTIME_LINE, rx=6)
    svg.text(780, 137, "reactor (async-io)", size=12, weight="bold")
    svg.text(780, 153, "timers · sockets · pipes · virtual clock", size=11, color=MUTED)
    svg.text(480, 196, "workers poll ready tasks; a task runs until it awaits (no preemption)",
             size=12, color=MUTED)

    # Tasks and their messages.
    a_in = task(svg, 70, 236, "client", queued=0)
    b_in = task(svg, 390, 236, "server", queued=3)
    c_in = task(svg, 390, 366, "monitor", queued=1)
    # client -> server: send / call
    svg.line(220, 259, b_in[0] - 4, b_in[1], TASK_LINE, arrow="arrow-task")
    svg.text(305, 250, "send / call", size=12, color=TASK_LINE, mono=True)
    # reply goes straight back to the caller
    svg.path("M 390 274 C 330 300, 280 300, 222 276", TASK_LINE, dash="5 4", arrow="arrow-task")
    svg.text(305, 312, "reply (not via the mailbox)", size=11, color=TASK_LINE)
    # server -> monitor: MonitorStatus when it ends
    svg.path("M 540 270 C 610 290, 610 370, 542 389", MONITOR_LINE, dash="6 4",
             arrow="arrow-monitor")
    svg.text(465, 436, "MonitorStatus, when the server ends:", size=12, color=MONITOR_LINE)
    svg.text(465, 453, "returned · panicked · terminated · thrown", size=11,
             color=MONITOR_LINE)
    # Names.
    svg.rect(70, 366, 230, 60, "white", RUNTIME_LINE, rx=6, dash="4 3")
    svg.text(185, 388, "names", size=12, weight="bold")
    svg.text(185, 408, '"server" → server', size=12, mono=True)
    svg.text(70, 446, "register / locate; released when the task ends", size=11,
             anchor="start", color=MUTED)
    svg.text(70, 486, "mailbox: messages queue in arrival order;", size=11, anchor="start",
             color=MUTED)
    svg.text(70, 502, "receive takes the next, or the next that matches", size=11,
             anchor="start", color=MUTED)
    # The mailbox legend swatch.
    svg.rect(360, 484, 11, 20, MAIL_FILL, MAIL_LINE, rx=2, width=1.2)
    svg.text(378, 499, "a queued message", size=11, anchor="start", color=MUTED)

    # A supervisor with its children.
    svg.rect(690, 236, 210, 300, SUPERVISOR_FILL, SUPERVISOR_LINE, rx=10, dash="6 4")
    svg.text(795, 258, "supervision tree", size=12, weight="bold", color=SUPERVISOR_LINE)
    svg.rect(735, 272, 120, 40, "white", SUPERVISOR_LINE, rx=6)
    svg.text(795, 290, "supervisor", size=12, weight="bold", mono=True)
    svg.text(795, 305, "one-for-one", size=11, color=MUTED)
    kids = [(705, "worker"), (805, "group")]
    for x, name in kids:
        svg.line(795, 312, x + 40, 356, SUPERVISOR_LINE, arrow="arrow-sup")
        svg.rect(x, 358, 80, 36, "white", SUPERVISOR_LINE if name == "group" else TASK_LINE, rx=6)
        svg.text(x + 40, 381, name, size=12, mono=True)
    for x in (790, 840):
        svg.line(845, 394, x + 15, 436, SUPERVISOR_LINE, arrow="arrow-sup")
        svg.rect(x, 438, 32, 28, "white", TASK_LINE, rx=5)
    svg.text(795, 490, "monitors its children,", size=11, color=MUTED)
    svg.text(795, 505, "restarts them by strategy,", size=11, color=MUTED)
    svg.text(795, 520, "gives up past its intensity", size=11, color=MUTED)

    # Legend.
    y = 556
    svg.line(60, y, 96, y, TASK_LINE, arrow="arrow-task")
    svg.text(104, y + 4, "message", size=11, anchor="start", color=MUTED)
    svg.line(190, y, 226, y, MONITOR_LINE, dash="6 4", arrow="arrow-monitor")
    svg.text(234, y + 4, "monitor notice", size=11, anchor="start", color=MUTED)
    svg.line(350, y, 386, y, SUPERVISOR_LINE, arrow="arrow-sup")
    svg.text(394, y + 4, "starts and restarts", size=11, anchor="start", color=MUTED)
    svg.write("architecture.svg")


if __name__ == "__main__":
    architecture()
