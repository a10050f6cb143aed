"""Where the server's time goes: py-spy's collapsed stacks, summed by frame and by layer (stdlib only).

py-spy ``record --format raw`` writes one line per distinct stack, ``frame;frame;...;leaf COUNT``,
outermost first, each frame ``Class.method (package/module.py:line)``; ``--subprocesses`` puts
``process PID:"cmdline"`` frames on top. Without ``--idle`` a sample is one stack of a thread the
kernel shows as running or runnable (state R: on a core, or queued for one), so a frame's share
of the samples is its share of the server's demand for CPU during the window. Threads waiting on
a lock, the GIL, a socket or the database server are not sampled.

Two views answer "what would remove the remaining time":

- **self time** per function (``function (file)``, line numbers merged): the samples where it is
  the leaf, i.e. where the CPU actually was. Each row also gives the inclusive share (samples
  with the function anywhere on the stack).
- **layers**: each sample is charged to the innermost frame that belongs to a known library or to
  the IdP; frames of the standard library and of unlisted packages are transparent, so
  ``socket.send`` under gunicorn counts as gunicorn and ``hmac`` under ``idp/`` as the IdP's own code.
  SQLAlchemy's ``do_execute``/``do_commit``… (engine/default.py) and ``fetchone/many/all``
  (engine/cursor.py) frames call straight into the C driver (sqlite3 has no Python frames of its
  own), so their self time counts as the DB driver, not as SQLAlchemy.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class Layer(StrEnum):
    ARGON2 = "argon2"
    DB_DRIVER = "DB driver (sqlite3/psycopg)"
    SQLALCHEMY = "SQLAlchemy"
    JOSE = "JOSE/crypto (joserfc/cryptography)"
    AUTHLIB = "Authlib"
    JINJA = "Jinja"
    FLASK = "Flask/werkzeug"
    GUNICORN = "gunicorn/socket I/O"
    METRICS = "metrics (prometheus_client)"
    IDP = "idp (own code)"
    OTHER = "other (stdlib, unlisted packages)"


# What would shrink a layer's share: the levers measured or reasoned out in docs/capacity.md
# ("Where the time goes"), printed next to each layer so a row short of its goal says what to try.
LEVERS: dict[Layer, str] = {
    Layer.ARGON2: "the point of the hash: only fewer password sign-ins (passkeys) lower it",
    Layer.DB_DRIVER: "fewer statements and commits per request (Core lookups, one disclosure row per token, "
                     "UPDATE ... RETURNING for single use)",
    Layer.SQLALCHEMY: "SQLAlchemy Core instead of ORM objects on the hot path; clients cached per instance",
    Layer.JOSE: "ES256 rather than RS256 where the client accepts it",
    Layer.AUTHLIB: "nothing worth it at this share",
    Layer.JINJA: "fewer or smaller pages per flow",
    Layer.FLASK: "fewer before/after-request hooks on the token endpoints",
    Layer.GUNICORN: "a server with native HTTP parsing and I/O (granian: 1.4x on discovery in an A/B), "
                    "or a cache in front for discovery and JWKS",
    Layer.METRICS: "fewer labels or observations per request",
    Layer.IDP: "see the top frames below",
    Layer.OTHER: "see the top frames below",
}

# first path component of py-spy's short file name -> layer
PACKAGES: dict[str, Layer] = {
    "argon2": Layer.ARGON2, "_argon2_cffi_bindings": Layer.ARGON2,
    "sqlite3": Layer.DB_DRIVER, "psycopg": Layer.DB_DRIVER, "psycopg2": Layer.DB_DRIVER,
    "psycopg_pool": Layer.DB_DRIVER, "psycopg_c": Layer.DB_DRIVER, "psycopg_binary": Layer.DB_DRIVER,
    "sqlalchemy": Layer.SQLALCHEMY,
    "joserfc": Layer.JOSE, "cryptography": Layer.JOSE, "jwt": Layer.JOSE,
    "authlib": Layer.AUTHLIB,
    "jinja2": Layer.JINJA, "markupsafe": Layer.JINJA,
    "flask": Layer.FLASK, "werkzeug": Layer.FLASK, "flask_babel": Layer.FLASK, "babel": Layer.FLASK,
    "flask_wtf": Layer.FLASK, "wtforms": Layer.FLASK, "itsdangerous": Layer.FLASK, "blinker": Layer.FLASK,
    "gunicorn": Layer.GUNICORN,
    "prometheus_client": Layer.METRICS,
    "idp": Layer.IDP,
}
# stdlib files that are a layer by themselves: gthread's thread pool hands each connection over here
FILES: dict[str, Layer] = {"concurrent/futures/thread.py": Layer.GUNICORN}
# SQLAlchemy frames whose own time is spent inside the DBAPI driver's C code, by file (py-spy 0.4
# names methods Class.method: DefaultDialect.do_execute). sqlite3 runs the query while rows are fetched.
DRIVER_CALLS = {
    "sqlalchemy/engine/default.py":
        re.compile(r"^(\w+\.)?do_(execute|executemany|execute_no_params|commit|rollback|close|ping)$"),
    "sqlalchemy/engine/cursor.py": re.compile(r"^(\w+\.)?fetch(one|many|all)$"),
}

_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


@dataclass(frozen=True)
class Frame:
    function: str
    file: str
    line: int | None = None

    @property
    def key(self) -> str:
        """The function, line numbers merged: what the self-time table counts."""
        return f"{self.function} ({self.file})"

    @property
    def layer(self) -> Layer | None:
        """The layer this frame belongs to, or None for a transparent one (stdlib, unlisted package)."""
        driver_calls = DRIVER_CALLS.get(self.file)
        if driver_calls is not None and driver_calls.match(self.function):
            return Layer.DB_DRIVER
        if self.file in FILES:
            return FILES[self.file]
        return PACKAGES.get(self.file.split("/", 1)[0]) if "/" in self.file else None


Stack = tuple[Frame, ...]


@dataclass(frozen=True)
class FrameShare:
    frame: str
    layer: Layer
    self_samples: int
    total_samples: int


@dataclass(frozen=True)
class Summary:
    samples: int
    frames: tuple[FrameShare, ...]  # by self samples, most first
    layers: tuple[tuple[Layer, int], ...]  # by samples, most first

    def percent(self, n: int) -> float:
        return 100 * n / self.samples if self.samples else 0.0


def parse_frame(text: str) -> Frame | None:
    """One py-spy frame; None for its ``process …``/``thread …`` pseudo-frames."""
    if text.startswith(("process ", "thread (")):
        return None
    m = _FRAME.match(text)
    if not m:
        return Frame(text, "?")
    return Frame(m["function"], m["file"], int(m["line"]) if m["line"] else None)


def parse_collapsed(text: str) -> list[tuple[Stack, int]]:
    """``a;b;c COUNT`` lines -> (outermost-first frames, count); stacks without Python frames are dropped."""
    out = []
    for raw in text.splitlines():
        head, _, count = raw.strip().rpartition(" ")
        if not head or not count.isdigit():
            continue
        stack = tuple(f for f in (parse_frame(part) for part in head.split(";")) if f is not None)
        if stack:
            out.append((stack, int(count)))
    return out


def layer_of(stack: Stack) -> Layer:
    """The layer of the innermost frame that has one; OTHER when none does."""
    for frame in reversed(stack):
        if frame.layer is not None:
            return frame.layer
    return Layer.OTHER


def summarize(stacks: Iterable[tuple[Stack, int]]) -> Summary:
    self_count: Counter[str] = Counter()
    total_count: Counter[str] = Counter()
    layers_of_key: dict[str, Counter[Layer]] = {}
    layers: Counter[Layer] = Counter()
    samples = 0
    for stack, n in stacks:
        samples += n
        leaf = stack[-1]
        self_count[leaf.key] += n
        layers_of_key.setdefault(leaf.key, Counter())[layer_of(stack)] += n
        for key in {f.key for f in stack}:
            total_count[key] += n
        layers[layer_of(stack)] += n
    # a stdlib leaf (socket.send, json) is shown with the layer it was charged to most often
    frames = tuple(FrameShare(k, layers_of_key[k].most_common(1)[0][0], s, total_count[k])
                   for k, s in sorted(self_count.items(), key=lambda kv: (-kv[1], kv[0])))
    return Summary(samples, frames, tuple(sorted(layers.items(), key=lambda kv: (-kv[1], kv[0].value))))


def load(paths: Iterable[Path]) -> Summary:
    """Several runs' files of one workload, summed."""
    stacks: list[tuple[Stack, int]] = []
    for path in paths:
        stacks += parse_collapsed(path.read_text(errors="replace"))
    return summarize(stacks)


def render(summary: Summary, top: int = 12) -> str:
    """Markdown: the layer breakdown, then the top frames by self time (percent of samples)."""
    if not summary.samples:
        return "no samples (py-spy saw no running Python thread in the window)\n"
    lines = ["| layer | % of samples | what would shrink it (docs/capacity.md) |", "|---|---:|---|"]
    lines += [f"| {layer.value} | {summary.percent(n):.1f} | {LEVERS[layer]} |" for layer, n in summary.layers]
    lines += ["", f"| top {min(top, len(summary.frames))} frames by self time | layer | self % | total % |",
              "|---|---|---:|---:|"]
    for share in summary.frames[:top]:
        frame = share.frame.replace("|", "\\|")
        lines.append(f"| `{frame}` | {share.layer.value} | {summary.percent(share.self_samples):.1f} "
                     f"| {summary.percent(share.total_samples):.1f} |")
    return "\n".join(lines) + "\n"
