"""Use cases over the domain, and the ports (interfaces) adapters implement."""
