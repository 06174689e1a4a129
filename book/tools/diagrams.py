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
CHANNEL_FILL = "#f3e5f5"
CHANNEL_LINE = "#8e24aa"


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
                ("arrow-channel", CHANNEL_LINE),
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


def handshake():
    """The sequence diagram of a connection between two nodes: preambles, hellos, the
    two HMAC proofs, then records with a MAC and a sequence number."""
    svg = Svg(960, 720)
    left, right = 230, 730  # the two lifelines
    svg.text(480, 34, "Connecting two nodes: the handshake (rcos protocol 1.x)", size=16,
             weight="bold")
    for x, title, sub in [(left, "dialing node", "connect, peer, locate_at, ..."),
                          (right, "accepting node", "listening at its location")]:
        svg.rect(x - 110, 52, 220, 46, TASK_FILL, TASK_LINE)
        svg.text(x, 72, title, size=13, weight="bold")
        svg.text(x, 89, sub, size=11, color=MUTED)
        svg.line(x, 98, x, 690, RUNTIME_LINE, dash="4 4", width=1.4)

    def arrow(y, label, detail=None, to_right=True, color=TASK_LINE, marker="arrow-task",
              dash=None):
        x1, x2 = (left, right - 4) if to_right else (right, left + 4)
        svg.line(x1, y, x2, y, color, dash=dash, arrow=marker)
        svg.text((left + right) / 2, y - 7, label, size=12, mono=True, color=INK)
        if detail:
            svg.text((left + right) / 2, y + 16, detail, size=11, color=MUTED)

    def note(x, y, lines, anchor="end"):
        for i, line in enumerate(lines):
            svg.text(x, y + i * 15, line, size=11, anchor=anchor, color=MUTED)

    # Phase 0: TCP, and TLS when configured.
    arrow(128, "TCP connect", to_right=True, color=RUNTIME_LINE, marker="arrow-ink",
          dash="5 4")
    svg.rect(left + 10, 146, right - left - 20, 34, SUPERVISOR_FILL, SUPERVISOR_LINE, rx=6,
             dash="6 4")
    svg.text((left + right) / 2, 168, "only with NodeConfig::tls: TLS 1.3, both certificates checked",
             size=11, color=SUPERVISOR_LINE)

    # Phase 1: preambles.
    arrow(214, "\"RCOS\" major=1 minor=0", "8 bytes: magic and version, checked first")
    arrow(258, "\"RCOS\" major=1 minor=0", to_right=False)
    note(left - 12, 222, ["wrong magic or", "major version:", "closed at once"])
    note(right + 12, 222, ["both use the lower", "minor version"], anchor="start")

    # Phase 2: hellos.
    arrow(310, "Hello { name, incarnation, listen, nonce Nc }",
          "a record of at most 4 KiB; Nc = 32 fresh random bytes")
    arrow(362, "Hello { name, incarnation, listen, nonce Ns }", to_right=False)
    arrow(404, "Auth { HMAC(K, \"rcos v1 server auth\" ‖ T) }", to_right=False,
          color=MONITOR_LINE, marker="arrow-monitor")
    note(right + 12, 300, ["K = HKDF-SHA256(", "  salt \"rcos secret v1\",", "  the secret)",
                           "T = magic ‖ major ‖", "  len ‖ client hello ‖", "  len ‖ server hello"],
         anchor="start")
    note(left - 12, 420, ["checks the server's", "proof (constant time);", "a wrong one: closed"])
    arrow(458, "Auth { HMAC(K, \"rcos v1 client auth\" ‖ T) }", color=MONITOR_LINE,
          marker="arrow-monitor")
    note(right + 12, 466, ["checks the client's", "proof; a wrong one:", "closed"], anchor="start")
    svg.text((left + right) / 2, 494, "the whole handshake must end within 5 s (handshake_timeout)",
             size=11, color=MUTED)

    # Phase 3: session keys and records.
    svg.rect(left - 100, 512, right - left + 200, 46, WORKER_FILL, RUNTIME_LINE, rx=6)
    svg.text((left + right) / 2, 531, "both derive per-direction keys: HKDF-SHA256(salt Nc ‖ Ns, K)",
             size=12)
    svg.text((left + right) / 2, 548, "→ \"rcos v1 client to server\" and \"rcos v1 server to client\"",
             size=11, mono=True, color=MUTED)
    arrow(594, "len:u32 ‖ CBOR frames ‖ HMAC(k_c→s, seq ‖ frames)",
          "seq = 0, 1, 2, ... per direction, never sent: a record replayed, dropped or reordered fails")
    arrow(646, "len:u32 ‖ CBOR frames ‖ HMAC(k_s→c, seq ‖ frames)", to_right=False)
    svg.text((left + right) / 2, 680, "frames: Send, Deliver, Monitor, Locate, Answer, Ping/Pong, Goodbye, ...",
             size=11, color=MUTED)
    svg.write("handshake.svg")


