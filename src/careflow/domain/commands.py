"""Commands: what an actor asks careflow to do, in the imperative."""

from __future__ import annotations

from dataclasses import dataclass

from careflow.domain.access import Actor
from careflow.domain.errors import InvalidRequest
from careflow.domain.options import Option

__all__ = [
    "BookHold",
    "BookOption",
    "CancelBooking",
    "CheckOption",
    "MarkArrived",
    "MarkFulfilled",
    "MarkNoShow",
    "OverrideRequest",
    "PlaceHold",
    "RescheduleBooking",
]


@dataclass(frozen=True, slots=True)
class OverrideRequest:
    """Accept the soft violations of this request; needs ``booking.override`` and a reason."""

    reason: str

    def __post_init__(self) -> None:
        if not self.reason.strip():
            raise InvalidRequest("an override needs a reason", "override.reason")


def _reason(value: str, field: str) -> None:
    if not value.strip():
        raise InvalidRequest(f"{field} must not be empty", field)
    if len(value) > 2000:
        raise InvalidRequest(f"{field} is longer than 2000 characters", field)


@dataclass(frozen=True, slots=True)
class CheckOption:
    option: Option
    actor: Actor


@dataclass(frozen=True, slots=True)
class PlaceHold:
    option: Option
    actor: Actor
    hold_minutes: int | None = None
    override: OverrideRequest | None = None

    def __post_init__(self) -> None:
        if self.hold_minutes is not None and not 1 <= self.hold_minutes <= 24 * 60:
            raise InvalidRequest("hold_minutes must be between 1 and 1440", "hold_minutes")


@dataclass(frozen=True, slots=True)
class BookOption:
    option: Option
    actor: Actor
    override: OverrideRequest | None = None


@dataclass(frozen=True, slots=True)
class BookHold:
    hold_id: str
    actor: Actor
    override: OverrideRequest | None = None


@dataclass(frozen=True, slots=True)
class CancelBooking:
    booking_id: str
    reason: str
    actor: Actor

    def __post_init__(self) -> None:
        _reason(self.reason, "reason")


@dataclass(frozen=True, slots=True)
class RescheduleBooking:
    booking_id: str
    option: Option
    reason: str
    actor: Actor
    override: OverrideRequest | None = None

    def __post_init__(self) -> None:
        _reason(self.reason, "reason")


@dataclass(frozen=True, slots=True)
class MarkArrived:
    booking_id: str
    actor: Actor


@dataclass(frozen=True, slots=True)
class MarkFulfilled:
    booking_id: str
    actor: Actor


@dataclass(frozen=True, slots=True)
class MarkNoShow:
    booking_id: str
    actor: Actor
