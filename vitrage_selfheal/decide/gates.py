"""Which stages run where. One list for the start of any operation, so a
first attempt, a retry, a resume and a restart ask the same questions."""

from __future__ import annotations

from vitrage_selfheal.decide.dedup import AlreadyHealing, Cooldown, UnitGrace
from vitrage_selfheal.decide.exclusion import Exclusion
from vitrage_selfheal.decide.flap import FlapDamping
from vitrage_selfheal.decide.holds import (
    CircuitBreaker,
    OperatorHold,
    PauseHold,
    TrustHold,
)
from vitrage_selfheal.decide.ladder import RemediationBudget, Verifying
from vitrage_selfheal.decide.quorum import QuorumGuard
from vitrage_selfheal.decide.stack import RateLimit, StackSettled
from vitrage_selfheal.decide.stage import Stage
from vitrage_selfheal.decide.startup import StartupTimeout
from vitrage_selfheal.decide.storm import StormGuard
from vitrage_selfheal.decide.suppress import RootCauseSuppression
from vitrage_selfheal.decide.windows import MaintenanceWindow

# A new alarm on a unit.
ADMISSION: tuple[Stage, ...] = (
    Exclusion(), OperatorHold(), PauseHold(), CircuitBreaker(), TrustHold(),
    RootCauseSuppression(),
    AlreadyHealing(), Verifying(), Cooldown(), UnitGrace(),
    StartupTimeout(), FlapDamping(), RemediationBudget(),
    StormGuard(), QuorumGuard())

# Every start of a stack operation: first the stack, then each unit in it.
START_STACK: tuple[Stage, ...] = (
    OperatorHold(), PauseHold(), CircuitBreaker(), TrustHold(),
    MaintenanceWindow(),
    StackSettled(), RateLimit())
START_UNIT: tuple[Stage, ...] = (Exclusion(), RootCauseSuppression(),
                                 StormGuard(), QuorumGuard())
