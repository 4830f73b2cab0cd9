"""Values exchanged with the server: preconditions, operations, results and events.

Keys and values are ``bytes`` everywhere in the API; base64 (standard alphabet, with
padding, as the contract requires) appears only in :func:`encode_*` / :func:`decode_*`
here, so no caller ever handles the wire encoding. Results keep the decoded JSON in
``raw`` so fields added by a newer server are not lost.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Mapping, Union

__all__ = [
    "PointRead",
    "RangeRead",
    "Write",
    "Delete",
    "RangeDelete",
    "UnknownOperation",
    "Precondition",
    "Operation",
    "CommitResult",
    "VersionInfo",
    "StatusResult",
    "Health",
    "Transaction",
    "Checkpoint",
    "Rollback",
    "Event",
    "RetentionPolicy",
    "RetentionList",
    "b64encode",
    "b64decode",
    "encode_precondition",
    "encode_operation",
    "decode_operation",
    "decode_precondition",
]


def b64encode(data: bytes) -> str:
    """Standard base64 with padding (RFC 4648 section 4), as on the wire."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str) -> bytes:
    """Strict standard base64: rejects characters outside the alphabet and bad padding."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError(f"invalid base64: {text!r}") from exc


def _as_bytes(value: Any, what: str) -> bytes:
    # str is the classic mistake (keys are bytes, not text); refuse it loudly.
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{what} must be bytes, not {type(value).__name__}")


def _as_str(value: Any, what: str, *, optional: bool = True) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    return value


def _items(values: Any, what: str, single: tuple[type, ...], example: str) -> list[Any]:
    """A list of operations or preconditions, refusing a lone item or a string early."""
    if isinstance(values, single):
        raise TypeError(f"{what} must be a list, got a single {type(values).__name__}: "
                        f"pass [{type(values).__name__}(...)], e.g. {example}")
    if isinstance(values, (str, bytes, bytearray, memoryview, dict)):
        raise TypeError(f"{what} must be a list, not {type(values).__name__}, e.g. {example}")
    try:
        return list(values)
    except TypeError:
        raise TypeError(f"{what} must be a list, not {type(values).__name__}, e.g. {example}") from None


def _as_version(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    return value


@dataclass(frozen=True)
class PointRead:
    """Precondition: ``key`` unchanged by any transaction newer than ``version``.

    ``version`` defaults to the commit's ``read_version``.
    """

    key: bytes
    version: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", _as_bytes(self.key, "PointRead.key"))
        _as_version(self.version, "PointRead.version")


@dataclass(frozen=True)
class RangeRead:
    """Precondition: no key in ``[begin, end)`` changed after ``version``."""

    begin: bytes
    end: bytes
    version: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "begin", _as_bytes(self.begin, "RangeRead.begin"))
        object.__setattr__(self, "end", _as_bytes(self.end, "RangeRead.end"))
        _as_version(self.version, "RangeRead.version")


@dataclass(frozen=True)
class Write:
    """Operation: set ``key`` to ``value``."""

    key: bytes
    value: bytes

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", _as_bytes(self.key, "Write.key"))
        object.__setattr__(self, "value", _as_bytes(self.value, "Write.value"))


@dataclass(frozen=True)
class Delete:
    """Operation: remove ``key``."""

    key: bytes

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", _as_bytes(self.key, "Delete.key"))


@dataclass(frozen=True)
class RangeDelete:
    """Operation: remove every key in ``[begin, end)``."""

    begin: bytes
    end: bytes

    def __post_init__(self) -> None:
        object.__setattr__(self, "begin", _as_bytes(self.begin, "RangeDelete.begin"))
        object.__setattr__(self, "end", _as_bytes(self.end, "RangeDelete.end"))


@dataclass(frozen=True)
class UnknownOperation:
    """An operation type this client does not know (sent by a newer server).

    Kept rather than dropped so a consumer can decide; :class:`weaseldb.Replica` refuses
    to apply it because it cannot know its effect.
    """

    type: str
    raw: Mapping[str, Any] = field(default_factory=dict)


Precondition = Union[PointRead, RangeRead]
Operation = Union[Write, Delete, RangeDelete]


def operation_list(operations: Any) -> list[Operation]:
    """``operations`` as a list; a clear ``TypeError`` for a lone operation or precondition."""
    return _items(operations, "operations", (Write, Delete, RangeDelete, UnknownOperation, PointRead, RangeRead),
                  "[Write(b'k', b'v')]")


def precondition_list(preconditions: Any) -> list[Precondition]:
    """``preconditions`` as a list; a clear ``TypeError`` for a lone precondition or operation."""
    return _items(preconditions, "preconditions", (PointRead, RangeRead, Write, Delete, RangeDelete),
                  "[PointRead(b'k')]")


def encode_precondition(pre: Precondition) -> dict[str, Any]:
    """The JSON object of one precondition, keys in the contract's order."""
    out: dict[str, Any]
    if isinstance(pre, PointRead):
        out = {"type": "point_read", "key": b64encode(pre.key)}
    elif isinstance(pre, RangeRead):
        out = {"type": "range_read", "begin": b64encode(pre.begin), "end": b64encode(pre.end)}
    else:
        raise TypeError(f"not a precondition: {pre!r}")
    if pre.version is not None:
        out["version"] = pre.version
    return out


