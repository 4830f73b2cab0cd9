"""Typed exceptions for every failure the WeaselDB API can report.

Every error response of the server has a JSON body ``{"error": code, "message": ...}``
plus extra fields; :func:`error_from_response` turns it into one exception class per
code so callers can ``except Conflict`` instead of comparing strings. All of them share
:class:`WeaselError`, which keeps the HTTP status, the code, the message and the decoded
body, so nothing the server said is lost.

Failures that never produced an HTTP answer (connection refused, reset, timeout) are
:class:`TransportError`. For a commit they are the dangerous case: the request may have
reached the server, so the outcome is unknown and must be resolved with ``/v1/status``
(the transaction helper does this by itself).
"""

from __future__ import annotations

import datetime as _dt
import email.utils
from typing import Any, Mapping

__all__ = [
    "WeaselError",
    "TransportError",
    "CertificateError",
    "Timeout",
    "BadRequest",
    "Unauthorized",
    "Forbidden",
    "NotFound",
    "MethodNotAllowed",
    "CommitRejected",
    "Conflict",
    "TooOld",
    "LeaderChanged",
    "LogTruncated",
    "ContentTooLarge",
    "TooManyRequests",
    "InternalError",
    "Unavailable",
    "OutcomeUnknown",
    "StreamError",
    "GapError",
    "BadResponse",
    "error_from_response",
    "parse_retry_after",
]


def _int_or_none(value: Any) -> int | None:
    # bool is an int subclass; a JSON true is never a version.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


class WeaselError(Exception):
    """Base of every WeaselDB client error.

    Attributes:
        status: the HTTP status, or ``None`` when no HTTP answer was received.
        code: the ``error`` code of the body (``"conflict"``, ``"unavailable"``...), or a
            client-side code such as ``"transport"``.
        message: the human-readable message.
        body: the decoded JSON body (empty when there was none or it was not JSON).
        request_id: the commit's request id when the error came from a commit, so an
            unknown outcome can be resolved with :meth:`weaseldb.Client.status`.
        resolved: ``"not_committed"`` once ``/v1/status`` settled the unknown outcome of
            the commit that raised this (the transaction helper sets it before raising
            such an error when its retries run out); ``outcome_unknown`` is then false.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str = "error",
        body: Mapping[str, Any] | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.body: dict[str, Any] = dict(body or {})
        rid = self.body.get("request_id")
        self.request_id: str | None = request_id or (rid if isinstance(rid, str) else None)
        # Set by error_from_response(commit=True) for a 5xx that does not say what
        # became of the commit.
        self._unanswered_commit = False
        self.resolved: str | None = None

    @property
    def outcome_unknown(self) -> bool:
        """True when a commit that raised this may or may not have committed."""
        return self._unanswered_commit and self.resolved is None

    def __str__(self) -> str:
        where = f"HTTP {self.status} " if self.status is not None else ""
        text = f"{where}{self.code}: {self.message}"
        if self.resolved == "not_committed":
            text += " (/v1/status: not committed, and now never will be)"
        elif self.resolved is not None:
            text += f" (/v1/status: {self.resolved})"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, message={self.message!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled with its attributes rather than its constructor's arguments (several
        # subclasses take required keyword-only ones), so it crosses process boundaries:
        # multiprocessing sends a worker's exception back to the parent this way.
        return (_rebuild, (type(self), self.args, self.__dict__.copy()))


def _rebuild(cls: type[WeaselError], args: tuple[Any, ...], state: dict[str, Any]) -> WeaselError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class TransportError(WeaselError):
    """No HTTP answer: connection refused, reset, closed early, or timed out.

    ``sent`` tells whether the request may have reached the server. When it did (and the
    request was a commit), the outcome is unknown.
    """

    def __init__(self, message: str, *, sent: bool, request_id: str | None = None) -> None:
        super().__init__(message, status=None, code="transport", request_id=request_id)
        self.sent = sent

    @property
    def outcome(self) -> str | None:
        if self.resolved is not None:
            return self.resolved
        return "unknown" if self.sent else None

    @property
    def outcome_unknown(self) -> bool:
        return self.sent and self.resolved is None


class Timeout(TransportError):
    """The server did not answer within the client's timeout."""


class CertificateError(TransportError):
    """The server's TLS certificate failed verification (untrusted, expired, wrong host name).

    A configuration problem, not a transient one: nothing was sent, and nothing in this
    library retries it (pass an ``ssl_context`` that trusts the server's CA).
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, sent=False)


class BadRequest(WeaselError):
    """400: the request is malformed (bad JSON, bad base64, begin >= end, ...)."""


class Unauthorized(WeaselError):
    """401: no token or an unknown token."""


class Forbidden(WeaselError):
    """403: the token's role may not do this."""


