"""The script-attack benchmark (issue 18): ``python -m bench.attack``."""
