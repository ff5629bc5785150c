from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TaskStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_STATUS_UNSPECIFIED: _ClassVar[TaskStatus]
    TASK_STATUS_QUEUED: _ClassVar[TaskStatus]
    TASK_STATUS_RUNNING: _ClassVar[TaskStatus]
    TASK_STATUS_SUCCEEDED: _ClassVar[TaskStatus]
    TASK_STATUS_FAILED: _ClassVar[TaskStatus]
    TASK_STATUS_CANCELLED: _ClassVar[TaskStatus]
    TASK_STATUS_DEAD: _ClassVar[TaskStatus]
TASK_STATUS_UNSPECIFIED: TaskStatus
TASK_STATUS_QUEUED: TaskStatus
TASK_STATUS_RUNNING: TaskStatus
TASK_STATUS_SUCCEEDED: TaskStatus
TASK_STATUS_FAILED: TaskStatus
TASK_STATUS_CANCELLED: TaskStatus
TASK_STATUS_DEAD: TaskStatus

class TaskNotify(_message.Message):
    __slots__ = ("namespace", "topic", "completed_event", "failed_event", "progress_event")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_EVENT_FIELD_NUMBER: _ClassVar[int]
    FAILED_EVENT_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_EVENT_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    topic: str
    completed_event: str
    failed_event: str
    progress_event: str
    def __init__(self, namespace: _Optional[str] = ..., topic: _Optional[str] = ..., completed_event: _Optional[str] = ..., failed_event: _Optional[str] = ..., progress_event: _Optional[str] = ...) -> None: ...

class Task(_message.Message):
    __slots__ = ("id", "queue", "payload_json", "status", "attempt", "max_attempts", "attempt_timeout_ms", "result_json", "last_error", "idempotency_key", "notify", "worker", "created_ms", "updated_ms", "progress_json")
    ID_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_JSON_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    RESULT_JSON_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    NOTIFY_FIELD_NUMBER: _ClassVar[int]
    WORKER_FIELD_NUMBER: _ClassVar[int]
    CREATED_MS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_MS_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_JSON_FIELD_NUMBER: _ClassVar[int]
    id: str
    queue: str
    payload_json: str
    status: TaskStatus
    attempt: int
    max_attempts: int
    attempt_timeout_ms: int
    result_json: str
    last_error: str
    idempotency_key: str
    notify: TaskNotify
    worker: str
    created_ms: int
    updated_ms: int
    progress_json: str
    def __init__(self, id: _Optional[str] = ..., queue: _Optional[str] = ..., payload_json: _Optional[str] = ..., status: _Optional[_Union[TaskStatus, str]] = ..., attempt: _Optional[int] = ..., max_attempts: _Optional[int] = ..., attempt_timeout_ms: _Optional[int] = ..., result_json: _Optional[str] = ..., last_error: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., notify: _Optional[_Union[TaskNotify, _Mapping]] = ..., worker: _Optional[str] = ..., created_ms: _Optional[int] = ..., updated_ms: _Optional[int] = ..., progress_json: _Optional[str] = ...) -> None: ...

class SubmitTaskRequest(_message.Message):
    __slots__ = ("queue", "payload_json", "idempotency_key", "max_attempts", "attempt_timeout_ms", "notify")
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_JSON_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    NOTIFY_FIELD_NUMBER: _ClassVar[int]
    queue: str
    payload_json: str
    idempotency_key: str
    max_attempts: int
    attempt_timeout_ms: int
    notify: TaskNotify
    def __init__(self, queue: _Optional[str] = ..., payload_json: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., max_attempts: _Optional[int] = ..., attempt_timeout_ms: _Optional[int] = ..., notify: _Optional[_Union[TaskNotify, _Mapping]] = ...) -> None: ...

class SubmitTaskResponse(_message.Message):
    __slots__ = ("task", "created")
    TASK_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    task: Task
    created: bool
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ..., created: bool = ...) -> None: ...

class GetTaskRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: Task
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ...) -> None: ...

class CancelTaskRequest(_message.Message):
    __slots__ = ("id", "reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    id: str
    reason: str
    def __init__(self, id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CancelTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: Task
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ...) -> None: ...

class WatchTasksRequest(_message.Message):
    __slots__ = ("ids", "queue")
    IDS_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[str]
    queue: str
    def __init__(self, ids: _Optional[_Iterable[str]] = ..., queue: _Optional[str] = ...) -> None: ...

class WatchTasksResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: Task
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ...) -> None: ...

class ScrapeTaskRequest(_message.Message):
    __slots__ = ("hello", "ack", "progress", "result", "failure", "heartbeat")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    hello: WorkerHello
    ack: TaskAck
    progress: TaskProgress
    result: TaskResult
    failure: TaskFailure
    heartbeat: WorkerHeartbeat
    def __init__(self, hello: _Optional[_Union[WorkerHello, _Mapping]] = ..., ack: _Optional[_Union[TaskAck, _Mapping]] = ..., progress: _Optional[_Union[TaskProgress, _Mapping]] = ..., result: _Optional[_Union[TaskResult, _Mapping]] = ..., failure: _Optional[_Union[TaskFailure, _Mapping]] = ..., heartbeat: _Optional[_Union[WorkerHeartbeat, _Mapping]] = ...) -> None: ...

