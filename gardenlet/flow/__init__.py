"""The task-graph engine behind the gardenlet's shoot flows: tasks with dependencies run in parallel, with
retries, progress reports and one error naming every failed task. Only `gardenlet` code imports it (extensions
may not import the gardenlet); besides itself it imports only `gardener.runtime`, whose error family it re-exports.
"""

from gardener.runtime.errors import CodedError, ErrorCode, PermanentError, TemporaryError
from gardenlet.flow.graph import Flow, FlowError, FlowResult, Progress, ProgressReporter, TaskError
from gardenlet.flow.task import RetryPolicy, Task, TaskFn, TaskID

__all__ = [
    "CodedError",
    "ErrorCode",
    "Flow",
    "FlowError",
    "FlowResult",
    "PermanentError",
    "Progress",
    "ProgressReporter",
    "RetryPolicy",
    "Task",
    "TaskError",
    "TaskFn",
    "TaskID",
    "TemporaryError",
]
