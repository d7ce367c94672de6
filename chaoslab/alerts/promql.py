"""The PromQL the lab's alert rules are written in, parsed and evaluated the way Prometheus does.

The rules are PromQL text; Prometheus evaluates them on Kubernetes and this module evaluates the very
same text on the local lab, so there is one set of rules and no translation. It implements the subset
the rules use, no more: vector selectors with ``= != =~ !~`` matchers and range selectors; numbers;
arithmetic, comparison (with ``bool``) and set operators (``and or unless``) with ``on``/``ignoring``
one-to-one matching; ``sum min max avg count`` with ``by``/``without``; and the functions in
``FUNCTIONS``. Anything else is refused at parse time with a message naming it, so a rule that only
Prometheus could evaluate never reaches the lab.

Semantics follow Prometheus 2.x, the version of the promtool the tests compare against
(tests/kubernetes/test_alert_rules.py): range selectors are closed ``[t - range, t]`` (Prometheus 3
made them left-open, which matters only for a sample exactly on the boundary), instant selectors look
back 5 minutes and stop at a staleness marker, ``rate``/``increase``/``delta`` extrapolate like
``extrapolatedRate``, ``histogram_quantile`` interpolates like ``bucketQuantile``. Times are integer
milliseconds, as in Prometheus, so window edges compare exactly.
"""

from __future__ import annotations

import itertools
import math
import re
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

LOOKBACK_MS = 300_000
"""How far back an instant selector looks for a sample (Prometheus' default lookback delta)."""

_STALE_BITS = bytes.fromhex("7ff0000000000002")
STALE: float = struct.unpack(">d", _STALE_BITS)[0]
"""Prometheus' staleness marker: a NaN with its own bit pattern, written when a series disappears."""


def is_stale(value: float) -> bool:
    return value != value and struct.pack(">d", value) == _STALE_BITS


class PromQLError(ValueError):
    """An expression outside the supported subset, or malformed; the message says which part."""


# ---- values -------------------------------------------------------------------------------------

Labels = dict[str, str]


def key(labels: Labels) -> tuple[tuple[str, str], ...]:
    """A hashable identity of a label set."""
    return tuple(sorted(labels.items()))


@dataclass
class Sample:
    """One element of an instant vector."""

    labels: Labels
    value: float


@dataclass
class Series:
    """One element of a range vector: a series' samples inside the window, oldest first."""

    labels: Labels
    points: list[tuple[int, float]]


class Storage(Protocol):
    """What the evaluator reads: series whose labels match, with their samples between two times."""

    def select(self, matchers: list[Matcher], start_ms: int, end_ms: int) -> Iterable[Series]:
        """Every series matching all ``matchers``, with its samples in ``[start_ms, end_ms]`` (staleness
        markers included), oldest first."""


# ---- syntax tree --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str
    regex: re.Pattern | None = field(default=None, compare=False)

    def matches(self, labels: Labels) -> bool:
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = self.regex.fullmatch(actual) is not None
        return found if self.op == "=~" else not found


@dataclass(frozen=True)
class Number:
    value: float


@dataclass(frozen=True)
class Selector:
    name: str
    matchers: tuple[Matcher, ...]
    range_ms: int | None = None

    def all_matchers(self) -> list[Matcher]:
        named = [Matcher("__name__", "=", self.name)] if self.name else []
        return named + list(self.matchers)


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple


@dataclass(frozen=True)
class Aggregate:
    op: str
    expr: object
    grouping: tuple[str, ...]
    without: bool


@dataclass(frozen=True)
class Binary:
    op: str
    lhs: object
    rhs: object
    return_bool: bool = False
    on: tuple[str, ...] | None = None
    """Matching labels with ``on(...)``; None without it."""
    ignoring: tuple[str, ...] = ()


@dataclass(frozen=True)
class Negate:
    expr: object