def nodes():
    """Two nodes of the running example: the store's tally and channel, the front's
    client and watcher, references that forward to the other node, one connection."""
    svg = Svg(960, 570)
    svg.text(480, 30, "Two nodes: the running example split across programs", size=16,
             weight="bold")

    def node(x, title, sub):
        svg.rect(x, 48, 370, 430, RUNTIME_FILL, RUNTIME_LINE, rx=14)
        svg.text(x + 20, 74, title, size=14, anchor="start", weight="bold")
        svg.text(x + 20, 92, sub, size=11, anchor="start", color=MUTED)
        svg.rect(x + 20, 104, 330, 34, "white", RUNTIME_LINE, rx=6)
        svg.text(x + 185, 126, "worker threads · reactor · tasks · names · channels", size=11,
                 color=MUTED)

    def channel(x, y, name, w=150):
        svg.rect(x, y, w, 46, CHANNEL_FILL, CHANNEL_LINE, rx=23)
        svg.text(x + w / 2, y + 20, name, size=13, weight="bold", mono=True)
        svg.text(x + w / 2, y + 37, "channel", size=11, color=MUTED)

    def reference(x, y, name, w=150):
        svg.rect(x, y, w, 40, "white", RUNTIME_LINE, rx=6, dash="5 4")
        svg.text(x + w / 2, y + 17, name, size=12, mono=True)
        svg.text(x + w / 2, y + 32, "reference to the other node", size=10, color=MUTED)

    node(30, "node \u201cstore\u201d", "a runtime with a NodeConfig, listening at its location")
    node(560, "node \u201cfront\u201d", "another runtime: here, or in another program")

    # The store: the tally (registered "tally") and the channel (registered "trends").
    task(svg, 60, 190, "tally", queued=2)
    svg.text(135, 252, "registered \"tally\"", size=11, color=MUTED)
    channel(60, 330, "trends")
    svg.text(135, 392, "registered", size=11, color=MUTED)
    svg.line(135, 236, 135, 326, CHANNEL_LINE, arrow="arrow-channel")
    svg.text(143, 290, "send(Trending)", size=11, anchor="start", color=CHANNEL_LINE,
             mono=True)

    # The front: the client and the watcher, and its references to the store's objects.
    task(svg, 760, 190, "client", queued=1)
    task(svg, 760, 330, "watcher", queued=2)
    reference(590, 196, "tally@store", w=140)
    reference(590, 400, "trends@store", w=140)
    svg.line(758, 213, 734, 213, TASK_LINE, arrow="arrow-task")
    svg.text(700, 186, "send · call", size=11, color=TASK_LINE, mono=True)
    svg.line(732, 408, 786, 380, RUNTIME_LINE, arrow="arrow-ink")
    svg.text(790, 404, "subscribe", size=11, anchor="start", color=MUTED, mono=True)

    # The connection between the two nodes.
    svg.rect(400, 150, 160, 300, WORKER_FILL, RUNTIME_LINE, rx=10)
    svg.text(480, 172, "one TCP connection", size=12, weight="bold")
    svg.text(480, 188, "per pair of peers", size=11, color=MUTED)
    # Requests go to the store; replies and channel messages come back, in order.
    svg.line(588, 210, 214, 210, TASK_LINE, arrow="arrow-task")
    svg.path("M 214 226 C 300 250, 640 250, 758 230", TASK_LINE, dash="5 4",
             arrow="arrow-task")
    svg.text(480, 276, "to the store:", size=10, color=TASK_LINE)
    svg.text(480, 290, "Send, Locate, Subscribe", size=10, color=TASK_LINE, mono=True)
    svg.text(480, 312, "back to the front, in order:", size=10, color=CHANNEL_LINE)
    svg.text(480, 326, "Send(Trending), Reply", size=10, color=CHANNEL_LINE, mono=True)
    svg.line(214, 353, 756, 353, CHANNEL_LINE, arrow="arrow-channel")
    svg.text(480, 384, "handshake on the secret,", size=10, color=MUTED)
    svg.text(480, 398, "then records with a MAC,", size=10, color=MUTED)
    svg.text(480, 412, "in order, both ways;", size=10, color=MUTED)
    svg.text(480, 426, "Ping/Pong heartbeats", size=10, color=MUTED)

    # Node loss.
    svg.path("M 560 458 L 918 458 L 918 213 L 914 213", MONITOR_LINE, dash="6 4",
             arrow="arrow-monitor")
    svg.text(480, 500, "no connection back within the reconnect grace, or heartbeats missed:",
             size=11, color=MONITOR_LINE)
    svg.text(480, 516, "the store is lost, and the client's monitor gets Exit::NodeLost",
             size=11, color=MONITOR_LINE)

    # Legend.
    y = 548
    svg.line(60, y, 96, y, TASK_LINE, arrow="arrow-task")
    svg.text(104, y + 4, "message, request", size=11, anchor="start", color=MUTED)
    svg.line(230, y, 266, y, TASK_LINE, dash="5 4", arrow="arrow-task")
    svg.text(274, y + 4, "reply", size=11, anchor="start", color=MUTED)
    svg.line(330, y, 366, y, CHANNEL_LINE, arrow="arrow-channel")
    svg.text(374, y + 4, "channel fan-out", size=11, anchor="start", color=MUTED)
    svg.line(490, y, 526, y, MONITOR_LINE, dash="6 4", arrow="arrow-monitor")
    svg.text(534, y + 4, "monitor notice", size=11, anchor="start", color=MUTED)
    svg.write("nodes.svg")


if __name__ == "__main__":
    architecture()
    handshake()
    nodes()
