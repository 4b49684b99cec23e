"""When a transient failure is tried again, and the retries whose message never came back."""
