"""
The edgesync protocol: wire models, vector clocks and the outcome decision.

Pure code with no I/O, shared by the edge and the cloud services so that both
sides apply exactly the same rules (see ``docs/protocol.md``).
"""

from syncproto.change import Change, ChangeOp, ClockField
from syncproto.clock import (
    CLOUD,
    Clock,
    Ordering,
    clock_key,
    compare,
    merge_clocks,
    tick,
    validate_clock,
)
from syncproto.conflict import (
    ConflictPublic,
    ConflictSibling,
    ConflictsPublic,
    ConflictStatus,
)
from syncproto.decide import Current, Decision, decide
from syncproto.feed import MAX_FEED_LIMIT, FeedEntry, FeedPage, VersionKind
from syncproto.merge import (
    Sibling,
    changed_fields,
    conflicting_fields,
    merge_sides,
    provisional,
)
from syncproto.push import (
    DEFAULT_MAX_BODY_BYTES,
    MAX_BATCH_CHANGES,
    ChangeResult,
    Outcome,
    PushBatch,
    PushResult,
    SyncInfo,
)
from syncproto.report import (
    FIELD_NAMES,
    AnalystId,
    Classification,
    EdgeId,
    FieldName,
    ReportFields,
    ReportId,
    Title,
)
from syncproto.text import (
    MAX_CONTENT_BYTES,
    Content,
    SafeText,
    UtcDatetime,
    check_content,
    check_text,
    clamp_future,
)

__all__ = [
    "CLOUD",
    "DEFAULT_MAX_BODY_BYTES",
    "FIELD_NAMES",
    "MAX_BATCH_CHANGES",
    "MAX_CONTENT_BYTES",
    "MAX_FEED_LIMIT",
    "AnalystId",
    "Change",
    "ChangeOp",
    "ChangeResult",
    "Classification",
    "Clock",
    "ClockField",
    "ConflictPublic",
    "ConflictSibling",
    "ConflictStatus",
    "ConflictsPublic",
    "Content",
    "Current",
    "Decision",
    "EdgeId",
    "FeedEntry",
    "FeedPage",
    "FieldName",
    "Ordering",
    "Outcome",
    "PushBatch",
    "PushResult",
    "ReportFields",
    "ReportId",
    "SafeText",
    "Sibling",
    "SyncInfo",
    "Title",
    "UtcDatetime",
    "VersionKind",
    "changed_fields",
    "check_content",
    "check_text",
    "clamp_future",
    "clock_key",
    "compare",
    "conflicting_fields",
    "decide",
    "merge_clocks",
    "merge_sides",
    "provisional",
    "tick",
    "validate_clock",
]
