"""A simulator of the core systems (pensions, transfers, payments) with a capacity model and a ledger."""
