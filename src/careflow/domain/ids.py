"""Typed identifiers. All ids are opaque strings; the NewTypes keep them apart."""

from typing import NewType

__all__ = [
    "AuthorizationId",
    "BookingId",
    "PatientId",
    "ResourceId",
    "ServiceId",
    "SiteId",
]

SiteId = NewType("SiteId", str)
ResourceId = NewType("ResourceId", str)
ServiceId = NewType("ServiceId", str)
PatientId = NewType("PatientId", str)
BookingId = NewType("BookingId", str)
AuthorizationId = NewType("AuthorizationId", str)
