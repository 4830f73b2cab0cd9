"""``weaseldb``: the command line over :class:`weaseldb.Client`.

Human-readable output by default, one JSON document per result (per event for
``subscribe``) with ``--json``. Errors go to stderr with one exit code per error class
(:data:`EXIT_CODES`, documented in the README) so scripts can react to a conflict
differently from an unreachable server. Operations and preconditions keep the order in
which they were given on the command line, because operations apply in order.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import Any, Callable, Sequence, TextIO

from . import __version__
from .admin import Metrics
from .client import Client
from .errors import (
    BadRequest,
    Conflict,
    ContentTooLarge,
    Forbidden,
    LeaderChanged,
    LogTruncated,
    MethodNotAllowed,
    NotFound,
    StreamError,
    TooManyRequests,
    TooOld,
    TransportError,
    Unauthorized,
    Unavailable,
    WeaselError,
)
from .model import (
    Checkpoint,
    CommitResult,
    Delete,
    Event,
    Operation,
    PointRead,
    Precondition,
    RangeDelete,
    RangeRead,
    RetentionPolicy,
    Rollback,
    Transaction,
    UnknownOperation,
    Write,
    b64decode,
    b64encode,
    encode_operation,
)

__all__ = ["main", "EXIT_CODES"]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_TRANSPORT = 3
EXIT_BAD_REQUEST = 4
EXIT_UNAUTHORIZED = 5
EXIT_FORBIDDEN = 6
EXIT_NOT_FOUND = 7
EXIT_CONFLICT = 8
EXIT_TOO_OLD = 9
EXIT_LEADER_CHANGED = 10
EXIT_LOG_TRUNCATED = 11
EXIT_CONTENT_TOO_LARGE = 12
EXIT_TOO_MANY_REQUESTS = 13
EXIT_UNAVAILABLE = 14
EXIT_OUTCOME_UNKNOWN = 15
EXIT_STREAM = 16
EXIT_INTERRUPTED = 130

#: Error class -> exit code, most specific first.
EXIT_CODES: list[tuple[type[BaseException], int]] = [
    (Conflict, EXIT_CONFLICT),
    (TooOld, EXIT_TOO_OLD),
    (LeaderChanged, EXIT_LEADER_CHANGED),
    (LogTruncated, EXIT_LOG_TRUNCATED),
    (BadRequest, EXIT_BAD_REQUEST),
    (MethodNotAllowed, EXIT_BAD_REQUEST),
    (Unauthorized, EXIT_UNAUTHORIZED),
    (Forbidden, EXIT_FORBIDDEN),
    (NotFound, EXIT_NOT_FOUND),
    (ContentTooLarge, EXIT_CONTENT_TOO_LARGE),
    (TooManyRequests, EXIT_TOO_MANY_REQUESTS),
    (Unavailable, EXIT_UNAVAILABLE),
    (TransportError, EXIT_TRANSPORT),
    (StreamError, EXIT_STREAM),
    (WeaselError, EXIT_ERROR),
]


class UsageError(Exception):
    """A bad command-line argument (exit code 2)."""


# -- argument parsing ---------------------------------------------------------------------


class _Ordered(argparse.Action):
    """Append ``(option, values)`` to one shared list so the relative order survives.

    ``form`` is what ``--help`` shows for the arguments (argparse cannot say "one or two").
    """

    def __init__(self, *args: Any, form: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.form = form

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        items = list(getattr(namespace, self.dest, None) or [])
        items.append((self.const, list(values) if isinstance(values, list) else [values]))
        setattr(namespace, self.dest, items)


class _Formatter(argparse.HelpFormatter):
    def _format_args(self, action: argparse.Action, default_metavar: str) -> str:
        form = getattr(action, "form", None)
        if isinstance(form, str):
            return form
        return super()._format_args(action, default_metavar)


def _positive_seconds(text: str) -> float:
    """argparse type of ``--timeout``: a positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def _non_empty(text: str) -> str:
    """argparse type of ids (policy id, request id): not the empty string."""
    if not text:
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def _global_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    def d(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument("--url", default=d(os.environ.get("WEASELDB_URL") or "http://127.0.0.1:8080"),
                        help="server URL (env WEASELDB_URL, default http://127.0.0.1:8080)")
    parser.add_argument("--token", default=d(os.environ.get("WEASELDB_TOKEN")),
                        help="bearer token (env WEASELDB_TOKEN)")
    parser.add_argument("--timeout", type=_positive_seconds, default=d(30.0),
                        help="seconds per request, > 0 (default 30)")
    parser.add_argument("--json", action="store_true", default=d(False), help="print JSON")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="weaseldb", description="WeaselDB command line client.")
    parser.add_argument("--version", action="version", version=f"weaseldb {__version__}")
    _global_options(parser, suppress=False)
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, suppress=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    sub.add_parser("version", parents=[common], help="latest committed version and leader")

    c = sub.add_parser("commit", parents=[common], help="commit a transaction", formatter_class=_Formatter,
                       description="Operations and preconditions apply in the order given; every option "
                                   "gives one of them and may repeat. Keys and values are UTF-8 text "
                                   "unless --b64. Each option takes one argument (KEY=VALUE) or its parts "
                                   "as separate arguments (KEY VALUE); keys given separately must not "
                                   "contain the separators (= : @), so that --write a=1 b=2 is refused "
                                   "rather than read as one write: use one option per item, and --b64 for "
                                   "keys containing a separator.")
    c.add_argument("--write", dest="ops", action=_Ordered, const="write", nargs="+",
                   form="KEY=VALUE | KEY VALUE", help="set KEY to VALUE")
    c.add_argument("--delete", dest="ops", action=_Ordered, const="delete", nargs=1, metavar="KEY",
                   help="remove KEY")
    c.add_argument("--range-delete", dest="ops", action=_Ordered, const="range_delete", nargs="+",
                   form="BEGIN:END | BEGIN END", help="remove every key in [BEGIN, END)")
    c.add_argument("--point-read", dest="pre", action=_Ordered, const="point_read", nargs="+",
                   form="KEY[@VERSION] | KEY VERSION",
                   help="precondition: KEY unchanged after VERSION (default --read-version)")
    c.add_argument("--range-read", dest="pre", action=_Ordered, const="range_read", nargs="+",
                   form="BEGIN:END[@VERSION] | BEGIN END [VERSION]",
                   help="precondition: no key in [BEGIN, END) changed after VERSION (default --read-version)")
    c.add_argument("--read-version", type=int)
    c.add_argument("--request-id")
    c.add_argument("--leader-id")
    c.add_argument("--b64", action="store_true", help="keys and values are standard base64")

    s = sub.add_parser("status", parents=[common], help="final outcome of a request id")
    s.add_argument("request_id", type=_non_empty)
    s.add_argument("--min-version", type=int)

    sb = sub.add_parser("subscribe", parents=[common], help="print committed transactions as they come")
    sb.add_argument("--after", type=int, help="start after this version (default: now)")
    sb.add_argument("--no-durable", dest="durable", action="store_false",
                    help="also non-durable transactions (with checkpoints and rollbacks)")
    sb.add_argument("--limit", type=int, help="stop after N transactions")

    r = sub.add_parser("retention", parents=[common], help="retention policies")
    rs = r.add_subparsers(dest="action", metavar="ACTION", required=True)
    rs.add_parser("list", parents=[common], help="every live policy and the oldest version still stored")
    g = rs.add_parser("get", parents=[common], help="one policy")
    g.add_argument("policy_id", type=_non_empty)
    p = rs.add_parser("put", parents=[common], help="create or replace a policy: keep versions after VERSION")
    p.add_argument("policy_id", type=_non_empty)
    p.add_argument("version", type=int)
    p.add_argument("--ttl", type=int, dest="ttl_seconds", help="seconds until the policy expires")
    dl = rs.add_parser("delete", parents=[common], help="delete a policy")
    dl.add_argument("policy_id", type=_non_empty)

    m = sub.add_parser("metrics", parents=[common], help="scrape /metrics")
    m.add_argument("prefix", nargs="?", help="only metrics whose name starts with this")

    sub.add_parser("ok", parents=[common], help="health check")
    return parser


