"""The ticket record's layout by store format (``queue_config.stores.redis.record_fields``): what a record
keeps of a resident ID and how it reads back, and the names the Lua scripts are given."""

from __future__ import annotations

import pytest

from queue_config import resident_id
from queue_config.stores.redis import lua, record_fields
from queue_config.stores.redis.record_fields import FIELDS, read, shown_citizen, stored_citizen


@pytest.mark.parametrize("seed", [0, 1, 17, 9999])
def test_a_masked_resident_id_is_kept_as_its_shown_characters_and_reads_back_the_same(seed: int) -> None:
    masked = resident_id.mask(resident_id.make(seed))
    kept = stored_citizen(masked)
    assert len(kept) == 8 and "*" not in kept
    assert shown_citizen(kept) == masked
    # Format 1 keeps it whole, and a whole one reads as it is
    assert stored_citizen(masked, 1) == masked == shown_citizen(masked)


def test_anything_else_is_kept_as_it_is() -> None:
    for value in ("ent-42", "110101********12", "****"):
        assert stored_citizen(value) == value == shown_citizen(value)


def test_short_names_are_one_of_a_kind_and_never_a_long_name() -> None:
    assert len(set(FIELDS.values())) == len(FIELDS)
    assert not set(FIELDS.values()) & set(FIELDS)
    assert record_fields.PROMISED_AT not in FIELDS


def test_a_long_name_beside_a_short_one_wins() -> None:
    assert read({"s": "processing", "status": "done"}, "status") == "done"
    assert read({"s": "processing"}, "status") == "processing"
    assert read({}, "status", "queued") == "queued"
    assert record_fields.first([b"done", None, b"processing", b"3"]) == [b"done", b"3"]


@pytest.mark.parametrize(("store_format", "status", "foreign"), [(2, "'s'", "status"), (1, "'status'", "s")])
def test_each_format_gives_its_scripts_its_own_names_and_renames_the_others(
    store_format: int, status: str, foreign: str
) -> None:
    text = lua.source("ticket_finish", store_format)
    assert "{{" not in text  # every placeholder filled
    assert f"status = {status}" in text
    assert f"redis.call('HEXISTS', key, '{foreign}')" in text
    assert f"local FORMAT = {store_format}" in text
    assert ("promised_at = true" in text) is (store_format == 2)
