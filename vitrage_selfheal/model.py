"""Value types that travel from ingest to track.

A *unit* is the member of a Heat scaling/resource group that gets replaced.
It is identified by the stack that owns the resource (the group's nested
stack) and the resource name in that stack; the root stack is the one a
stack update is issued on.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Optional

UNIT_ID_SEPARATOR = "/"
# Heat stack tags `selfheal:<word>` set a stack's controls (exclude,
# enabled); a unit carries them as "word,word", sorted.
CONTROL_TAG_PREFIX = "selfheal:"


def controls_from_tags(tags: object) -> str:
    """The control words of a stack's tags; "" when it has none."""
    if not isinstance(tags, (list, tuple)):
        return ""
    words = {t[len(CONTROL_TAG_PREFIX):].strip().lower() for t in tags
             if isinstance(t, str) and t.startswith(CONTROL_TAG_PREFIX)}
    return ",".join(sorted(w for w in words if w))


def control_words(controls: Optional[str]) -> frozenset[str]:
    return frozenset(w for w in (controls or "").split(",") if w)


class Intent(str, enum.Enum):
    """What a request asks of the decision layer."""

    HEAL = "heal"
    # A root cause below the unit (switch, network) makes replacing it useless.
    SUPPRESS = "suppress"
    SCALE_OUT = "scale_out"
    SCALE_IN = "scale_in"


@dataclasses.dataclass(frozen=True)
class Unit:
    root_stack_id: str
    stack_id: str
    resource_name: str
    physical_id: Optional[str] = None
    group: Optional[str] = None
    group_size: Optional[int] = None
    # Its root stack's control words (controls_from_tags); None when the
    # sender did not say, "" when the stack has none.
    controls: Optional[str] = None

    @property
    def key(self) -> str:
        """Stable across replacement: Heat keeps the member's name."""
        return f"{self.stack_id}{UNIT_ID_SEPARATOR}{self.resource_name}"

    @property
    def group_key(self) -> str:
        return self.group or self.stack_id

    @property
    def vertex_id(self) -> str:
        """The `id` of the unit vertex; survives webhook filtering."""
        return UNIT_ID_SEPARATOR.join(
            (self.root_stack_id, self.stack_id, self.resource_name))

    @classmethod
    def from_vertex_id(cls, vertex_id: str, **extra) -> Unit:
        parts = vertex_id.split(UNIT_ID_SEPARATOR, 2)
        if len(parts) != 3 or not all(parts):
            raise ValueError(
                f"unit id {vertex_id!r} is not "
                f"'<root_stack_id>/<stack_id>/<resource_name>'")
        return cls(root_stack_id=parts[0], stack_id=parts[1],
                   resource_name=parts[2], **extra)


@dataclasses.dataclass(frozen=True)
class HealRequest:
    """One alarm activation or clearance on a unit, as the plugin saw it."""

    unit: Unit
    alarm_key: str
    alarm_name: str
    intent: Intent = Intent.HEAL
    active: bool = True
    source: str = "vitrage"
    detail: str = ""
    # Causal chain as Vitrage reported it (root cause first), for the ledger.
    causes: tuple[str, ...] = ()
    # When the event happened by Vitrage's clock (its update_timestamp, epoch
    # seconds), None if the sender did not say: orders events of one alarm.
    event_time: Optional[float] = None
    # The signed delivery this request came in (webhook signature digest):
    # recorded with the request, so a replay of it is recognised.
    delivery: Optional[str] = None


class Action(str, enum.Enum):
    ACCEPT = "accept"        # queued for the next batch of its stack
    SKIP = "skip"            # nothing to do (duplicate, cooldown, ...)
    HOLD = "hold"            # kept, healed later if still unhealthy
    WAIT = "wait"            # kept, retried on the next tick
    DISPATCH = "dispatch"    # a Mistral execution was started
    RETRY = "retry"
    SUCCEED = "succeed"
    FAIL = "fail"
    REJECT = "reject"        # malformed input, never healed
    CLEAR = "clear"          # an alarm went away
    SCALE = "scale"


