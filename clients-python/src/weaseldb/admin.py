"""Operator-side helpers: the Prometheus text format of ``/metrics`` as a dict.

``/metrics`` speaks the Prometheus text exposition format (``text/plain;
version=0.0.4``). :func:`parse_metrics` turns it into :class:`Metrics`, a ``dict`` from
``(name, labels)`` to the sample value, with ``labels`` a sorted tuple of
``(label, value)`` pairs so keys are hashable and order-independent. Histograms and
summaries are not special in the format (their ``_bucket``/``_sum``/``_count`` series
are plain samples); :meth:`Metrics.histogram` regroups them.

The parser follows the format's rules: ``# HELP`` (escapes ``\\\\`` and ``\\n``),
``# TYPE``, other comments ignored; label values escape ``\\\\``, ``\\"`` and ``\\n``;
values may be ``+Inf``/``-Inf``/``NaN``; an optional timestamp follows the value. The
OpenMetrics ``# EOF`` and exemplars (`` # {...} v``) are tolerated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

__all__ = ["Metrics", "MetricKey", "Histogram", "parse_metrics", "MetricsParseError"]

Labels = tuple[tuple[str, str], ...]
MetricKey = tuple[str, Labels]


class MetricsParseError(ValueError):
    """A line of the exposition is not in the Prometheus text format."""


@dataclass(frozen=True)
class Histogram:
    """One histogram series: cumulative ``buckets`` as ``(le, count)`` sorted by ``le``."""

    buckets: tuple[tuple[float, float], ...]
    sum: float | None
    count: float | None

    def quantile(self, q: float) -> float:
        """Estimate the ``q`` quantile by linear interpolation, like ``histogram_quantile``."""
        if not self.buckets:
            return math.nan
        total = self.buckets[-1][1]
        if total == 0:
            return math.nan
        rank = q * total
        prev_le, prev_count = 0.0, 0.0
        for le, count in self.buckets:
            if count >= rank:
                if math.isinf(le):
                    return prev_le
                if count == prev_count:
                    return le
                return prev_le + (le - prev_le) * (rank - prev_count) / (count - prev_count)
            prev_le, prev_count = le, count
        return self.buckets[-1][0]


class Metrics(dict[MetricKey, float]):
    """``{(name, labels): value}`` plus ``types`` and ``help`` per metric family."""

    def __init__(self) -> None:
        super().__init__()
        self.types: dict[str, str] = {}
        self.help: dict[str, str] = {}

    @staticmethod
    def key(name: str, labels: dict[str, str] | None = None) -> MetricKey:
        return name, tuple(sorted((labels or {}).items()))

    def value(self, name: str, labels: dict[str, str] | None = None, default: float | None = None) -> float | None:
        """The sample with exactly these labels."""
        return self.get(self.key(name, labels), default)

    def samples(self, name: str, **match: str) -> list[tuple[dict[str, str], float]]:
        """Every sample of ``name`` whose labels include ``match``."""
        out = []
        for (n, labels), v in self.items():
            if n == name:
                d = dict(labels)
                if all(d.get(k) == val for k, val in match.items()):
                    out.append((d, v))
        return out

    def total(self, name: str, **match: str) -> float:
        """Sum over the samples of ``name`` whose labels include ``match``."""
        return sum(v for _, v in self.samples(name, **match))

    def names(self) -> set[str]:
        return {n for n, _ in self}

    def histogram(self, name: str, **match: str) -> Histogram:
        """Regroup ``name_bucket``/``_sum``/``_count``, summing series that match."""
        buckets: dict[float, float] = {}
        for labels, v in self.samples(name + "_bucket", **match):
            le = _parse_value(labels.get("le", "+Inf"))
            buckets[le] = buckets.get(le, 0.0) + v
        sums = self.samples(name + "_sum", **match)
        counts = self.samples(name + "_count", **match)
        return Histogram(
            tuple(sorted(buckets.items())),
            sum(v for _, v in sums) if sums else None,
            sum(v for _, v in counts) if counts else None,
        )


def _parse_value(text: str) -> float:
    t = text.strip()
    low = t.lower()
    if low in ("+inf", "inf"):
        return math.inf
    if low == "-inf":
        return -math.inf
    if low == "nan":
        return math.nan
    return float(t)


def _unescape_help(text: str) -> str:
    out = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in "\\n":
            out.append("\n" if text[i + 1] == "n" else "\\")
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _is_name_char(c: str, first: bool) -> bool:
    return c == "_" or c == ":" or ("a" <= c <= "z") or ("A" <= c <= "Z") or (not first and "0" <= c <= "9")


class _Line:
    """Cursor over one sample line."""

    def __init__(self, text: str, lineno: int) -> None:
        self.text = text
        self.pos = 0
        self.lineno = lineno

    def fail(self, why: str) -> MetricsParseError:
        return MetricsParseError(f"line {self.lineno}: {why}: {self.text!r}")

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1

    def name(self, colon: bool = True) -> str:
        start = self.pos
        while self.pos < len(self.text):
            c = self.text[self.pos]
            if not _is_name_char(c, self.pos == start) or (c == ":" and not colon):
                break
            self.pos += 1
        if self.pos == start:
            raise self.fail("expected a name")
        return self.text[start:self.pos]

    def quoted(self) -> str:
        if self.text[self.pos:self.pos + 1] != '"':
            raise self.fail("expected a quoted label value")
        self.pos += 1
        out = []
        while self.pos < len(self.text):
            c = self.text[self.pos]
            if c == "\\" and self.pos + 1 < len(self.text):
                nxt = self.text[self.pos + 1]
                out.append({"n": "\n", "\\": "\\", '"': '"'}.get(nxt, "\\" + nxt))
                self.pos += 2
            elif c == '"':
                self.pos += 1
                return "".join(out)
            else:
                out.append(c)
                self.pos += 1
        raise self.fail("unterminated label value")

    def labels(self) -> dict[str, str]:
        labels: dict[str, str] = {}
        if self.text[self.pos:self.pos + 1] != "{":
            return labels
        self.pos += 1
        while True:
            self.skip_ws()
            if self.text[self.pos:self.pos + 1] == "}":
                self.pos += 1
                return labels
            key = self.name(colon=False)
            self.skip_ws()
            if self.text[self.pos:self.pos + 1] != "=":
                raise self.fail("expected '=' after label name")
            self.pos += 1
            self.skip_ws()
            labels[key] = self.quoted()
            self.skip_ws()
            c = self.text[self.pos:self.pos + 1]
            if c == ",":
                self.pos += 1
            elif c != "}":
                raise self.fail("expected ',' or '}' in labels")


def parse_metrics(text: str | Iterable[str]) -> Metrics:
    """Parse a Prometheus text exposition into :class:`Metrics`.

    Raises :class:`MetricsParseError` naming the line on malformed input.
    """
    lines = text.splitlines() if isinstance(text, str) else list(text)
    out = Metrics()
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            parts = line[1:].strip().split(None, 2)
            if len(parts) >= 2 and parts[0] == "HELP":
                out.help[parts[1]] = _unescape_help(parts[2] if len(parts) > 2 else "")
            elif len(parts) >= 3 and parts[0] == "TYPE":
                out.types[parts[1]] = parts[2].strip()
            continue
        cur = _Line(line, lineno)
        name = cur.name()
        cur.skip_ws()
        labels = cur.labels()
        cur.skip_ws()
        rest = cur.text[cur.pos:]
        if " # " in rest:  # OpenMetrics exemplar
            rest = rest.split(" # ", 1)[0]
        fields = rest.split()
        if not fields or len(fields) > 2:
            raise cur.fail("expected a value and an optional timestamp")
        try:
            value = _parse_value(fields[0])
        except ValueError:
            raise cur.fail(f"bad value {fields[0]!r}") from None
        out[Metrics.key(name, labels)] = value
    return out
