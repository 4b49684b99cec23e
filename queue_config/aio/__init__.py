"""asyncio helpers: periodic tasks and coalescing concurrent callers' calls per event-loop turn."""
