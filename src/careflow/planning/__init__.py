"""Planning: slot finding and ranking (and, later, the CP-SAT models)."""
