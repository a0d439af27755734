"""Payer authorizations: approved for every booked case that needs one, plus a realistic
spread of pending, denied, expired and approved-but-unscheduled ones."""

from __future__ import annotations

import random
from datetime import date, timedelta

from careflow.demo.patients import Draft
from careflow.domain.ids import AuthorizationId, PatientId, ServiceId
from careflow.domain.patients import Authorization, AuthorizationStatus
from careflow.domain.preference_cards import Service

__all__ = ["AuthorizationBook"]

PAYERS = ("Bluebird Mutual", "Keystone Care Plan", "Medicare (synthetic)", "Tri-County Health Plan",
          "Summit Employer Plan")


class AuthorizationBook:
    """Authorizations by (patient, service), numbered ``auth-00001`` ... in creation order."""

    def __init__(self, rng: random.Random, anchor: date) -> None:
        self.rng = rng
        self.anchor = anchor
        self.by_key: dict[tuple[str, str], Authorization] = {}
        self.count = 0

    def add(self, patient: PatientId, service: ServiceId, status: AuthorizationStatus,
            valid_from: date | None, valid_to: date | None) -> Authorization:
        self.count += 1
        n = self.count
        auth = Authorization(AuthorizationId(f"auth-{n:05d}"), patient, service,
                             self.rng.choice(PAYERS), status, valid_from, valid_to, f"PA-{880000 + n * 3}")
        self.by_key[(patient, service)] = auth
        return auth

    def approve_for(self, patient: PatientId, service: ServiceId, day: date) -> None:
        """Make sure an approved authorization covers ``day`` (the case being placed)."""
        found = self.by_key.get((patient, service))
        if found is not None and found.status is AuthorizationStatus.APPROVED and found.covers(day):
            return
        start = self.anchor - timedelta(days=self.rng.randint(3, 40))
        end = max(day, self.anchor + timedelta(days=self.rng.randint(45, 150)))
        self.add(patient, service, AuthorizationStatus.APPROVED, start, end)

    def spread(self, drafts: list[Draft], services: list[Service], count: int) -> None:
        """Authorizations of patients not (yet) scheduled: mostly approved, some not."""
        needing = [s for s in services if s.prerequisites.authorization]
        adults = [d for d in drafts if d.age >= 18]
        if not needing or not adults:
            return
        statuses = ((AuthorizationStatus.APPROVED, 0.55), (AuthorizationStatus.PENDING, 0.2),
                    (AuthorizationStatus.DENIED, 0.1), (AuthorizationStatus.APPROVED, 0.1),
                    (AuthorizationStatus.NOT_REQUIRED, 0.05))
        for _ in range(count):
            d, svc = self.rng.choice(adults), self.rng.choice(needing)
            if (d.id, svc.id) in self.by_key:
                continue
            pick = self.rng.choices(range(len(statuses)), [w for _, w in statuses])[0]
            status = statuses[pick][0]
            if status is not AuthorizationStatus.APPROVED:
                self.add(d.id, svc.id, status, None, None)
            elif pick == 3:  # approved, but the validity window already ended
                end = self.anchor - timedelta(days=self.rng.randint(1, 30))
                self.add(d.id, svc.id, status, end - timedelta(days=90), end)
            else:
                start = self.anchor - timedelta(days=self.rng.randint(0, 30))
                self.add(d.id, svc.id, status, start, start + timedelta(days=self.rng.randint(60, 180)))

    def all(self) -> list[Authorization]:
        """Every authorization, by id."""
        return sorted(self.by_key.values(), key=lambda a: a.id)
