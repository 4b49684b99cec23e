"""The stack most Python teams would pick: FastAPI in front, Celery behind, on the same RabbitMQ and Redis.

- ``uvicorn bench.baselines.celery_portal:api``: ``POST /v1/submissions`` validates with pydantic and
  publishes the task with ``apply_async`` (its own task ID is the ticket), answering 202.
- ``celery -A bench.baselines.celery_portal worker``: executes each task by calling the core system
  with the task ID as the idempotency key; the result backend is Redis.

Written the way Celery's documentation suggests, with its defaults (a classic durable queue, acks on
receipt): the comparison is with what people run, not with a tuned Celery. The queue is named by
``BASELINE_QUEUE`` so that the harness can delete it afterwards.
"""

from __future__ import annotations

import os
import re
import uuid
from typing import Annotated, Any, Literal

import httpx
from celery import Celery
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from queue_config.kinds import KINDS
from queue_config.resident_id import problem as resident_id_problem

QUEUE = os.environ.get("BASELINE_QUEUE", "bench-celery")
CORE_URL = os.environ.get("CORE_URL", "http://127.0.0.1:8090")

app = Celery(
    "celery_portal",
    broker=os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
    backend=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
)
app.conf.task_default_queue = QUEUE
app.conf.result_expires = 3600
app.conf.broker_connection_retry_on_startup = True
# No remote control: it declares the vhost-wide "celery.pidbox" exchange, which outlives the run.
app.conf.worker_enable_remote_control = False
# Result keys under the queue's name, so that the harness can delete exactly its own afterwards.
app.conf.result_backend_transport_options = {"global_keyprefix": f"{QUEUE}:"}

_core = httpx.Client(base_url=CORE_URL, timeout=30.0)


@app.task(name="execute", autoretry_for=(httpx.HTTPError,), retry_backoff=True, max_retries=2)
def execute(kind: str, citizen_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    response = _core.post(
        f"/v1/{kind}", json={"citizen_id": citizen_id, "payload": payload}, headers={"Idempotency-Key": key}
    )
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Pension(_Strict):
    action: Literal["estimate", "claim"]
    retirement_date: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")]


class Transfer(_Strict):
    from_region: Annotated[str, Field(pattern=r"^\d{6}$")]
    to_region: Annotated[str, Field(pattern=r"^\d{6}$")]


class Payment(_Strict):
    scheme: Literal["medical", "pension", "unemployment"]
    amount_cents: Annotated[int, Field(ge=1, le=10_000_000)]
    period: Annotated[str, Field(pattern=r"^\d{4}-\d{2}$")]


class Submission(_Strict):
    kind: str
    citizen_id: Annotated[str, Field(min_length=18, max_length=18)]
    payload: dict[str, Any]


# The payload models this baseline writes by hand, as a FastAPI service would; a kind it has none for
# (the registry's newer kinds) is checked only for being one of the registry's kinds.
_PAYLOADS: dict[str, type[_Strict]] = {"pension": Pension, "transfer": Transfer, "payment": Payment}


_ID = re.compile(r"^\d{17}[\dXx]$")
api = FastAPI()


@api.post("/v1/submissions", status_code=202)
def submit(submission: Submission) -> dict[str, str]:
    # A plain ``def``: FastAPI runs it in its thread pool, since ``apply_async`` blocks on the broker.
    from fastapi import HTTPException

    if resident_id_problem(submission.citizen_id) is not None or not _ID.match(submission.citizen_id):
        raise HTTPException(status_code=422, detail="invalid citizen_id")
    if submission.kind not in KINDS:
        raise HTTPException(status_code=422, detail="invalid kind")
    model = _PAYLOADS.get(submission.kind)
    try:
        payload = model.model_validate(submission.payload).model_dump() if model else submission.payload
    except ValidationError as exc:
        raise HTTPException(status_code=422, detail="invalid payload") from exc
    ticket_id = uuid.uuid4().hex
    execute.apply_async(
        args=(submission.kind, submission.citizen_id, payload, ticket_id),
        task_id=ticket_id,
    )
    return {"ticket_id": ticket_id, "status": "queued"}