# -- key/value text ------------------------------------------------------------------------


def _decode(text: str, b64: bool) -> bytes:
    if b64:
        try:
            return b64decode(text)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    return text.encode("utf-8")


def _valid_b64(text: str) -> bool:
    try:
        b64decode(text)
    except ValueError:
        return False
    return True


def _b64_split_at_eq(text: str) -> tuple[str, str] | None:
    """The first split of ``text`` at an ``=`` leaving valid base64 on both sides."""
    for i, ch in enumerate(text):
        if ch == "=" and _valid_b64(text[:i]) and _valid_b64(text[i + 1:]):
            return text[:i], text[i + 1:]
    return None


def _has_sep(text: str, sep: str, b64: bool) -> bool:
    """Whether ``text`` holds ``sep`` as a separator (in base64 mode ``=`` is also
    padding: it separates only where both sides are valid base64)."""
    if b64 and sep == "=":
        return _b64_split_at_eq(text) is not None
    return sep in text


def _check_parts(values: list[str], parts: list[str], seps: str, b64: bool, what: str, form: str) -> None:
    """Parts given as separate arguments must not contain a separator: ``--write a=1 b=2``
    is two writes written wrongly, not the write of key ``a=1``."""
    for part in parts:
        for sep in seps:
            if _has_sep(part, sep, b64):
                raise UsageError(
                    f"{what}: ambiguous arguments {' '.join(values)}: {part!r} contains {sep!r}, but the "
                    f"parts were given as separate arguments. Use {form} (one {what} per item), or "
                    f"separate arguments that do not contain {sep!r} (a key containing it needs --b64)")