class NotFound(WeaselError):
    """404: no such resource (e.g. retention policy)."""


class MethodNotAllowed(WeaselError):
    """405: the path exists but not with this method."""


class CommitRejected(WeaselError):
    """A 409 commit outcome: the transaction did not commit and never will.

    ``version`` is a newer committed version the caller can retry from and ``leader_id``
    the current leader.
    """

    def __init__(self, message: str, *, status: int | None = 409, code: str = "conflict",
                 body: Mapping[str, Any] | None = None, request_id: str | None = None) -> None:
        super().__init__(message, status=status, code=code, body=body, request_id=request_id)
        self.version: int | None = _int_or_none(self.body.get("version"))
        lid = self.body.get("leader_id")
        self.leader_id: str | None = lid if isinstance(lid, str) else None


class Conflict(CommitRejected):
    """409 ``conflict``: a precondition failed. ``conflicts`` lists their indexes."""

    def __init__(self, message: str, *, status: int | None = 409, code: str = "conflict",
                 body: Mapping[str, Any] | None = None, request_id: str | None = None) -> None:
        super().__init__(message, status=status, code=code, body=body, request_id=request_id)
        raw = self.body.get("conflicts")
        self.conflicts: list[int] = [i for i in raw if _int_or_none(i) is not None] if isinstance(raw, list) else []


class TooOld(CommitRejected):
    """409 ``too_old``: a precondition version is older than the conflict window."""


class LeaderChanged(CommitRejected):
    """409 ``leader_changed``: the commit named a leader that is no longer current."""


class LogTruncated(WeaselError):
    """410 ``log_truncated``: the history asked for is gone.

    ``oldest_version`` is the oldest version still retained, when the server said.
    """

    def __init__(self, message: str, *, status: int | None = 410, code: str = "log_truncated",
                 body: Mapping[str, Any] | None = None, request_id: str | None = None) -> None:
        super().__init__(message, status=status, code=code, body=body, request_id=request_id)
        self.oldest_version: int | None = _int_or_none(self.body.get("oldest_version"))


class ContentTooLarge(WeaselError):
    """413: the request body is over ``max_request_size_bytes``."""


class _RetryAfterMixin(WeaselError):
    retry_after: float | None = None


class TooManyRequests(_RetryAfterMixin):
    """429: slow down; ``retry_after`` holds the server's hint in seconds, if any."""


class _BodyOutcome(WeaselError):
    """``outcome``: what ``/v1/status`` resolved, else the body's ``outcome``, else
    ``"unknown"`` for a commit whose 5xx did not say (see :func:`error_from_response`)."""

    @property
    def outcome(self) -> str | None:
        if self.resolved is not None:
            return self.resolved
        value = self.body.get("outcome")
        if isinstance(value, str):
            return value
        return "unknown" if self._unanswered_commit else None


class InternalError(_BodyOutcome):
    """500 (and other 5xx but 503): a server bug, or a gateway's 502/504.

    Not retried automatically. For a commit it is an unknown outcome
    (``outcome_unknown``, ``outcome == "unknown"``) unless the body carries the server's
    ``outcome``: a gateway that timed out may have passed the commit on. ``outcome`` reads
    as for :class:`Unavailable`.
    """


class Unavailable(_RetryAfterMixin, _BodyOutcome):
    """503: not leader, shutting down, or storage unavailable.

    ``outcome`` is the server's ``outcome`` field: ``"unknown"`` when it cannot tell
    whether a commit reached storage (resolve it with ``/v1/status``),
    ``"not_committed"`` when the commit did not happen. A commit's 503 without that
    field (made by a proxy, or by the server before it read the request) is taken as
    ``"unknown"`` too: nothing says the commit did not reach the server. Once
    ``/v1/status`` settled it, ``outcome`` is :attr:`~WeaselError.resolved`.

    ``leader_id`` and ``leader_url`` are the leader hints of the body: a standby names
    the leader (``leader_url``: where to send the request instead), a leader whose
    storage timed out names itself; ``None`` when absent. The client does not follow
    them by itself: make a :class:`~weaseldb.Client` for ``leader_url`` to redirect.
    """

    def __init__(self, message: str, *, status: int | None = 503, code: str = "unavailable",
                 body: Mapping[str, Any] | None = None, request_id: str | None = None) -> None:
        super().__init__(message, status=status, code=code, body=body, request_id=request_id)
        lid = self.body.get("leader_id")
        self.leader_id: str | None = lid if isinstance(lid, str) and lid else None
        url = self.body.get("leader_url")
        self.leader_url: str | None = url if isinstance(url, str) and url else None

    @property
    def outcome_unknown(self) -> bool:
        return self.outcome == "unknown"


