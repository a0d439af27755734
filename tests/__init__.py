"""careflow tests: unit (fakes), integration (a real database), e2e (HTTP)."""
