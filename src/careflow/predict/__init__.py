"""Predictions behind a Predictor port: no-show risk, case duration, demand and overbooking advice."""