def _split_pair(values: list[str], sep: str, b64: bool, what: str, form: str) -> tuple[str, str]:
    """``A<sep>B`` (one argument) or ``A B`` (two arguments, neither containing ``sep``).

    In base64 mode ``=`` is also padding: the split is the one that leaves valid base64
    on both sides."""
    if len(values) == 2:
        # the first part is a key: "a=1 b=2" is refused, a value such as "a=b" is not
        _check_parts(values, values[:1], sep, b64, what, form)
        return values[0], values[1]
    if len(values) != 1:
        raise UsageError(f"{what}: expected {form} or {form.replace(sep, ' ')}, "
                         f"got {len(values)} arguments: {' '.join(values)}")
    text = values[0]
    if b64 and sep == "=":
        split = _b64_split_at_eq(text)
        if split is None:
            raise UsageError(f"{what}: cannot split {text!r} into two base64 strings")
        return split
    if sep == ":" and text.count(":") != 1:
        raise UsageError(f"{what}: {text!r} must contain exactly one ':'; pass BEGIN END as two arguments")
    if sep not in text:
        raise UsageError(f"{what}: {text!r} has no {sep!r}")
    a, _, b = text.partition(sep)
    return a, b


def _version(text: str, what: str) -> int:
    if not text.isdigit():
        raise UsageError(f"{what}: VERSION must be decimal digits, got {text!r}")
    return int(text)


def _split_version(values: list[str], parts: int, what: str) -> tuple[list[str], int | None]:
    """Split a read's arguments into its ``parts`` key arguments and its version.

    One argument: a trailing ``@VERSION`` (digits after the last ``@``) is the version.
    Separate arguments: ``parts`` of them are the key parts (taken as they are) and one
    more, if given, is the version (decimal digits). So ``--range-read a z 5`` reads
    ``[a, z)`` at 5, and ``--range-read a 5`` the range ``[a, 5)``.
    """
    if len(values) == 1:
        text = values[0]
        at = text.rfind("@")
        if at >= 0 and text[at + 1:].isdigit():
            return [text[:at]], int(text[at + 1:])
        return values, None
    if len(values) == parts:
        return values, None
    if len(values) == parts + 1:
        return values[:-1], _version(values[-1], what)
    raise UsageError(f"{what}: expected 1, {parts} or {parts + 1} arguments, got {len(values)}: {' '.join(values)}")