class WorkerHello(_message.Message):
    __slots__ = ("name", "queues", "capacity", "labels")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    QUEUES_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    name: str
    queues: _containers.RepeatedScalarFieldContainer[str]
    capacity: int
    labels: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., queues: _Optional[_Iterable[str]] = ..., capacity: _Optional[int] = ..., labels: _Optional[_Mapping[str, str]] = ...) -> None: ...

class TaskAck(_message.Message):
    __slots__ = ("task_id", "lease_token")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    lease_token: int
    def __init__(self, task_id: _Optional[str] = ..., lease_token: _Optional[int] = ...) -> None: ...

class TaskProgress(_message.Message):
    __slots__ = ("task_id", "lease_token", "progress_json")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_JSON_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    lease_token: int
    progress_json: str
    def __init__(self, task_id: _Optional[str] = ..., lease_token: _Optional[int] = ..., progress_json: _Optional[str] = ...) -> None: ...

class TaskResult(_message.Message):
    __slots__ = ("task_id", "lease_token", "result_json")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    RESULT_JSON_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    lease_token: int
    result_json: str
    def __init__(self, task_id: _Optional[str] = ..., lease_token: _Optional[int] = ..., result_json: _Optional[str] = ...) -> None: ...

class TaskFailure(_message.Message):
    __slots__ = ("task_id", "lease_token", "error", "retryable")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    RETRYABLE_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    lease_token: int
    error: str
    retryable: bool
    def __init__(self, task_id: _Optional[str] = ..., lease_token: _Optional[int] = ..., error: _Optional[str] = ..., retryable: bool = ...) -> None: ...

class WorkerHeartbeat(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ScrapeTaskResponse(_message.Message):
    __slots__ = ("welcome", "assignment", "revoked", "ping", "rejected", "accepted")
    WELCOME_FIELD_NUMBER: _ClassVar[int]
    ASSIGNMENT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_FIELD_NUMBER: _ClassVar[int]
    PING_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    welcome: WorkerWelcome
    assignment: TaskAssignment
    revoked: TaskRevoked
    ping: WorkerPing
    rejected: TaskRejected
    accepted: TaskAccepted
    def __init__(self, welcome: _Optional[_Union[WorkerWelcome, _Mapping]] = ..., assignment: _Optional[_Union[TaskAssignment, _Mapping]] = ..., revoked: _Optional[_Union[TaskRevoked, _Mapping]] = ..., ping: _Optional[_Union[WorkerPing, _Mapping]] = ..., rejected: _Optional[_Union[TaskRejected, _Mapping]] = ..., accepted: _Optional[_Union[TaskAccepted, _Mapping]] = ...) -> None: ...

class WorkerWelcome(_message.Message):
    __slots__ = ("worker_id", "heartbeat_interval_ms")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    heartbeat_interval_ms: int
    def __init__(self, worker_id: _Optional[str] = ..., heartbeat_interval_ms: _Optional[int] = ...) -> None: ...

class TaskAssignment(_message.Message):
    __slots__ = ("task", "lease_token", "lease_deadline_ms")
    TASK_FIELD_NUMBER: _ClassVar[int]
    LEASE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    LEASE_DEADLINE_MS_FIELD_NUMBER: _ClassVar[int]
    task: Task
    lease_token: int
    lease_deadline_ms: int
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ..., lease_token: _Optional[int] = ..., lease_deadline_ms: _Optional[int] = ...) -> None: ...

class TaskRevoked(_message.Message):
    __slots__ = ("task_id", "lease_token", "reason")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    lease_token: int
    reason: str
    def __init__(self, task_id: _Optional[str] = ..., lease_token: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class WorkerPing(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TaskRejected(_message.Message):
    __slots__ = ("task_id", "lease_token", "code", "message")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    lease_token: int
    code: int
    message: str
    def __init__(self, task_id: _Optional[str] = ..., lease_token: _Optional[int] = ..., code: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class TaskAccepted(_message.Message):
    __slots__ = ("task_id", "lease_token", "status")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    lease_token: int
    status: TaskStatus
    def __init__(self, task_id: _Optional[str] = ..., lease_token: _Optional[int] = ..., status: _Optional[_Union[TaskStatus, str]] = ...) -> None: ...

class ListTasksRequest(_message.Message):
    __slots__ = ("status", "queue", "limit")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    status: TaskStatus
    queue: str
    limit: int
    def __init__(self, status: _Optional[_Union[TaskStatus, str]] = ..., queue: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListTasksResponse(_message.Message):
    __slots__ = ("tasks",)
    TASKS_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[Task]
    def __init__(self, tasks: _Optional[_Iterable[_Union[Task, _Mapping]]] = ...) -> None: ...

class RetryTaskRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class RetryTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: Task
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ...) -> None: ...

class ListWorkersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WorkerInfo(_message.Message):
    __slots__ = ("worker_id", "name", "queues", "capacity", "running")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    QUEUES_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    name: str
    queues: _containers.RepeatedScalarFieldContainer[str]
    capacity: int
    running: int
    def __init__(self, worker_id: _Optional[str] = ..., name: _Optional[str] = ..., queues: _Optional[_Iterable[str]] = ..., capacity: _Optional[int] = ..., running: _Optional[int] = ...) -> None: ...

class ListWorkersResponse(_message.Message):
    __slots__ = ("workers",)
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    workers: _containers.RepeatedCompositeFieldContainer[WorkerInfo]
    def __init__(self, workers: _Optional[_Iterable[_Union[WorkerInfo, _Mapping]]] = ...) -> None: ...
