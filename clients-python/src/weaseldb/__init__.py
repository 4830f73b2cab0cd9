"""Python client for WeaselDB, the optimistic-concurrency transaction log database.

Quick start::

    from weaseldb import Client, Write, PointRead

    client = Client("http://127.0.0.1:8080")
    v = client.version().version
    result = client.commit([Write(b"k", b"v")], [PointRead(b"k")], read_version=v)

See the package README for the transaction helper, subscriptions, the replica and the CLI.
"""

from .admin import Histogram, Metrics, MetricsParseError, parse_metrics
from .client import Client
from .errors import (
    BadRequest,
    BadResponse,
    CertificateError,
    CommitRejected,
    Conflict,
    ContentTooLarge,
    Forbidden,
    GapError,
    InternalError,
    LeaderChanged,
    LogTruncated,
    MethodNotAllowed,
    NotFound,
    OutcomeUnknown,
    StreamError,
    Timeout,
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
    Health,
    Operation,
    PointRead,
    Precondition,
    RangeDelete,
    RangeRead,
    RetentionList,
    RetentionPolicy,
    Rollback,
    StatusResult,
    Transaction,
    UnknownOperation,
    VersionInfo,
    Write,
)
from .replica import Replica
from .sse import SSEEvent, SSEParser
from .subscribe import Backoff, Subscription
from .txn import Txn, TxnResult, new_request_id, resolve_outcome, run_transaction

__version__ = "0.1.0"

__all__ = [
    "BadRequest", "BadResponse", "Backoff", "Checkpoint", "Client", "CommitRejected", "CommitResult", "Conflict",
    "ContentTooLarge", "Delete", "Event", "Forbidden", "GapError", "Health", "Histogram",
    "InternalError", "LeaderChanged", "LogTruncated", "MethodNotAllowed", "Metrics",
    "MetricsParseError", "NotFound", "Operation", "OutcomeUnknown", "PointRead", "Precondition",
    "RangeDelete", "RangeRead", "Replica", "RetentionList", "RetentionPolicy", "Rollback",
    "SSEEvent", "SSEParser", "StatusResult", "StreamError", "Subscription", "Timeout",
    "TooManyRequests", "TooOld", "Transaction", "TransportError", "CertificateError", "Txn", "TxnResult",
    "Unauthorized", "Unavailable", "UnknownOperation", "VersionInfo", "WeaselError", "Write",
    "__version__", "new_request_id", "parse_metrics", "resolve_outcome", "run_transaction",
]