def parse_commit_args(args: argparse.Namespace) -> tuple[list[Operation], list[Precondition]]:
    ops: list[Operation] = []
    pres: list[Precondition] = []
    b64 = bool(args.b64)
    for kind, values in args.ops or []:
        if kind == "write":
            k, v = _split_pair(values, "=", b64, "--write", "KEY=VALUE")
            ops.append(Write(_decode(k, b64), _decode(v, b64)))
        elif kind == "delete":
            ops.append(Delete(_decode(values[0], b64)))
        else:
            b, e = _split_pair(values, ":", b64, "--range-delete", "BEGIN:END")
            ops.append(RangeDelete(_decode(b, b64), _decode(e, b64)))
    for kind, values in args.pre or []:
        if kind == "point_read":
            parts, at = _split_version(values, 1, "--point-read")
            if len(values) > 1:
                _check_parts(values, parts, "@", b64, "--point-read", "KEY[@VERSION]")
            pres.append(PointRead(_decode(parts[0], b64), at))
        else:
            parts, at = _split_version(values, 2, "--range-read")
            if len(values) > 1:
                _check_parts(values, parts, ":@", b64, "--range-read", "BEGIN:END[@VERSION]")
            b, e = _split_pair(parts, ":", b64, "--range-read", "BEGIN:END")
            pres.append(RangeRead(_decode(b, b64), _decode(e, b64), at))
    return ops, pres


def show(data: bytes) -> str:
    """Bytes for humans: the text when it is printable UTF-8, else ``base64:...``."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return "base64:" + b64encode(data)
    if text.isprintable() and not text.startswith("base64:"):
        return text
    return "base64:" + b64encode(data)


# -- output ----------------------------------------------------------------------------------


class Out:
    def __init__(self, as_json: bool, stdout: TextIO, stderr: TextIO) -> None:
        self.as_json = as_json
        self.stdout = stdout
        self.stderr = stderr

    def json(self, doc: Any) -> None:
        self.stdout.write(json.dumps(_finite(doc), separators=(",", ":"), sort_keys=False) + "\n")
        self.stdout.flush()

    def line(self, text: str) -> None:
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def emit(self, doc: Any, human: Callable[[], str]) -> None:
        if self.as_json:
            self.json(doc)
        else:
            self.line(human())


def _finite(doc: Any) -> Any:
    if isinstance(doc, float) and not math.isfinite(doc):
        return "NaN" if math.isnan(doc) else ("+Inf" if doc > 0 else "-Inf")
    if isinstance(doc, dict):
        return {k: _finite(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_finite(v) for v in doc]
    return doc


def _op_text(op: Operation | UnknownOperation) -> str:
    if isinstance(op, Write):
        return f"write {show(op.key)} = {show(op.value)}"
    if isinstance(op, Delete):
        return f"delete {show(op.key)}"
    if isinstance(op, RangeDelete):
        return f"range_delete [{show(op.begin)}, {show(op.end)})"
    return f"{op.type} {json.dumps(dict(op.raw))}"


def _event_json(event: Event) -> dict[str, Any]:
    if isinstance(event, Transaction):
        doc = dict(event.raw) or {
            "request_id": event.request_id, "version": event.version, "prev_version": event.prev_version,
            "timestamp": event.timestamp, "leader_id": event.leader_id,
            "operations": [encode_operation(o) if not isinstance(o, UnknownOperation) else dict(o.raw)
                           for o in event.operations],
        }
        return {"event": "transaction", **doc}
    if isinstance(event, Checkpoint):
        return {"event": "checkpoint", **(dict(event.raw) or {"committed_version": event.committed_version,
                                                              "leader_id": event.leader_id})}
    return {"event": "rollback", "version": event.version, "discarded": event.discarded}


def _event_text(event: Event) -> str:
    if isinstance(event, Transaction):
        head = (f"transaction {event.version} prev={event.prev_version} request_id={event.request_id} "
                f"leader={event.leader_id} time={event.timestamp}")
        return "\n".join([head] + ["  " + _op_text(op) for op in event.operations])
    if isinstance(event, Checkpoint):
        return f"checkpoint {event.committed_version} leader={event.leader_id}"
    return f"rollback to {event.version}: discard {event.discarded} non-durable transaction(s) after it"


def _policy_text(p: RetentionPolicy) -> str:
    extra = ""
    if p.ttl_seconds is not None:
        extra += f" ttl={p.ttl_seconds}s"
    if p.expires_at:
        extra += f" expires_at={p.expires_at}"
    if p.updated_at:
        extra += f" updated_at={p.updated_at}"
    return f"{p.policy_id} version={p.version}{extra}"


def _metric_value(value: float) -> str:
    """A sample value in the Prometheus text format, without losing precision:
    integral values as integers (``268435456``, not ``2.68435e+08``), others exactly
    (``repr``), and ``NaN``/``+Inf``/``-Inf``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 2.0 ** 63:
        return str(int(value))
    return repr(float(value))


