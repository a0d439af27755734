"""FHIR R4 as a wire format: careflow's domain mapped to and from FHIR resources.

The resources are built as plain dicts and validated with ``fhir.resources.R4B``
(fhir.resources 8.3.0): its top-level package is R5, whose Appointment, Slot and
Schedule differ from R4 (R5 renamed ``Appointment.serviceType`` to a CodeableReference,
added ``Appointment.class``, …). R4B changed none of the resources served here
(Schedule, Slot, Appointment, AppointmentResponse, Practitioner, PractitionerRole,
Location, HealthcareService, Device, Patient, AuditEvent, Bundle, OperationOutcome,
Parameters, CapabilityStatement) in ways that touch the fields careflow writes, so what
R4B validates is valid R4 (``tests/e2e/test_fhir_conformance.py`` also parses the
official R4 examples with the same models).

One module per concept: ``ids`` (careflow ids ↔ FHIR ids), ``wire`` (validation,
Bundles, OperationOutcome), ``directory`` (sites, resources, services), ``patients``,
``appointments`` (bookings and options), ``slots``, ``audit``, ``capability`` and
``publish`` (SMART Scheduling Links).
"""
