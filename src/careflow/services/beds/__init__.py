"""Bed placement (issue 4): admissions placed by unit, type, gender and isolation; discharge
→ housekeeping task → bed ready → next placement; the bed board.

``placement`` (requests, placing, near-misses, the SLA exception), ``housekeeping`` (the
``PatientDischarged`` and ``BedCleaned`` handlers), ``board`` (per unit, now), ``ports``
(the store and the dependencies). The durable wait lives in ``services/workflows/beds.py``.
"""
