"""What the front door, the workers and the status API must agree on: settings, names, topology,
the wire format, ticket IDs and the ticket store. Nothing here imports a service package."""