# ---- lexer --------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>0x[0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?![a-zA-Z_:\d]))
  | (?P<duration>(?:\d+(?:ms|s|m|h|d|w|y))+)
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<op>==|!=|<=|>=|=~|!~|[-+*/%^<>=(){}\[\],])
    """,
    re.X,
)
_DURATION_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")


def parse_duration(text: str) -> int:
    """``30s``, ``5m``, ``1m30s`` → milliseconds."""
    if not text or _DURATION_PART.sub("", text):
        raise PromQLError(f"bad duration {text!r}; write it like 30s, 5m or 1h30m")
    total = 0
    for amount, unit in _DURATION_PART.findall(text):
        if unit == "y":
            raise PromQLError(f"duration {text!r}: years are not supported")
        total += int(amount) * _DURATION_UNITS[unit]
    return total


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise PromQLError(f"unexpected character {text[pos]!r} at position {pos} of {text!r}")
        pos = m.end()
        kind = m.lastgroup
        if kind != "space":
            out.append((kind, m.group()))
    out.append(("end", ""))
    return out


def _unquote(token: str) -> str:
    body = token[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'"}.get(m[1], m[1]), body)


# ---- parser -------------------------------------------------------------------------------------

AGGREGATIONS = ("sum", "min", "max", "avg", "count")
_COMPARISONS = ("==", "!=", ">", "<", ">=", "<=")
# Binary operators by precedence, lowest first (PromQL's own order; ^ is left out).
_PRECEDENCE = (("or",), ("and", "unless"), _COMPARISONS, ("+", "-"), ("*", "/", "%"))


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def peek(self, offset: int = 0) -> tuple[str, str]:
        return self.toks[min(self.i + offset, len(self.toks) - 1)]

    def next(self) -> tuple[str, str]:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, value: str) -> None:
        _, got = self.next()
        if got != value:
            raise PromQLError(f"expected {value!r} but found {got or 'the end'!r} in {self.text!r}")

    def parse(self):
        node = self.expr(0)
        if self.peek()[0] != "end":
            raise PromQLError(f"unexpected {self.peek()[1]!r} in {self.text!r}")
        return node

    def expr(self, level: int):
        if level == len(_PRECEDENCE):
            return self.unary()
        node = self.expr(level + 1)
        while self.peek()[1] in _PRECEDENCE[level] and self.peek()[0] in ("op", "ident"):
            op = self.next()[1]
            return_bool, on, ignoring = False, None, ()
            if self.peek()[1] == "bool":
                if op not in _COMPARISONS:
                    raise PromQLError(f"bool only modifies comparisons, not {op!r}, in {self.text!r}")
                self.next()
                return_bool = True
            if self.peek()[1] in ("on", "ignoring"):
                which = self.next()[1]
                labels = self.label_list()
                if which == "on":
                    on = labels
                else:
                    ignoring = labels
            if self.peek()[1] in ("group_left", "group_right"):
                raise PromQLError(f"{self.peek()[1]} (many-to-one matching) is not supported, in {self.text!r}")
            rhs = self.expr(level + 1)
            node = Binary(op, node, rhs, return_bool, on, ignoring)
        return node

    def unary(self):
        if self.peek()[1] == "-":
            self.next()
            inner = self.unary()
            return Number(-inner.value) if isinstance(inner, Number) else Negate(inner)
        if self.peek()[1] == "+":
            self.next()
            return self.unary()
        return self.primary()

    def label_list(self) -> tuple[str, ...]:
        self.expect("(")
        labels = []
        while self.peek()[1] != ")":
            kind, name = self.next()
            if kind != "ident":
                raise PromQLError(f"expected a label name, found {name!r} in {self.text!r}")
            labels.append(name)
            if self.peek()[1] == ",":
                self.next()
        self.expect(")")
        return tuple(labels)

    def primary(self):
        kind, value = self.peek()
        if kind == "number":
            self.next()
            return Number(float(int(value, 16)) if value.startswith("0x") else float(value))
        if value == "(":
            self.next()
            node = self.expr(0)
            self.expect(")")
            return self.range_suffix(node)
        if value == "{":
            return self.selector("")
        if kind == "ident":
            lowered = value.lower()
            if lowered in ("inf", "nan") and self.peek(1)[1] != "(":
                self.next()
                return Number(float(lowered))
            if value in AGGREGATIONS:
                return self.aggregation()
            if self.peek(1)[1] == "(":
                return self.call()
            if value in ("by", "without", "on", "ignoring", "bool", "offset", "and", "or", "unless"):
                raise PromQLError(f"unexpected keyword {value!r} in {self.text!r}")
            self.next()
            return self.selector(value)
        raise PromQLError(f"unexpected {value or 'end'!r} in {self.text!r}")

    def selector(self, name: str) -> Selector:
        matchers = []
        if self.peek()[1] == "{":
            self.next()
            while self.peek()[1] != "}":
                kind, label = self.next()
                if kind != "ident":
                    raise PromQLError(f"expected a label name, found {label!r} in {self.text!r}")
                op = self.next()[1]
                if op not in ("=", "!=", "=~", "!~"):
                    raise PromQLError(f"bad matcher operator {op!r} after {label} in {self.text!r}")
                kind, raw = self.next()
                if kind != "string":
                    raise PromQLError(f"label values are quoted strings: {label}{op}{raw} in {self.text!r}")
                text = _unquote(raw)
                regex = None
                if op in ("=~", "!~"):
                    try:
                        regex = re.compile(text)
                    except re.error as exc:
                        raise PromQLError(f"bad regular expression {text!r}: {exc}") from None
                if label == "__name__" and op == "=":
                    name = text
                else:
                    matchers.append(Matcher(label, op, text, regex))
                if self.peek()[1] == ",":
                    self.next()
            self.next()
        if not name and not any(m.op in ("=", "=~") and m.value for m in matchers):
            raise PromQLError(f"a selector needs a metric name or a non-empty matcher, in {self.text!r}")
        node = Selector(name, tuple(matchers))
        if self.peek()[1] == "offset":
            raise PromQLError(f"offset is not supported, in {self.text!r}")
        return self.range_suffix(node)

    def range_suffix(self, node):
        if self.peek()[1] != "[":
            return node
        self.next()
        kind, text = self.next()
        if kind != "duration":
            if kind == "number" and text.isdigit():
                raise PromQLError(f"a range needs a unit: [{text}s]? in {self.text!r}")
            raise PromQLError(f"expected a duration in [...], found {text!r} in {self.text!r}")
        if self.peek()[1].startswith(":"):
            raise PromQLError(f"subqueries are not supported, in {self.text!r}")
        self.expect("]")
        if not isinstance(node, Selector) or node.range_ms is not None:
            raise PromQLError(f"a range [..] applies to a vector selector only (no subqueries), in {self.text!r}")
        return Selector(node.name, node.matchers, parse_duration(text))

    def aggregation(self) -> Aggregate:
        op = self.next()[1]
        grouping, without = (), False
        if self.peek()[1] in ("by", "without"):
            without = self.next()[1] == "without"
            grouping = self.label_list()
        self.expect("(")
        inner = self.expr(0)
        self.expect(")")
        if self.peek()[1] in ("by", "without"):
            if grouping:
                raise PromQLError(f"{op} has two grouping clauses in {self.text!r}")
            without = self.next()[1] == "without"
            grouping = self.label_list()
        return Aggregate(op, inner, grouping, without)

    def call(self) -> Call:
        name = self.next()[1]
        if name not in FUNCTIONS:
            raise PromQLError(
                f"function {name}() is not supported by the local evaluator (supported: {', '.join(sorted(FUNCTIONS))})"
            )
        self.expect("(")
        args = []
        while self.peek()[1] != ")":
            args.append(self.expr(0))
            if self.peek()[1] == ",":
                self.next()
        self.expect(")")
        spec = FUNCTIONS[name]
        if len(args) != len(spec.args):
            raise PromQLError(f"{name}() takes {len(spec.args)} argument(s), got {len(args)}, in {self.text!r}")
        for arg, wanted in zip(args, spec.args, strict=True):
            is_range = isinstance(arg, Selector) and arg.range_ms is not None
            if (wanted == "range") != is_range:
                what = {"range": "a range vector like metric[1m]", "vector": "an instant vector"}.get(
                    wanted, "a number"
                )
                raise PromQLError(f"{name}() expects {what} there, in {self.text!r}")
        return Call(name, tuple(args))


def parse(text: str):
    """Parse a PromQL expression of the supported subset; raises PromQLError saying what is not."""
    return _Parser(text).parse()


def selectors(node) -> list[Selector]:
    """Every vector selector in an expression (what a scraper must keep for it)."""
    if isinstance(node, Selector):
        return [node]
    if isinstance(node, Call):
        return [s for arg in node.args for s in selectors(arg)]
    if isinstance(node, Aggregate):
        return selectors(node.expr)
    if isinstance(node, Binary):
        return selectors(node.lhs) + selectors(node.rhs)
    if isinstance(node, Negate):
        return selectors(node.expr)
    return []


def longest_range_ms(node) -> int:
    return max([s.range_ms or 0 for s in selectors(node)], default=0)


# ---- evaluation ---------------------------------------------------------------------------------


def evaluate(node, storage: Storage, t_ms: int):
    """Evaluate an expression at ``t_ms``: a float (scalar) or a list of Samples (instant vector)."""
    if isinstance(node, Number):
        return node.value
    if isinstance(node, Selector):
        if node.range_ms is not None:
            raise PromQLError("a range vector cannot be the result of an expression; wrap it in a function")
        return _instant(node, storage, t_ms)
    if isinstance(node, Negate):
        value = evaluate(node.expr, storage, t_ms)
        if isinstance(value, float):
            return -value
        return [Sample(_drop_name(s.labels), -s.value) for s in value]
    if isinstance(node, Call):
        return FUNCTIONS[node.func].run(node.args, storage, t_ms)
    if isinstance(node, Aggregate):
        return _aggregate(node, evaluate(node.expr, storage, t_ms))
    if isinstance(node, Binary):
        return _binary(node, evaluate(node.lhs, storage, t_ms), evaluate(node.rhs, storage, t_ms))
    raise PromQLError(f"cannot evaluate {node!r}")


def _instant(node: Selector, storage: Storage, t_ms: int) -> list[Sample]:
    out = []
    for series in storage.select(node.all_matchers(), t_ms - LOOKBACK_MS, t_ms):
        if series.points and not is_stale(series.points[-1][1]):
            out.append(Sample(series.labels, series.points[-1][1]))
    return out


def _range(node: Selector, storage: Storage, t_ms: int) -> list[Series]:
    out = []
    for series in storage.select(node.all_matchers(), t_ms - node.range_ms, t_ms):
        points = [p for p in series.points if not is_stale(p[1])]
        if points:
            out.append(Series(series.labels, points))
    return out


def _drop_name(labels: Labels) -> Labels:
    return {k: v for k, v in labels.items() if k != "__name__"}


def _aggregate(node: Aggregate, vector) -> list[Sample]:
    if isinstance(vector, float):
        raise PromQLError(f"{node.op}() needs an instant vector, not a number")
    groups: dict[tuple, tuple[Labels, list[float]]] = {}
    for sample in vector:
        if node.without:
            labels = {k: v for k, v in sample.labels.items() if k not in node.grouping and k != "__name__"}
        else:
            labels = {k: sample.labels[k] for k in node.grouping if sample.labels.get(k)}
        groups.setdefault(key(labels), (labels, []))[1].append(sample.value)
    reduce: dict[str, Callable[[list[float]], float]] = {
        "sum": math.fsum,
        "min": lambda vs: _nan_aware(min, vs),
        "max": lambda vs: _nan_aware(max, vs),
        "avg": lambda vs: math.fsum(vs) / len(vs),
        "count": lambda vs: float(len(vs)),
    }
    return [Sample(labels, reduce[node.op](values)) for labels, values in groups.values()]


def _nan_aware(pick, values: list[float]) -> float:
    """min/max as Prometheus does them: NaN only when every value is NaN."""
    real = [v for v in values if not math.isnan(v)]
    return pick(real) if real else math.nan


def _arith(op: str, a: float, b: float) -> float:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        if b == 0:
            return math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a) * math.copysign(1, b)
        return a / b
    if op == "%":
        return math.fmod(a, b) if b != 0 else math.nan
    raise PromQLError(f"unsupported operator {op}")


def _compare(op: str, a: float, b: float) -> bool:
    return {
        "==": a == b,
        "!=": a != b,
        ">": a > b,
        "<": a < b,
        ">=": a >= b,
        "<=": a <= b,
    }[op]


def _signature(labels: Labels, node: Binary) -> tuple:
    if node.on is not None:
        return tuple((k, labels.get(k, "")) for k in sorted(node.on))
    ignored = set(node.ignoring) | {"__name__"}
    return tuple(sorted((k, v) for k, v in labels.items() if k not in ignored))


def _result_labels(labels: Labels, node: Binary) -> Labels:
    out = dict(labels)
    if node.op not in _COMPARISONS or node.return_bool:
        out.pop("__name__", None)
    if node.on is not None:
        out = {k: v for k, v in out.items() if k in node.on}
    else:
        for name in node.ignoring:
            out.pop(name, None)
    return out


def _binary(node: Binary, lhs, rhs):
    op = node.op
    if op in ("and", "or", "unless"):
        if isinstance(lhs, float) or isinstance(rhs, float):
            raise PromQLError(f"{op} works on instant vectors only")
        right = {_signature(s.labels, node) for s in rhs}
        if op == "and":
            return [s for s in lhs if _signature(s.labels, node) in right]
        if op == "unless":
            return [s for s in lhs if _signature(s.labels, node) not in right]
        left = {_signature(s.labels, node) for s in lhs}
        return list(lhs) + [s for s in rhs if _signature(s.labels, node) not in left]
    comparison = op in _COMPARISONS
    if isinstance(lhs, float) and isinstance(rhs, float):
        if comparison:
            if not node.return_bool:
                raise PromQLError("comparisons between two numbers need bool")
            return float(_compare(op, lhs, rhs))
        return _arith(op, lhs, rhs)
    if isinstance(lhs, float) or isinstance(rhs, float):
        scalar_left = isinstance(lhs, float)
        vector = rhs if scalar_left else lhs
        scalar = lhs if scalar_left else rhs
        out = []
        for s in vector:
            a, b = (scalar, s.value) if scalar_left else (s.value, scalar)
            if comparison:
                keep = _compare(op, a, b)
                if node.return_bool:
                    out.append(Sample(_drop_name(s.labels), float(keep)))
                elif keep:
                    out.append(Sample(s.labels, s.value))
            else:
                out.append(Sample(_drop_name(s.labels), _arith(op, a, b)))
        return out
    by_signature: dict[tuple, Sample] = {}
    for s in rhs:
        sig = _signature(s.labels, node)
        if sig in by_signature:
            raise PromQLError(f"many-to-many matching: two right-hand series share the labels {dict(sig)}")
        by_signature[sig] = s
    out, seen = [], set()
    for s in lhs:
        sig = _signature(s.labels, node)
        other = by_signature.get(sig)
        if other is None:
            continue
        if sig in seen:
            raise PromQLError(f"two left-hand series match the same right-hand series {dict(sig)}")
        seen.add(sig)
        if comparison:
            keep = _compare(op, s.value, other.value)
            if node.return_bool:
                out.append(Sample(_result_labels(s.labels, node), float(keep)))
            elif keep:
                out.append(Sample(_result_labels(s.labels, node), s.value))
        else:
            out.append(Sample(_result_labels(s.labels, node), _arith(op, s.value, other.value)))
    return out


# ---- functions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Function:
    args: tuple[str, ...]
    """``range`` (a range selector), ``vector`` or ``number`` per argument."""
    run: Callable


def _over_range(compute: Callable[[Selector, list[tuple[int, float]], int], float | None]):
    """A function of one range vector, applied per series; None drops the series."""

    def run(args, storage, t_ms):
        node = args[0]
        out = []
        for series in _range(node, storage, t_ms):
            value = compute(node, series.points, t_ms)
            if value is not None:
                out.append(Sample(_drop_name(series.labels), value))
        return out

    return run


def _extrapolated(is_counter: bool, is_rate: bool):
    """Prometheus' extrapolatedRate (promql/functions.go, 2.x) for rate, increase and delta."""

    def compute(node: Selector, points, t_ms):
        if len(points) < 2:
            return None
        range_start, range_end = t_ms - node.range_ms, t_ms
        correction, last = 0.0, 0.0
        if is_counter:
            for _, value in points:
                if value < last:
                    correction += last
                last = value
        result = points[-1][1] - points[0][1] + correction
        to_start = (points[0][0] - range_start) / 1000
        to_end = (range_end - points[-1][0]) / 1000
        sampled = (points[-1][0] - points[0][0]) / 1000
        average_gap = sampled / (len(points) - 1)
        if is_counter and result > 0 and points[0][1] >= 0:
            to_zero = sampled * (points[0][1] / result)
            to_start = min(to_start, to_zero)
        threshold = average_gap * 1.1
        interval = sampled
        interval += to_start if to_start < threshold else average_gap / 2
        interval += to_end if to_end < threshold else average_gap / 2
        result *= interval / sampled
        if is_rate:
            result /= node.range_ms / 1000
        return result

    return _over_range(compute)


