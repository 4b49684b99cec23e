"""The operator API and dashboard: throttle, forecast, enterprises, dead letters, audit."""