def encode_operation(op: Operation) -> dict[str, Any]:
    """The JSON object of one operation, keys in the contract's order."""
    if isinstance(op, Write):
        return {"type": "write", "key": b64encode(op.key), "value": b64encode(op.value)}
    if isinstance(op, Delete):
        return {"type": "delete", "key": b64encode(op.key)}
    if isinstance(op, RangeDelete):
        return {"type": "range_delete", "begin": b64encode(op.begin), "end": b64encode(op.end)}
    raise TypeError(f"not an operation: {op!r}")


def _field(doc: Mapping[str, Any], name: str, kind: type) -> Any:
    value = doc.get(name)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"field {name!r} missing or not a {kind.__name__}: {dict(doc)!r}")
    return value


def decode_operation(doc: Any) -> Operation | UnknownOperation:
    """Parse one operation as found in subscribe events (same shape as in commits)."""
    if not isinstance(doc, dict):
        raise ValueError(f"operation is not an object: {doc!r}")
    kind = doc.get("type")
    if kind == "write":
        return Write(b64decode(_field(doc, "key", str)), b64decode(_field(doc, "value", str)))
    if kind == "delete":
        return Delete(b64decode(_field(doc, "key", str)))
    if kind == "range_delete":
        return RangeDelete(b64decode(_field(doc, "begin", str)), b64decode(_field(doc, "end", str)))
    return UnknownOperation(str(kind), dict(doc))


def decode_precondition(doc: Any) -> Precondition:
    """Parse one precondition (used by tests and tools that read commit bodies)."""
    if not isinstance(doc, dict):
        raise ValueError(f"precondition is not an object: {doc!r}")
    kind = doc.get("type")
    version = doc.get("version")
    if kind == "point_read":
        return PointRead(b64decode(_field(doc, "key", str)), version)
    if kind == "range_read":
        return RangeRead(b64decode(_field(doc, "begin", str)), b64decode(_field(doc, "end", str)), version)
    raise ValueError(f"unknown precondition type {kind!r}")


def _opt_str(doc: Mapping[str, Any], name: str) -> str | None:
    value = doc.get(name)
    return value if isinstance(value, str) else None


def _opt_int(doc: Mapping[str, Any], name: str) -> int | None:
    value = doc.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class VersionInfo:
    """``GET /v1/version``: a version usable for externally consistent reads."""

    version: int
    leader_id: str
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> VersionInfo:
        return cls(_field(doc, "version", int), _opt_str(doc, "leader_id") or "", doc)


@dataclass(frozen=True)
class CommitResult:
    """A committed transaction.

    ``duplicate`` is true when the server had already committed this ``request_id``
    (a retry, possibly a transparent one by this client) and returned the original
    outcome instead of committing again.
    """

    version: int
    leader_id: str
    request_id: str
    duplicate: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> CommitResult:
        return cls(
            version=_field(doc, "version", int),
            leader_id=_opt_str(doc, "leader_id") or "",
            request_id=_opt_str(doc, "request_id") or "",
            duplicate=doc.get("duplicate") is True,
            raw=doc,
        )


