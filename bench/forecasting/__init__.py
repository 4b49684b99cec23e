"""Forecast replay: synthetic traces and scoring of ticketgate's forecaster against a reference model."""