def _deriv(node, points, t_ms):
    """Least-squares slope per second, like Prometheus' linearRegression."""
    if len(points) < 2:
        return None
    first_y = points[0][1]
    if all(v == first_y for _, v in points):
        return math.nan if math.isinf(first_y) else 0.0
    origin = points[0][0]
    xs = [(t - origin) / 1000 for t, _ in points]
    ys = [v for _, v in points]
    n = len(points)
    sum_x, sum_y = math.fsum(xs), math.fsum(ys)
    cov = math.fsum(x * y for x, y in zip(xs, ys, strict=True)) - sum_x * sum_y / n
    var = math.fsum(x * x for x in xs) - sum_x * sum_x / n
    return cov / var


def _changes(node, points, t_ms):
    count = 0
    for (_, before), (_, after) in itertools.pairwise(points):
        if before != after and not (math.isnan(before) and math.isnan(after)):
            count += 1
    return float(count)


def _resets(node, points, t_ms):
    return float(sum(1 for (_, a), (_, b) in itertools.pairwise(points) if b < a))


def _each(transform: Callable[[float], float]):
    def run(args, storage, t_ms):
        vector = evaluate(args[0], storage, t_ms)
        if isinstance(vector, float):
            raise PromQLError("this function needs an instant vector, not a number")
        return [Sample(_drop_name(s.labels), transform(s.value)) for s in vector]

    return run


