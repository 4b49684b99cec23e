"""The store's Lua scripts, one ``.lua`` file each, read once.

A script file names the shared functions it needs with ``--#include <name>`` lines (``lib_<name>.lua``),
and ``{{NAME}}`` placeholders take constants that Python code shares with it, so a constant is
declared once.
"""

from __future__ import annotations

import functools
import re
from importlib import resources

from queue_config.planning import lateness
from queue_config.stores.redis import record_fields

_INCLUDE = re.compile(r"^--#include (\w+)$", re.M)
_CONSTANTS = {"LATENESS_STEP": str(lateness.STEP), "LATENESS_LIMIT": str(lateness.LIMIT)}


@functools.cache
def source(name: str, store_format: int = 2) -> str:
    """The text of ``<name>.lua`` with its includes expanded and constants filled in, those of the
    ticket record's layout for ``store_format`` (``record_fields``)."""
    text = resources.files(__package__).joinpath(f"{name}.lua").read_text(encoding="utf-8")
    text = _INCLUDE.sub(lambda m: source(f"lib_{m.group(1)}", store_format), text)
    for key, value in {**_CONSTANTS, **record_fields.lua_constants(store_format)}.items():
        text = text.replace("{{" + key + "}}", value)
    return text