def _label_value(text: str) -> str:
    """Escape a label value as the Prometheus text format does: backslash, double quote
    and line feed become ``\\\\``, ``\\"`` and ``\\n``."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _metric_line(name: str, labels: tuple[tuple[str, str], ...], value: float) -> str:
    if labels:
        inner = ",".join(f'{k}="{_label_value(v)}"' for k, v in labels)
        return f"{name}{{{inner}}} {_metric_value(value)}"
    return f"{name} {_metric_value(value)}"


# -- commands --------------------------------------------------------------------------------


def _run(args: argparse.Namespace, out: Out) -> int:
    try:
        client = Client(args.url, timeout=args.timeout, token=args.token)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    with client:  # main() may be called many times in one process: leave no socket open
        return _run_command(args, client, out)


def _run_command(args: argparse.Namespace, client: Client, out: Out) -> int:
    cmd = args.command
    if cmd == "version":
        v = client.version()
        out.emit(dict(v.raw) or {"version": v.version, "leader_id": v.leader_id},
                 lambda: f"{v.version} leader={v.leader_id}")
    elif cmd == "commit":
        ops, pres = parse_commit_args(args)
        # The commit cannot commit at or before this version: /v1/status needs it as
        # min_version to answer once old request-id history has expired (api.md).
        args.status_min_version = args.read_version
        if args.status_min_version is None:
            try:
                args.status_min_version = client.version().version
            except WeaselError:
                pass  # the commit itself will say what is wrong
        result: CommitResult = client.commit(ops, pres, read_version=args.read_version,
                                             request_id=args.request_id, leader_id=args.leader_id)
        out.emit(dict(result.raw), lambda: (
            f"committed version={result.version} leader={result.leader_id} request_id={result.request_id}"
            + (" (duplicate: already committed earlier)" if result.duplicate else "")))
    elif cmd == "status":
        st = client.status(args.request_id, min_version=args.min_version)
        out.emit(dict(st.raw), lambda: (
            f"{st.status} version={st.version}" + (f" leader={st.leader_id}" if st.leader_id else "")
            + f" request_id={st.request_id or args.request_id}"))
    elif cmd == "subscribe":
        seen = 0
        if args.limit is not None and args.limit <= 0:
            return EXIT_OK
        with client.subscribe(after=args.after, durable=args.durable) as sub:
            for event in sub:
                out.emit(_event_json(event), lambda: _event_text(event))
                if isinstance(event, Transaction):
                    seen += 1
                    if args.limit is not None and seen >= args.limit:
                        break
    elif cmd == "retention":
        if args.action == "list":
            lst = client.list_retention()
            out.emit(dict(lst.raw) or {"policies": [dict(p.raw) for p in lst.policies],
                                       "oldest_version": lst.oldest_version},
                     lambda: "\n".join([f"oldest_version={lst.oldest_version}"]
                                       + [_policy_text(p) for p in lst.policies]))
        elif args.action == "get":
            pol = client.get_retention(args.policy_id)
            out.emit(dict(pol.raw), lambda: _policy_text(pol))
        elif args.action == "put":
            pol = client.put_retention(args.policy_id, args.version, ttl_seconds=args.ttl_seconds)
            out.emit(dict(pol.raw), lambda: _policy_text(pol))
        else:
            client.delete_retention(args.policy_id)
            out.emit({"deleted": args.policy_id}, lambda: f"deleted {args.policy_id}")
    elif cmd == "metrics":
        metrics: Metrics = client.metrics()
        rows = sorted((k, v) for k, v in metrics.items() if not args.prefix or k[0].startswith(args.prefix))
        if out.as_json:
            out.json([{"name": n, "labels": dict(labels), "value": x} for (n, labels), x in rows])
        else:
            for (n, labels), x in rows:
                out.line(_metric_line(n, labels, x))
    elif cmd == "ok":
        h = client.ok()
        out.emit(dict(h.raw), lambda: f"{h.status} version={h.version} leader={h.leader_id}")
    client.close()
    return EXIT_OK


def exit_code_for(exc: BaseException, *, command: str | None = None) -> int:
    """The exit code of an error; a commit whose outcome is unknown gets its own."""
    if command == "commit" and isinstance(exc, WeaselError) and exc.outcome_unknown:
        return EXIT_OUTCOME_UNKNOWN
    for cls, code in EXIT_CODES:
        if isinstance(exc, cls):
            return code
    return EXIT_ERROR


def _describe(exc: WeaselError, command: str | None, min_version: int | None = None) -> str:
    text = str(exc)
    if isinstance(exc, Conflict):
        text += f" (failed preconditions {exc.conflicts}; retry from version {exc.version})"
    elif isinstance(exc, (TooOld, LeaderChanged)) and exc.version is not None:
        text += f" (current version {exc.version}, leader {exc.leader_id})"
    elif isinstance(exc, LogTruncated) and exc.oldest_version is not None:
        text += f" (oldest retained version {exc.oldest_version})"
    elif isinstance(exc, (Unavailable, TooManyRequests)) and exc.retry_after is not None:
        text += f" (retry after {exc.retry_after:g}s)"
    if isinstance(exc, Unavailable) and exc.leader_url is not None:
        text += f" (the leader is at {exc.leader_url}: use --url {exc.leader_url})"
    if command == "commit" and exc.outcome_unknown:
        where = f" --min-version {min_version}" if min_version is not None else ""
        text += (f"; the commit may or may not have happened: run `weaseldb status {exc.request_id}{where}` "
                 "to find out (that makes the outcome final)")
    return text


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run the CLI; returns the exit code (see README)."""
    out_stream = stdout or sys.stdout
    err_stream = stderr or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    out = Out(bool(args.json), out_stream, err_stream)
    command = getattr(args, "command", None)
    try:
        return _run(args, out)
    except (UsageError, ValueError) as exc:
        # ValueError: an argument the library refused before sending anything (the
        # server's answers raise WeaselError, never ValueError).
        err_stream.write(f"weaseldb: error: {exc}\n")
        return EXIT_USAGE
    except WeaselError as exc:
        err_stream.write(f"weaseldb: {command}: {_describe(exc, command, getattr(args, 'status_min_version', None))}\n")
        if out.as_json and exc.body:
            out.json(exc.body)
        return exit_code_for(exc, command=command)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): not an error of ours.
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        except OSError:
            pass
        return EXIT_OK
