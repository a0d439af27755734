"""IHTC-2024: the instance and solution model and the official-equivalent scorer."""
