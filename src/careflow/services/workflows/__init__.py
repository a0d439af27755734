"""Durable workflows on DBOS Transact: surgical case, referral, imaging readiness, bed placement."""
