"""What every component reads to plan: the throttle document, the admission plan, capacity reports,
ETAs and their lateness."""
