"""What makes script attacks cost the attacker: suspicion of clients and proof-of-work challenges."""