class Reason(str, enum.Enum):
    FIRST_HEAL = "FIRST_HEAL"
    ALREADY_HEALING = "ALREADY_HEALING"
    DUPLICATE = "DUPLICATE"
    COOLDOWN = "COOLDOWN"
    FLAPPING = "FLAPPING"
    STORM_GUARD = "STORM_GUARD"
    RATE_LIMITED = "RATE_LIMITED"
    HELD_BY_OPERATOR = "HELD_BY_OPERATOR"
    CIRCUIT_OPEN = "CIRCUIT_OPEN"
    SUPPRESSED_BY_ROOT_CAUSE = "SUPPRESSED_BY_ROOT_CAUSE"
    STACK_IN_PROGRESS = "STACK_IN_PROGRESS"
    STACK_BUSY = "STACK_BUSY"                  # our own execution still runs
    STACK_STATUS_UNKNOWN = "STACK_STATUS_UNKNOWN"
    COALESCED = "COALESCED"
    BATCH_DISPATCHED = "BATCH_DISPATCHED"
    DISPATCH_FAILED = "DISPATCH_FAILED"
    EXECUTION_SUCCEEDED = "EXECUTION_SUCCEEDED"
    EXECUTION_FAILED = "EXECUTION_FAILED"
    EXECUTION_STUCK = "EXECUTION_STUCK"
    RETRY_BACKOFF = "RETRY_BACKOFF"
    ALARM_CLEARED = "ALARM_CLEARED"
    ROOT_CAUSE_CLEARED = "ROOT_CAUSE_CLEARED"
    RELEASED = "RELEASED"
    MALFORMED = "MALFORMED"
    UNRESOLVED_TEMPLATE = "UNRESOLVED_TEMPLATE"
    UNKNOWN_EVENT = "UNKNOWN_EVENT"
    NOT_A_UNIT = "NOT_A_UNIT"
    # A server named by an alarm (a Zaqar message) that no unit of any
    # stack Heat lists has, after a read of Heat newer than the message.
    UNKNOWN_UNIT = "UNKNOWN_UNIT"
    ROOT_CAUSE_SETTLING = "ROOT_CAUSE_SETTLING"
    MAX_IN_FLIGHT = "MAX_IN_FLIGHT"
    EXECUTION_LOST = "EXECUTION_LOST"
    OPERATION_CANCELLED = "OPERATION_CANCELLED"
    # An event older (by its Vitrage timestamp) than one already applied
    # to the same alarm: applying it would undo newer knowledge.
    STALE_EVENT = "STALE_EVENT"
    # A field that cannot be stored as given (too long, NUL, surrogate).
    INVALID_FIELD = "INVALID_FIELD"
    # A payload bigger or deeper than the parser will scan completely.
    PAYLOAD_TOO_COMPLEX = "PAYLOAD_TOO_COMPLEX"
    # Raised (by Vitrage's clock) before the unit's last heal succeeded,
    # delivered after it: that heal answered it; the replacement is not
    # healed again for it.
    ANSWERED_BY_HEAL = "ANSWERED_BY_HEAL"
    # Scaling: a group's request, decided within its own bounds.
    SCALE_OUT = "SCALE_OUT"
    SCALE_IN = "SCALE_IN"
    SCALE_MERGED = "SCALE_MERGED"          # joined the group's open request
    SCALE_COOLDOWN = "SCALE_COOLDOWN"      # the group scaled too recently
    AT_MAX = "AT_MAX"                      # the group is at its max_size
    AT_MIN = "AT_MIN"                      # the group is at its min_size
    SCALE_UNSUPPORTED = "SCALE_UNSUPPORTED"  # no way to resize this group
    GROUP_UNREADABLE = "GROUP_UNREADABLE"  # Heat's view of it unknown
    SCALE_SUCCEEDED = "SCALE_SUCCEEDED"
    # Keystone refused the stack's trust (revoked, expired, deleted): its
    # operations wait for `vitrage-selfheal trust create --stack`.
    TRUST_INVALID = "TRUST_INVALID"
    TRUST_CREATED = "TRUST_CREATED"
    # A scale-in took this unhealthy unit out instead of replacing it.
    REMOVED_BY_SCALE_IN = "REMOVED_BY_SCALE_IN"
    # Created or replaced less than unit_grace ago: still warming up.
    UNIT_GRACE = "UNIT_GRACE"
    # Unhealthy since it came up: healed once at startup_timeout (the
    # heal's reason), held if that replacement never becomes healthy.
    STARTUP_TIMEOUT = "STARTUP_TIMEOUT"
    # Shadow mode: everything decided, the operation would have started
    # now; nothing was dispatched (GCP's DO_NOTHING repair action).
    SHADOW = "SHADOW"
    # Shadow mode switched on or off for a stack or for all stacks.
    SHADOW_MODE = "SHADOW_MODE"
    # Never healed: its stack is tagged selfheal:exclude, or opt_in is on
    # and the stack is not tagged selfheal:enabled.
    EXCLUDED = "EXCLUDED"
    # A named pause request (`vitrage-selfheal pause`) is on the stack or
    # on all stacks: held until every one of them is resumed.
    PAUSED = "PAUSED"
    # Inside a maintenance window: the stack's operations wait for its end.
    MAINTENANCE_WINDOW = "MAINTENANCE_WINDOW"
    # Escalation ladder (decide/ladder.py): a step other than replace
    # (reboot, rebuild) ended; the unit is judged when its timeout ends.
    VERIFYING = "VERIFYING"
    # Healthy at the end of the step's timeout: the step healed it.
    REMEDIATED = "REMEDIATED"
    # The step failed, or the unit was still unhealthy at its timeout:
    # the unit goes on to the ladder's next step.
    ESCALATED = "ESCALATED"
    # max_remediations_per_unit steps within remediation_window: held.
    REMEDIATION_BUDGET = "REMEDIATION_BUDGET"
    # The pre-replace hook answered ABANDON (or its default did): nothing
    # was marked; held for a cooldown, then asked again.
    HOOK_ABANDONED = "HOOK_ABANDONED"
    # Quorum guard (selfheal:quorum): one unit of the group in flight at a
    # time, and none while fewer than a majority are healthy.
    QUORUM_GUARD = "QUORUM_GUARD"


