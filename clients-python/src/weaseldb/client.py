"""The WeaselDB client: one object per server, shared freely between threads.

Every method maps to one endpoint of the contract (``docs/api.md``), takes and returns
``bytes`` and typed values, and raises the typed errors of :mod:`weaseldb.errors`. The
higher-level pieces (transaction loop, subscription, replica) live in their own modules
and are reached from here so a user needs one import.
"""

from __future__ import annotations

import json
import ssl
import urllib.parse
from typing import Any, Callable, Iterable, Mapping, Protocol, TypeVar

from .admin import Metrics, MetricsParseError, parse_metrics
from .errors import BadResponse, WeaselError
from .model import (
    CommitResult,
    Health,
    Operation,
    Precondition,
    RetentionList,
    RetentionPolicy,
    StatusResult,
    VersionInfo,
    _as_str,
    _as_version,
    encode_operation,
    encode_precondition,
    operation_list,
    precondition_list,
)
from .subscribe import Subscription
from .transport import DEFAULT_URL, Response, Transport
from .txn import Txn, TxnResult, new_request_id, run_transaction

__all__ = ["Client"]

T = TypeVar("T")
R = TypeVar("R", covariant=True)


class Client:
    """Thread-safe client for one WeaselDB server.

    Args:
        url: ``http(s)://host:port`` (a path prefix is kept, for servers behind a proxy).
        timeout: seconds for connecting and for each read of a response.
        token: sent as ``Authorization: Bearer <token>``.
        max_idle_connections: keep-alive connections kept for reuse.
        auto_request_id: give every commit a request id when the caller has none, so
            any commit can be retried or resolved through ``/v1/status``. Turn off to let
            the server generate ids.
        request_id_factory: makes those ids (default: 40 random hex characters).
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        timeout: float | None = 30.0,
        token: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        max_idle_connections: int = 8,
        auto_request_id: bool = True,
        request_id_factory: Callable[[], str] = new_request_id,
    ) -> None:
        self.transport = Transport(url, timeout=timeout, token=token, ssl_context=ssl_context,
                                   max_idle_connections=max_idle_connections)
        self.auto_request_id = auto_request_id
        self.request_id_factory = request_id_factory

    @property
    def url(self) -> str:
        return self.transport.url

    def close(self) -> None:
        """Close idle keep-alive connections."""
        self.transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    # -- core API --------------------------------------------------------------------

    def version(self) -> VersionInfo:
        """``GET /v1/version``: a version covering every commit acknowledged so far."""
        resp, doc = self.transport.request_json("GET", "/v1/version")
        return _parse(VersionInfo, resp, doc)

    @staticmethod
    def commit_body(
        operations: Iterable[Operation] = (),
        preconditions: Iterable[Precondition] = (),
        *,
        read_version: int | None = None,
        request_id: str | None = None,
        leader_id: str | None = None,
    ) -> dict[str, Any]:
        """The JSON document of a commit, exactly as sent (useful for tests and tools).

        Raises ``TypeError`` before anything is sent for arguments of the wrong type: a
        single operation instead of a list, a ``str`` read version, a non-``str`` id.
        """
        ops = operation_list(operations)
        pres = precondition_list(preconditions)
        doc: dict[str, Any] = {}
        if _as_str(request_id, "request_id") is not None:
            doc["request_id"] = request_id
        if _as_str(leader_id, "leader_id") is not None:
            doc["leader_id"] = leader_id
        if _as_version(read_version, "read_version") is not None:
            doc["read_version"] = read_version
        doc["preconditions"] = [encode_precondition(p) for p in pres]
        doc["operations"] = [encode_operation(o) for o in ops]
        return doc

    def commit(
        self,
        operations: Iterable[Operation] = (),
        preconditions: Iterable[Precondition] = (),
        *,
        read_version: int | None = None,
        request_id: str | None = None,
        leader_id: str | None = None,
    ) -> CommitResult:
        """``POST /v1/commit``: commit ``operations`` if every precondition holds.

        Raises :class:`~weaseldb.errors.Conflict` (``.conflicts``, ``.version`` to retry
        from), :class:`~weaseldb.errors.TooOld`, :class:`~weaseldb.errors.LeaderChanged`,
        and, when the outcome is unknown (``err.outcome_unknown``: the connection broke
        after sending, 503 ``outcome: unknown``, or a 5xx without the server's
        ``outcome``, such as a proxy's 502/504), an error whose ``request_id`` can be
        passed to :meth:`status`. The result's ``duplicate`` is true when this request id
        had already committed.

        A commit with a request id (yours, or the client's own unless
        ``auto_request_id=False``) is sent again once, with the same id, when a pooled
        keep-alive connection breaks before any answer. Without a request id it is never
        resent (it could apply twice): that failure raises
        :class:`~weaseldb.errors.TransportError` with ``sent=True`` (outcome unknown, and
        with no id it cannot be resolved through :meth:`status`).
        """
        if request_id is None and self.auto_request_id:
            request_id = self.request_id_factory()
        doc = self.commit_body(operations, preconditions, read_version=read_version,
                               request_id=request_id, leader_id=leader_id)
        try:
            resp, answer = self.transport.request_json("POST", "/v1/commit", doc=doc, request_id=request_id,
                                                       retry_stale=request_id is not None, commit=True)
        except WeaselError as exc:
            if exc.request_id is None:
                exc.request_id = request_id
            raise
        return _parse(CommitResult, resp, answer, request_id=request_id)

    def status(self, request_id: str, min_version: int | None = None) -> StatusResult:
        """``GET /v1/status``: the final outcome of ``request_id``.

        Asking makes the outcome final: afterwards that id can no longer commit.
        ``min_version`` is the oldest version the commit could have got (its read
        version); a server whose history does not reach back that far answers 410
        (:class:`~weaseldb.errors.LogTruncated`) instead of guessing. ``TypeError`` for a
        ``request_id`` that is not a ``str`` or a ``min_version`` that is not an ``int``.
        """
        _as_str(request_id, "request_id", optional=False)
        _as_version(min_version, "min_version")
        resp, doc = self.transport.request_json(
            "GET", "/v1/status", query={"request_id": request_id, "min_version": min_version})
        return _parse(StatusResult, resp, doc)

    def subscribe(
        self,
        after: int | None = None,
        durable: bool = True,
        **options: Any,
    ) -> Subscription:
        """``GET /v1/subscribe`` as a self-reconnecting iterator of typed events.

        ``after=None`` starts at the current version (live tail). ``options`` go to
        :class:`~weaseldb.subscribe.Subscription` (``idle_timeout``,
        ``max_reconnects``, ``backoff``, ``sleep``). ``TypeError`` for an ``after``
        that is not an ``int``.
        """
        _as_version(after, "after")
        return Subscription(self, after, durable, **options)

    def transact(
        self,
        fn: Callable[[Txn], T],
        *,
        retries: int | None = 10,
        **options: Any,
    ) -> TxnResult[T]:
        """Run ``fn`` in an optimistic transaction; see :func:`weaseldb.txn.run_transaction`."""
        return run_transaction(self, fn, retries=retries, **options)

    # -- admin -------------------------------------------------------------------------

    def put_retention(self, policy_id: str, version: int, ttl_seconds: int | None = None) -> RetentionPolicy:
        """Create or replace a retention policy (201 or 200); pins the log above ``version``."""
        doc: dict[str, Any] = {"version": version}
        if ttl_seconds is not None:
            doc["ttl_seconds"] = ttl_seconds
        resp, answer = self.transport.request_json("PUT", _policy_path(policy_id), doc=doc, ok=(200, 201))
        return _parse(RetentionPolicy, resp, answer)

    def get_retention(self, policy_id: str) -> RetentionPolicy:
        """One policy; :class:`~weaseldb.errors.NotFound` if it does not exist."""
        resp, answer = self.transport.request_json("GET", _policy_path(policy_id))
        return _parse(RetentionPolicy, resp, answer)

    def list_retention(self) -> RetentionList:
        """Every policy and the oldest version still retained."""
        resp, answer = self.transport.request_json("GET", "/v1/retention/")
        return _parse(RetentionList, resp, answer)

    def delete_retention(self, policy_id: str) -> None:
        """Delete a policy (204); :class:`~weaseldb.errors.NotFound` if absent.

        When a pooled connection broke before any answer and the DELETE was sent again,
        a 404 to the second attempt counts as success: the first attempt may have
        deleted the policy. Either way the policy is gone when this returns.
        """
        resp = self.transport.request("DELETE", _policy_path(policy_id))
        if resp.status in (200, 204) or (resp.status == 404 and resp.retried):
            return
        raise resp.error()

    def metrics_text(self) -> str:
        """The raw Prometheus exposition of ``GET /metrics``."""
        resp = self.transport.request("GET", "/metrics", headers={"Accept": "text/plain; version=0.0.4"})
        if resp.status != 200:
            raise resp.error()
        return resp.body.decode("utf-8", "replace")

    def metrics(self) -> Metrics:
        """``GET /metrics`` parsed: ``{(name, labels): value}``.

        An exposition that does not parse raises :class:`~weaseldb.errors.BadResponse`
        (its ``__cause__`` is the :class:`~weaseldb.admin.MetricsParseError`).
        """
        try:
            return parse_metrics(self.metrics_text())
        except MetricsParseError as exc:
            raise BadResponse(f"GET /metrics: {exc}", status=200) from exc

    def ok(self) -> Health:
        """``GET /ok``: raises :class:`~weaseldb.errors.Unavailable` when not healthy."""
        resp, doc = self.transport.request_json("GET", "/ok")
        return _parse(Health, resp, doc)

    # -- escape hatch --------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str | Mapping[str, Any] | None = None,
        *,
        query: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        retry_stale: bool = False,
    ) -> Response:
        """Send any request and return the raw response without raising on its status.

        For tests and tools that need what the typed API will not send (malformed
        bodies, unknown paths). A mapping body is sent as JSON.
        """
        data: bytes | None
        if body is None:
            data = None
        elif isinstance(body, bytes):
            data = body
        elif isinstance(body, str):
            data = body.encode("utf-8")
        else:
            data = json.dumps(body, separators=(",", ":")).encode("utf-8")
        return self.transport.request(method, path, query=query, body=data, headers=headers,
                                      retry_stale=retry_stale)


class _FromJson(Protocol[R]):
    def from_json(self, doc: Mapping[str, Any], /) -> R: ...


def _parse(cls: _FromJson[R], resp: Response, doc: Any, *, request_id: str | None = None) -> R:
    """``cls.from_json(doc)``; a body that is not the contract's shape (not an object, a
    field missing or of the wrong type) raises :class:`BadResponse`, never a bare
    ``ValueError``/``TypeError``."""
    try:
        if not isinstance(doc, dict):
            raise ValueError(f"expected a JSON object, got {doc!r}")
        return cls.from_json(doc)
    except (ValueError, TypeError) as exc:
        raise BadResponse(f"unexpected response: {exc}"[:500], status=resp.status,
                          body=doc if isinstance(doc, dict) else None, request_id=request_id) from exc


def _policy_path(policy_id: str) -> str:
    if not policy_id:
        raise ValueError("policy_id must not be empty")
    return "/v1/retention/" + urllib.parse.quote(policy_id, safe="")