@dataclass(frozen=True)
class StatusResult:
    """``GET /v1/status``: the final outcome of a request id.

    ``status`` is ``"committed"`` (at ``version``) or ``"not_committed"`` (it did not
    commit at or below ``version`` and now never will).
    """

    request_id: str
    status: str
    version: int
    leader_id: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def committed(self) -> bool:
        return self.status == "committed"

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> StatusResult:
        return cls(
            request_id=_opt_str(doc, "request_id") or "",
            status=_field(doc, "status", str),
            version=_field(doc, "version", int),
            leader_id=_opt_str(doc, "leader_id"),
            raw=doc,
        )


@dataclass(frozen=True)
class Health:
    """``GET /ok``: the commit pipeline is making progress on the leader."""

    status: str
    version: int | None
    leader_id: str | None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Health:
        return cls(_opt_str(doc, "status") or "", _opt_int(doc, "version"), _opt_str(doc, "leader_id"), doc)


@dataclass(frozen=True)
class Transaction:
    """A ``transaction`` event of the subscribe stream.

    ``prev_version`` is the version of the previous transaction in the log (not always
    ``version - 1``: a new leader may start higher), which is how gaps are detected.
    ``timestamp`` is the server's ISO-8601 string; :attr:`time` parses it.
    """

    version: int
    prev_version: int | None
    request_id: str
    timestamp: str
    leader_id: str
    operations: tuple[Operation | UnknownOperation, ...]
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def time(self) -> _dt.datetime | None:
        try:
            return _dt.datetime.fromisoformat(self.timestamp.replace("Z", "+00:00"))
        except ValueError:
            return None

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Transaction:
        ops = doc.get("operations") or []
        if not isinstance(ops, list):
            raise ValueError(f"operations is not a list: {ops!r}")
        return cls(
            version=_field(doc, "version", int),
            prev_version=_opt_int(doc, "prev_version"),
            request_id=_opt_str(doc, "request_id") or "",
            timestamp=_opt_str(doc, "timestamp") or "",
            leader_id=_opt_str(doc, "leader_id") or "",
            operations=tuple(decode_operation(op) for op in ops),
            raw=doc,
        )


@dataclass(frozen=True)
class Checkpoint:
    """A ``checkpoint`` event: every transaction up to ``committed_version`` is durable."""

    committed_version: int
    leader_id: str
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Checkpoint:
        return cls(_field(doc, "committed_version", int), _opt_str(doc, "leader_id") or "", doc)


@dataclass(frozen=True)
class Rollback:
    """Client-side event of a ``durable=False`` subscription (never sent by the server).

    The stream ended while transactions after the last checkpoint had been delivered;
    they may never become durable (e.g. the leader changed), so the consumer must discard
    every transaction with a version greater than ``version``. The subscription then
    resumes from ``version``, as the contract prescribes. ``discarded`` counts them.
    """

    version: int
    discarded: int


Event = Union[Transaction, Checkpoint, Rollback]


@dataclass(frozen=True)
class RetentionPolicy:
    """A retention policy: log data above ``version`` is kept while it lives."""

    policy_id: str
    version: int
    ttl_seconds: int | None = None
    expires_at: str | None = None
    updated_at: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> RetentionPolicy:
        return cls(
            policy_id=_field(doc, "policy_id", str),
            version=_field(doc, "version", int),
            ttl_seconds=_opt_int(doc, "ttl_seconds"),
            expires_at=_opt_str(doc, "expires_at"),
            updated_at=_opt_str(doc, "updated_at"),
            raw=doc,
        )


@dataclass(frozen=True)
class RetentionList:
    """``GET /v1/retention/``: every policy and the oldest version still retained."""

    policies: tuple[RetentionPolicy, ...]
    oldest_version: int | None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> RetentionList:
        items = doc.get("policies") or []
        if not isinstance(items, list):
            raise ValueError(f"policies is not a list: {items!r}")
        return cls(tuple(RetentionPolicy.from_json(p) for p in items), _opt_int(doc, "oldest_version"), doc)