def _clamp(pick):
    def run(args, storage, t_ms):
        bound = evaluate(args[1], storage, t_ms)
        if not isinstance(bound, float):
            raise PromQLError("clamp bounds are numbers")
        return _each(lambda v: pick(v, bound))(args[:1], storage, t_ms)

    return run


def _histogram_quantile(args, storage, t_ms):
    q = evaluate(args[0], storage, t_ms)
    vector = evaluate(args[1], storage, t_ms)
    if not isinstance(q, float) or isinstance(vector, float):
        raise PromQLError("histogram_quantile(φ, buckets) takes a number and an instant vector")
    groups: dict[tuple, tuple[Labels, list[tuple[float, float]]]] = {}
    for s in vector:
        if "le" not in s.labels:
            continue
        try:
            upper = float(s.labels["le"])
        except ValueError:
            continue
        labels = {k: v for k, v in s.labels.items() if k not in ("le", "__name__")}
        groups.setdefault(key(labels), (labels, []))[1].append((upper, s.value))
    return [Sample(labels, bucket_quantile(q, buckets)) for labels, buckets in groups.values()]


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """Prometheus' bucketQuantile (2.x): linear interpolation inside the bucket holding the rank."""
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    merged: dict[float, float] = {}
    for upper, count in buckets:
        merged[upper] = merged.get(upper, 0.0) + count
    ordered = sorted(merged.items())
    if len(ordered) < 2 or not math.isinf(ordered[-1][0]):
        return math.nan
    monotonic, highest = [], -math.inf
    for upper, count in ordered:  # ensureMonotonic: a bucket never counts less than the one below
        highest = max(highest, count)
        monotonic.append((upper, highest))
    observations = monotonic[-1][1]
    if observations == 0:
        return math.nan
    rank = q * observations
    b = next(i for i, (_, count) in enumerate(monotonic) if count >= rank)
    if b == len(monotonic) - 1:
        return monotonic[-2][0]
    if b == 0 and monotonic[0][0] <= 0:
        return monotonic[0][0]
    start, end, count = 0.0, monotonic[b][0], monotonic[b][1]
    if b > 0:
        start = monotonic[b - 1][0]
        count -= monotonic[b - 1][1]
        rank -= monotonic[b - 1][1]
    return start + (end - start) * (rank / count)