@dataclasses.dataclass(frozen=True)
class Decision:
    action: Action
    reason: Reason
    detail: str = ""
    unit_key: Optional[str] = None
    root_stack_id: Optional[str] = None
    batch_id: Optional[str] = None
    # A HOLD that lapses by itself (cooldown, flap window) says when.
    until: Optional[float] = None

    def __str__(self) -> str:
        where = self.unit_key or self.root_stack_id or "-"
        text = f"{self.action.value}/{self.reason.value} {where}"
        return f"{text}: {self.detail}" if self.detail else text


class ScaleMethod(str, enum.Enum):
    """How a group's size is changed in Heat."""

    # PATCH the root stack with a new value of the parameter the group's
    # desired_capacity comes from: one stack update, which may also carry
    # a heal (marked units are replaced in the same update).
    CAPACITY = "capacity"
    # Signal the group's OS::Heat::ScalingPolicy once per adjustment: Heat
    # runs the resize itself, so a heal cannot ride along.
    SIGNAL = "signal"


@dataclasses.dataclass(frozen=True)
class GroupRef:
    """Where a scaling group lives: the stack holding the group resource
    (`parent_stack_id`, `resource_name`) and the group's nested stack,
    which owns its units (the units' `stack_id`)."""

    root_stack_id: str
    group_stack_id: str
    parent_stack_id: Optional[str] = None
    resource_name: Optional[str] = None

    @property
    def key(self) -> str:
        return self.group_stack_id


@dataclasses.dataclass(frozen=True)
class ScaleRequest:
    """Make a group bigger (delta > 0) or smaller (delta < 0)."""

    group: GroupRef
    delta: int
    source: str = "vitrage"
    # The alarm (or operator command) that asked; repeats of one alarm
    # while it stays active are one request.
    alarm_key: str = ""
    detail: str = ""
    # Operator requests skip the scaling cooldown (AWS: manual scaling is
    # not subject to cooldowns); alarm votes do not.
    manual: bool = False

    @property
    def direction(self) -> str:
        return Intent.SCALE_OUT.value if self.delta > 0 else \
            Intent.SCALE_IN.value


@dataclasses.dataclass(frozen=True)
class GroupInfo:
    """What Heat says of a group right now."""

    size: int
    min_size: int
    max_size: Optional[int]
    method: Optional[ScaleMethod] = None
    # CAPACITY: the root stack parameter behind desired_capacity.
    capacity_parameter: Optional[str] = None
    # SIGNAL: the scaling policies (resource name -> adjustment) of the
    # group, in the stack holding it.
    policies: tuple[tuple[str, int], ...] = ()
    # Why it cannot be resized, when method is None.
    unsupported: str = ""
    # Where the group resource is, as Heat told (a vote knows only the
    # group's nested stack).
    parent_stack_id: Optional[str] = None
    resource_name: Optional[str] = None


# -- the states the ledger keeps, by name -----------------------------------

GLOBAL_SCOPE = "global"


def stack_scope(root_stack_id: str) -> str:
    return f"stack:{root_stack_id}"


