"""Admission: who gets in and how fast (the per-client and per-kind limiter, the priority rule, the
controller that writes the admission plan from the forecast and measured capacity)."""