FUNCTIONS: dict[str, Function] = {
    "rate": Function(("range",), _extrapolated(is_counter=True, is_rate=True)),
    "increase": Function(("range",), _extrapolated(is_counter=True, is_rate=False)),
    "delta": Function(("range",), _extrapolated(is_counter=False, is_rate=False)),
    "deriv": Function(("range",), _over_range(_deriv)),
    "changes": Function(("range",), _over_range(_changes)),
    "resets": Function(("range",), _over_range(_resets)),
    "max_over_time": Function(("range",), _over_range(lambda n, p, t: _nan_aware(max, [v for _, v in p]))),
    "min_over_time": Function(("range",), _over_range(lambda n, p, t: _nan_aware(min, [v for _, v in p]))),
    "avg_over_time": Function(("range",), _over_range(lambda n, p, t: math.fsum(v for _, v in p) / len(p))),
    "sum_over_time": Function(("range",), _over_range(lambda n, p, t: math.fsum(v for _, v in p))),
    "count_over_time": Function(("range",), _over_range(lambda n, p, t: float(len(p)))),
    "abs": Function(("vector",), _each(abs)),
    "clamp_min": Function(("vector", "number"), _clamp(max)),
    "clamp_max": Function(("vector", "number"), _clamp(min)),
    "histogram_quantile": Function(("number", "vector"), _histogram_quantile),
}
