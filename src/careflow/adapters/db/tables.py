"""The schema as SQLAlchemy Core tables (no ORM mapping: rows are turned into domain
objects by the stores, which keeps the hot paths to one query and plain tuples).

The migrations in ``migrations/versions`` create the same schema explicitly and add what
Core metadata cannot say portably: on PostgreSQL the ``during`` range column and the
exclusion constraints, on SQLite the equivalent overlap triggers (and the
``(resource_id, lane, end_at)`` index they search).

Allocations and stock reservations carry the booking ``revision`` (its version when they
were written): a reschedule deactivates the old rows and writes new ones, and the
booking's current allocations are those of its highest revision.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

from careflow.adapters.db.coltypes import JSONDoc, UTCDateTime

__all__ = [
    "ALL_TABLES",
    "META_MASTER_VERSION",
    "admission",
    "allocation",
    "audit_head",
    "audit_log",
    "authorization",
    "bed_status",
    "booking",
    "break_glass",
    "exception_item",
    "idempotency_record",
    "inbox",
    "meta",
    "metadata",
    "notification",
    "outbox",
    "patient",
    "purchase_request",
    "recoordination_run",
    "referral",
    "resource",
    "service",
    "site",
    "site_setting",
    "stock_item",
    "stock_reservation",
    "surgical_case",
    "user_account",
    "waitlist_entry",
]

META_MASTER_VERSION = "master_version"

metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

# SQLite only turns INTEGER PRIMARY KEY into an auto-incrementing rowid.
BigId = BigInteger().with_variant(Integer(), "sqlite")

meta = Table(
    "meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False, server_default=""),
    Column("number", BigInteger, nullable=False, server_default="0"),
)

site = Table(
    "site", metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("lat", Float, nullable=False),
    Column("lon", Float, nullable=False),
    Column("languages", JSONDoc, nullable=False),
)

resource = Table(
    "resource", metadata,
    Column("id", String(64), primary_key=True),
    Column("site_id", String(64), ForeignKey("site.id"), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("name", String(200), nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("profile", JSONDoc, nullable=False),
    Column("availability", JSONDoc, nullable=False),
    CheckConstraint("capacity >= 1", name="capacity"),
)

service = Table(
    "service", metadata,
    Column("id", String(64), primary_key=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("card", JSONDoc, nullable=False),
)

stock_item = Table(
    "stock_item", metadata,
    Column("site_id", String(64), ForeignKey("site.id"), primary_key=True),
    Column("sku", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("on_hand", Integer, nullable=False),
    Column("reserved", Integer, nullable=False, server_default="0"),
    Column("reorder_threshold", Integer, nullable=False, server_default="0"),
    Column("lead_time_days", Integer, nullable=False, server_default="0"),
    CheckConstraint("reserved >= 0 AND reserved <= on_hand", name="reserved_within_on_hand"),
)

patient = Table(
    "patient", metadata,
    Column("id", String(64), primary_key=True),
    Column("mrn", String(64), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("birth_date", Date, nullable=False),
    Column("sex", String(16), nullable=False),
    Column("language", String(16), nullable=False),
    Column("needs_interpreter", Boolean, nullable=False),
    Column("isolation_required", Boolean, nullable=False),
    Column("home", JSONDoc, nullable=True),
    Column("preferences", JSONDoc, nullable=False),
    Column("completed_prep", JSONDoc, nullable=False),
    Column("usual_clinicians", JSONDoc, nullable=False),
    Column("email", String(254), nullable=True),  # migration 0005: the e-mail channel's address
)

authorization = Table(
    "authorization", metadata,
    Column("id", String(64), primary_key=True),
    Column("patient_id", String(64), ForeignKey("patient.id"), nullable=False, index=True),
    Column("service_id", String(64), nullable=False),
    Column("payer", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("valid_from", Date, nullable=True),
    Column("valid_to", Date, nullable=True),
    Column("reference", String(200), nullable=False, server_default=""),
)

booking = Table(
    "booking", metadata,
    Column("id", String(64), primary_key=True),
    Column("patient_id", String(64), ForeignKey("patient.id"), nullable=False, index=True),
    Column("service_id", String(64), ForeignKey("service.id"), nullable=False),
    Column("site_id", String(64), ForeignKey("site.id"), nullable=False, index=True),
    Column("status", String(16), nullable=False, index=True),
    Column("start_at", UTCDateTime, nullable=False, index=True),
    Column("end_at", UTCDateTime, nullable=False),
    Column("urgency", String(16), nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=True),
    Column("created_by", String(128), nullable=False, server_default=""),
    Column("reason", Text, nullable=False, server_default=""),
    Column("overrides", JSONDoc, nullable=False),
    Column("rule_version", String(64), nullable=False, server_default=""),
    Column("version", Integer, nullable=False),
    CheckConstraint("end_at > start_at", name="ends_after_start"),
    Index("ix_booking_status_expires_at", "status", "expires_at"),
)

allocation = Table(
    "allocation", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("booking_id", String(64), ForeignKey("booking.id"), nullable=False, index=True),
    Column("resource_id", String(64), ForeignKey("resource.id"), nullable=False),
    Column("role", String(64), nullable=False),
    Column("lane", Integer, nullable=False, server_default="0"),
    Column("start_at", UTCDateTime, nullable=False),
    Column("end_at", UTCDateTime, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("revision", Integer, nullable=False, server_default="1"),
    CheckConstraint("end_at > start_at", name="ends_after_start"),
    Index("ix_allocation_resource_id_start_at", "resource_id", "start_at"),
)

stock_reservation = Table(
    "stock_reservation", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("booking_id", String(64), ForeignKey("booking.id"), nullable=False, index=True),
    Column("site_id", String(64), nullable=False),
    Column("sku", String(64), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("revision", Integer, nullable=False, server_default="1"),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    CheckConstraint("state IN ('reserved', 'released', 'consumed')", name="state_known"),
    ForeignKeyConstraint(["site_id", "sku"], ["stock_item.site_id", "stock_item.sku"]),
)

outbox = Table(
    "outbox", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("type", String(64), nullable=False),
    Column("aggregate_id", String(128), nullable=False),
    Column("payload", JSONDoc, nullable=False),
    Column("published_at", UTCDateTime, nullable=True),
    Index("ix_outbox_unpublished", "id", sqlite_where=text("published_at IS NULL"),
          postgresql_where=text("published_at IS NULL")),
)

# What each in-process consumer did with each outbox event (services/dispatch.py): the
# primary key decides, so a redelivered event is skipped; ``retry`` rows wait for their
# next attempt, ``dead`` ones for a person (never dropped).
inbox = Table(
    "inbox", metadata,
    Column("consumer", String(128), primary_key=True),
    Column("event_id", BigId, primary_key=True, autoincrement=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("processed_at", UTCDateTime, nullable=True),
    Index("ix_inbox_status_next_attempt_at", "status", "next_attempt_at"),
)

audit_log = Table(
    "audit_log", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False, index=True),
    Column("actor", String(128), nullable=False),
    Column("action", String(64), nullable=False),
    Column("entity_type", String(64), nullable=False),
    Column("entity_id", String(128), nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("reason", Text, nullable=False, server_default=""),
    Column("rule_version", String(64), nullable=False, server_default=""),
    Column("detail", JSONDoc, nullable=False),
    # The hash chain (migration 0002): ``body`` is the entry as canonical JSON, ``hash`` is
    # sha256(prev_hash | seq | body); seq and the hashes are assigned at insert, by a
    # trigger on PostgreSQL and by the unit of work on SQLite (see adapters/db/audit.py).
    Column("seq", BigInteger, nullable=True, unique=True),
    Column("body", Text, nullable=True),
    Column("prev_hash", String(64), nullable=True),
    Column("hash", String(64), nullable=True),
    Index("ix_audit_log_entity", "entity_type", "entity_id"),
    Index("ix_audit_log_actor", "actor"),
)

# The chain's head: one row (id 1), the last seq and hash. On PostgreSQL only the trigger
# function (security definer) may change it; the application role cannot.
audit_head = Table(
    "audit_head", metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger, nullable=False, server_default="0"),
    Column("hash", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False, server_default="0" * 64),
)

# Local users (the embedded default); at scale an identity provider issues the tokens.
user_account = Table(
    "user_account", metadata,
    Column("id", String(128), primary_key=True),  # the username
    Column("password_hash", Text, nullable=False),
    Column("roles", JSONDoc, nullable=False),
    Column("sites", JSONDoc, nullable=True),  # null: every site
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", UTCDateTime, nullable=False),
)

# Break-glass elevations: explicit, time-limited, with a reason; audited at start and stop.
break_glass = Table(
    "break_glass", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("user_id", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("patient_id", String(64), nullable=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime, nullable=True),
    Column("ended_by", String(128), nullable=True),
    Index("ix_break_glass_user_id_expires_at", "user_id", "expires_at"),
)

# Idempotency-Key records: the first request with a key claims the row (primary key), runs,
# and stores its response; later requests with the key and the same fingerprint replay it.
idempotency_record = Table(
    "idempotency_record", metadata,
    Column("actor", String(128), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),  # sha256 of method, path and body
    Column("status_code", Integer, nullable=True),  # null while the first request runs
    Column("headers", JSONDoc, nullable=True),
    Column("body", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("completed_at", UTCDateTime, nullable=True),
)

# The exception queue (migration 0003): comments, alternatives and the resolution are
# JSON documents of the item; ``priority_rank`` (0 urgent .. 3 low) orders the queue.
exception_item = Table(
    "exception_item", metadata,
    Column("id", String(64), primary_key=True),
    Column("category", String(32), nullable=False),
    Column("owner_team", String(64), nullable=False),
    Column("priority", String(16), nullable=False),
    Column("priority_rank", Integer, nullable=False),
    Column("summary", Text, nullable=False),
    Column("booking_id", String(64), nullable=True),
    Column("case_id", String(64), nullable=True),
    Column("patient_id", String(64), nullable=True),
    Column("site_id", String(64), nullable=True),
    Column("status", String(16), nullable=False),
    Column("assignee", String(128), nullable=True),
    Column("escalation_level", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sla_due_at", UTCDateTime, nullable=False),
    Column("resolved_at", UTCDateTime, nullable=True),
    Column("comments", JSONDoc, nullable=False),
    Column("alternatives", JSONDoc, nullable=False),
    Column("resolution", JSONDoc, nullable=True),
    Column("version", Integer, nullable=False),
    Index("ix_exception_item_status_sla_due_at", "status", "sla_due_at"),
    Index("ix_exception_item_owner_team", "owner_team"),
    Index("ix_exception_item_resolved_at", "resolved_at"),
    Index("ix_exception_item_booking_id", "booking_id"),  # migration 0006: one open item per booking
)

# The notification send log (migration 0005, adapters/notify): the key claims the row
# (primary key), so a notification is sent once however often it is asked for; ``channels``
# maps each channel to its outcome. Subject and body are kept for the people allowed to
# read them (patient.read); logs only ever carry the ids.
notification = Table(
    "notification", metadata,
    Column("key", String(255), primary_key=True),
    Column("audience", String(16), nullable=False),
    Column("recipient", String(128), nullable=False),
    Column("topic", String(64), nullable=False),
    Column("booking_id", String(64), nullable=True),
    Column("channels", JSONDoc, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("data", JSONDoc, nullable=False),
    CheckConstraint("status IN ('sending', 'sent', 'failed')", name="status_known"),
    Index("ix_notification_created_at", "created_at"),
    Index("ix_notification_booking_id", "booking_id"),
    Index("ix_notification_status", "status"),
)

# Bed placement (migration 0007, services/beds): admission requests waiting for or placed
# in a bed (``urgency_rank`` 0 emergent .. 2 routine orders who gets the next bed), and each
# bed's housekeeping status (a bed without a row is clean).
admission = Table(
    "admission", metadata,
    Column("id", String(64), primary_key=True),
    Column("patient_id", String(64), nullable=False, index=True),
    Column("site_id", String(64), nullable=False),
    Column("wanted_from", UTCDateTime, nullable=False),
    Column("los_hours", Integer, nullable=False),
    Column("unit", String(64), nullable=True),
    Column("bed_type", String(64), nullable=True),
    Column("isolation", Boolean, nullable=False),
    Column("urgency", String(16), nullable=False),
    Column("urgency_rank", Integer, nullable=False),
    Column("source", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("requested_at", UTCDateTime, nullable=False),
    Column("requested_by", String(128), nullable=False),
    Column("bed_id", String(64), nullable=True),
    Column("booking_id", String(64), nullable=True, index=True),
    Column("placed_at", UTCDateTime, nullable=True),
    Column("exception_id", String(64), nullable=True),
    Column("version", Integer, nullable=False),
    CheckConstraint("los_hours > 0", name="los_positive"),
    CheckConstraint("status IN ('waiting', 'placed', 'cancelled')", name="admission_status_known"),
    Index("ix_admission_site_id_status", "site_id", "status", "urgency_rank", "requested_at"),
)

bed_status = Table(
    "bed_status", metadata,
    Column("bed_id", String(64), primary_key=True),
    Column("site_id", String(64), nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("since", UTCDateTime, nullable=False),
    Column("task_id", String(64), nullable=True),
    Column("version", Integer, nullable=False),
    CheckConstraint("status IN ('clean', 'dirty', 'out_of_service')", name="bed_status_known"),
)

# The domain's tables, children before parents: the order to delete in (reverse it to
# insert). Reseeding wipes these; the audit trail, users and break-glass and idempotency
# records are not domain data and stay (the audit log is append-only).

# Re-coordination runs (migration 0006, services/recoordination.py): one per capacity
# event, keyed by the outbox event id; ``detail`` lists the outcome per affected booking.
recoordination_run = Table(
    "recoordination_run", metadata,
    Column("event_id", BigId, primary_key=True, autoincrement=False),
    Column("event_type", String(64), nullable=False),
    Column("subject", String(255), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("affected", Integer, nullable=False),
    Column("unchanged", Integer, nullable=False),
    Column("auto_resolved", Integer, nullable=False),
    Column("queued", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    Column("detail", JSONDoc, nullable=False),
    Index("ix_recoordination_run_finished_at", "finished_at"),
    Index("ix_recoordination_run_started_at", "started_at"),
)

# The waitlist (migration 0006, services/waitlist.py): ``priority_rank`` (0 urgent .. 3
# low) orders offers; ``offer_booking_id`` is the hold placed for the current offer.
waitlist_entry = Table(
    "waitlist_entry", metadata,
    Column("id", String(64), primary_key=True),
    Column("patient_id", String(64), nullable=False),
    Column("service_id", String(64), nullable=False),
    Column("site_ids", JSONDoc, nullable=False),
    Column("earliest", UTCDateTime, nullable=False),
    Column("latest", UTCDateTime, nullable=False),
    Column("priority", String(16), nullable=False),
    Column("priority_rank", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("booking_id", String(64), nullable=True),
    Column("offer_booking_id", String(64), nullable=True),
    Column("offered_at", UTCDateTime, nullable=True),
    Column("offer_expires_at", UTCDateTime, nullable=True),
    Column("offers", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("version", Integer, nullable=False),
    Index("ix_waitlist_entry_status_service", "status", "service_id"),
    Index("ix_waitlist_entry_offer_booking_id", "offer_booking_id"),
    Index("ix_waitlist_entry_patient_id", "patient_id"),
)

# The surgical case workflow (migration 0007, services/workflows/surgical_case.py): one row
# per case (its id is the DBOS workflow id) for listing; the steps done, tasks raised and
# what it waits for are JSON documents. ``purchase_request`` links implants asked of
# procurement to their case.
surgical_case = Table(
    "surgical_case", metadata,
    Column("id", String(64), primary_key=True),
    Column("status", String(32), nullable=False),
    Column("patient_id", String(64), nullable=False),
    Column("service_id", String(64), nullable=False),
    Column("surgeon_id", String(64), nullable=False),
    Column("request", JSONDoc, nullable=False),
    Column("step", String(64), nullable=False),
    Column("waiting_for", JSONDoc, nullable=False),
    Column("steps", JSONDoc, nullable=False),
    Column("tasks", JSONDoc, nullable=False),
    Column("hold_id", String(64), nullable=True),
    Column("booking_id", String(64), nullable=True),
    Column("planned", JSONDoc, nullable=True),
    Column("prep_confirmed_by", String(128), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_by", String(128), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    CheckConstraint("status IN ('requested', 'running', 'waiting', 'booked', 'needs_attention')",
                    name="status_known"),
    Index("ix_surgical_case_status", "status"),
    Index("ix_surgical_case_patient_service", "patient_id", "service_id"),
)

purchase_request = Table(
    "purchase_request", metadata,
    Column("id", String(96), primary_key=True),
    Column("case_id", String(64), ForeignKey("surgical_case.id"), nullable=False),
    Column("site_id", String(64), nullable=False),
    Column("sku", String(64), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("needed_by", UTCDateTime, nullable=False),
    Column("expected_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    CheckConstraint("status IN ('open', 'received', 'cancelled')", name="status_known"),
    Index("ix_purchase_request_case_id", "case_id"),
    Index("ix_purchase_request_site_sku_status", "site_id", "sku", "status"),
)

# Referrals (migration 0007, services/referrals.py): one row per referral workflow (its
# id is the DBOS workflow id); ``recommendations`` are the ranked sites with their reasons.
referral = Table(
    "referral", metadata,
    Column("id", String(64), primary_key=True),
    Column("patient_id", String(64), nullable=False, index=True),
    Column("service_id", String(64), nullable=False),
    Column("urgency", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("earliest", UTCDateTime, nullable=True),
    Column("latest", UTCDateTime, nullable=True),
    Column("site_ids", JSONDoc, nullable=False),
    Column("referring", String(128), nullable=False),
    Column("source", String(64), nullable=False),
    Column("reference", String(128), nullable=False),
    Column("decision", String(16), nullable=False),
    Column("recommendations", JSONDoc, nullable=False),
    Column("choice_due_at", UTCDateTime, nullable=True),
    Column("chosen_rank", Integer, nullable=True),
    Column("chosen_by", String(128), nullable=True),
    Column("booking_id", String(64), nullable=True),
    Column("exception_id", String(64), nullable=True),
    Column("note", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=True),
    Column("version", Integer, nullable=False),
    CheckConstraint("status IN ('received', 'awaiting_choice', 'chosen', 'booked', 'queued')",
                    name="status_known"),
    Index("ix_referral_status_created_at", "status", "created_at"),
)

# Everything a reload of the demo wipes, children before parents (``meta`` stays; audit,
# users, break-glass and idempotency records are not demo data). The workflow and
# orchestration tables go too: their ids (outbox event ids, booking ids) would otherwise
# point at rows that no longer exist, or collide with new ones.
# Per-site settings (migration 0008, services/site_settings.py): one versioned JSON value
# per (site, name), e.g. ``planning.weights`` or ``predict.overbooking``.
site_setting = Table(
    "site_setting", metadata,
    Column("site_id", String(64), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("value", JSONDoc, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_by", String(128), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("reason", Text, nullable=False),
)

ALL_TABLES = (site_setting, referral, purchase_request, surgical_case, waitlist_entry, recoordination_run,
              notification, admission, bed_status,
              exception_item, inbox, outbox, stock_reservation, allocation, booking, authorization,
              patient, stock_item, service, resource, site, meta)