class OutcomeUnknown(WeaselError):
    """A commit's outcome could not be resolved, even through ``/v1/status``.

    Raised by the transaction helper when the status endpoint itself kept failing or
    answered ``log_truncated``. ``request_id`` names the commit; ``cause`` the last error.
    """

    def __init__(self, message: str, *, request_id: str | None, cause: BaseException | None = None) -> None:
        super().__init__(message, status=None, code="outcome_unknown", request_id=request_id)
        self.cause = cause

    @property
    def outcome_unknown(self) -> bool:
        return True


class StreamError(WeaselError):
    """The subscribe stream broke a rule of the contract (bad event, wrong order)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=None, code="stream")


class GapError(StreamError):
    """The ``prev_version`` chain of the subscribe stream is broken.

    ``expected`` is the version the client had reached, ``prev_version`` and ``version``
    describe the offending transaction event. A gap means transactions were lost between
    the two, which a replica cannot recover from by itself.
    """

    def __init__(self, message: str, *, expected: int | None, prev_version: int | None, version: int) -> None:
        super().__init__(message)
        self.expected = expected
        self.prev_version = prev_version
        self.version = version


class BadResponse(WeaselError):
    """A success status whose body is not what the contract says (not JSON, a field
    missing or of the wrong type, a metrics line that does not parse): a server or proxy
    that does not speak this API. ``status`` is the HTTP status received, ``code`` is
    ``"bad_response"``.

    For a commit the status was a success, so the commit most likely happened even though
    its answer is unreadable: ``request_id`` names it, for :meth:`weaseldb.Client.status`.
    """

    def __init__(self, message: str, *, status: int | None = None, code: str = "bad_response",
                 body: Mapping[str, Any] | None = None, request_id: str | None = None) -> None:
        super().__init__(message, status=status, code=code, body=body, request_id=request_id)


def parse_retry_after(value: str | None, *, now: _dt.datetime | None = None) -> float | None:
    """Parse a ``Retry-After`` header: delay-seconds or an HTTP-date. ``None`` if absent/bad."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(int(value))
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    current = now or _dt.datetime.now(_dt.timezone.utc)
    return max(0.0, (when - current).total_seconds())


_BY_STATUS: dict[int, type[WeaselError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    410: LogTruncated,
    413: ContentTooLarge,
    429: TooManyRequests,
    500: InternalError,
    503: Unavailable,
}

_BY_CODE: dict[str, type[WeaselError]] = {
    "bad_request": BadRequest,
    "unauthorized": Unauthorized,
    "forbidden": Forbidden,
    "not_found": NotFound,
    "method_not_allowed": MethodNotAllowed,
    "conflict": Conflict,
    "too_old": TooOld,
    "leader_changed": LeaderChanged,
    "log_truncated": LogTruncated,
    "content_too_large": ContentTooLarge,
    "too_many_requests": TooManyRequests,
    "internal": InternalError,
    "unavailable": Unavailable,
}


def error_from_response(
    status: int,
    body: Any,
    *,
    text: str = "",
    retry_after: str | None = None,
    request_id: str | None = None,
    commit: bool = False,
) -> WeaselError:
    """Build the exception for an error response.

    The code in the body wins over the status (409 carries ``status`` = ``conflict`` /
    ``too_old`` / ``leader_changed``); an unknown code falls back to the class of the
    status, and an unknown status to :class:`WeaselError`, so a new server code never
    crashes an old client.

    ``commit``: the response answered ``POST /v1/commit``. A 5xx whose body has no
    ``outcome`` field (a proxy's 502/503/504, an HTML error page) then reports
    ``outcome_unknown``: the commit may have reached the server and committed.
    """
    doc: dict[str, Any] = body if isinstance(body, dict) else {}
    code = doc.get("error")
    if not isinstance(code, str):
        code = doc.get("status") if isinstance(doc.get("status"), str) else None
    cls = _BY_CODE.get(code) if code else None
    if cls is None:
        cls = _BY_STATUS.get(status)
        if cls is None:
            cls = InternalError if status >= 500 else WeaselError
    message = doc.get("message")
    if not isinstance(message, str) or not message:
        message = text.strip()[:500] or f"HTTP {status}"
    err = cls(message, status=status, code=code or f"http_{status}", body=doc, request_id=request_id)
    if commit and status >= 500 and not isinstance(doc.get("outcome"), str):
        err._unanswered_commit = True
    if isinstance(err, _RetryAfterMixin):
        err.retry_after = parse_retry_after(retry_after)
    return err
