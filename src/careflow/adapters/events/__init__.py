"""Events: the outbox and inbox on SQL, the JetStream relay, and the pump that runs them."""