class IntentState:
    PENDING = "PENDING"
    BATCHED = "BATCHED"
    DONE = "DONE"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class BatchState:
    """A stack operation's life: INTENDED -> RUNNING -> SUCCESS | FAILED,
    with RETRY_WAIT between attempts and CANCELLING while a stuck execution
    is cancelled and confirmed terminal."""

    INTENDED = "INTENDED"      # persisted, execution not confirmed started
    RUNNING = "RUNNING"
    CANCELLING = "CANCELLING"  # cancel asked of Mistral, not yet confirmed
    RETRY_WAIT = "RETRY_WAIT"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"    # every unit left before it started
    SHADOWED = "SHADOWED"      # shadow mode: decided, never started

    OPEN = (INTENDED, RUNNING, CANCELLING, RETRY_WAIT)


class HoldKind:
    OPERATOR = "operator"
    BREAKER = "breaker"
    # The stack's trust was refused by Keystone: a new trust lifts it.
    TRUST = "trust"
    # Named pause requests of the scope (the pauses table), shown as one.
    PAUSE = "pause"
    # Not a hold: shadow mode for the scope (stored with the holds, so
    # `status` lists it); operations are decided but not dispatched.
    SHADOW = "shadow"


# -- read-only records of history, what the decide stages see ---------------

@dataclasses.dataclass(frozen=True)
class UnitRecord:
    unit_key: str
    root_stack_id: str
    stack_id: str
    resource_name: str
    group_key: str
    physical_id: Optional[str] = None
    group_size: Optional[int] = None
    held_reason: Optional[str] = None
    held_until: Optional[float] = None
    last_healed_at: Optional[float] = None
    heal_times: tuple[float, ...] = ()
    born_at: Optional[float] = None
    controls: Optional[str] = None
    # The escalation ladder's last step ended for the unit's current
    # sequence (None: no sequence open), when, and every step's end time
    # within the budget's reach.
    remedy: Optional[str] = None
    remedy_at: Optional[float] = None
    remedy_times: tuple[float, ...] = ()

    @property
    def warming_since(self) -> Optional[float]:
        """When its current incarnation came up: a replacement at its
        heal, a scale-out's new unit at its birth."""
        times = [t for t in (self.last_healed_at, self.born_at)
                 if t is not None]
        return max(times) if times else None

    def as_unit(self) -> Unit:
        return Unit(root_stack_id=self.root_stack_id, stack_id=self.stack_id,
                    resource_name=self.resource_name,
                    physical_id=self.physical_id, group=self.group_key,
                    group_size=self.group_size, controls=self.controls)


@dataclasses.dataclass(frozen=True)
class AlarmRecord:
    unit_key: str
    alarm_key: str
    alarm_name: str
    intent: str
    active: bool
    since: float
    cleared_at: Optional[float] = None
    activations: int = 1


@dataclasses.dataclass(frozen=True)
class IntentRecord:
    id: int
    unit_key: str
    root_stack_id: str
    incident: str
    state: str
    created_at: float
    batch_id: Optional[str] = None
    step: str = "replace"


@dataclasses.dataclass(frozen=True)
class HoldRecord:
    scope: str
    kind: str
    reason: str
    since: float


@dataclasses.dataclass(frozen=True)
class ScaleRecord:
    id: int
    group_key: str
    root_stack_id: str
    delta: int
    state: str
    created_at: float
    manual: bool = False
    batch_id: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class ScalePlan:
    """What one scale operation is to do, fixed when it forms."""

    group: GroupRef
    method: ScaleMethod
    size_before: int
    target: int
    capacity_parameter: Optional[str] = None
    # SIGNAL: the policy to signal (once: its own adjustment).
    policy: Optional[str] = None
    # Unhealthy units a scale-in takes out (marked, so Heat removes them
    # first); the operation's other units are healed in the same update.
    victims: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {"group": dataclasses.asdict(self.group),
                "method": self.method.value,
                "size_before": self.size_before, "target": self.target,
                "capacity_parameter": self.capacity_parameter,
                "policy": self.policy,
                "victims": list(self.victims)}

    @classmethod
    def from_dict(cls, doc: dict) -> ScalePlan:
        return cls(group=GroupRef(**doc["group"]),
                   method=ScaleMethod(doc["method"]),
                   size_before=int(doc["size_before"]),
                   target=int(doc["target"]),
                   capacity_parameter=doc.get("capacity_parameter"),
                   policy=doc.get("policy"),
                   victims=tuple(doc.get("victims") or ()))
