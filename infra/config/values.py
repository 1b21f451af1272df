"""Value types of the stack config: names, quantities, CIDRs, model sources (cron, time zones,
labels and byte sizes live in `llmops.infra.value_checks`).

Each is an `Annotated[str, ...]` whose validator raises a pydantic error carrying the problem
and its fix; `translate` turns those into `Problem`s with the key path.
"""

from __future__ import annotations

import re
from typing import Annotated

from llmops.components.kube_names import QUANTITY, is_dns1035_label
from llmops.components.serving.vllm_args import MAX_MODEL_NAME
from llmops.infra.value_checks import Cron as Cron  # strict fields, names and ranges
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError


def _fail(message: str, fix: str) -> PydanticCustomError:
    # The message travels in the context: pydantic formats the template with it.
    return PydanticCustomError("llmops", "{message}", {"message": message, "fix": fix})


# --------------------------------------------------------------------------- value types

MAX_NAME_LENGTH = MAX_MODEL_NAME
# Machines in one pool; far above any real pool, far below what the cloud APIs' integers hold.
MAX_POOL_SIZE = 10_000


def _dns_name(value: str) -> str:
    if not is_dns1035_label(value, MAX_NAME_LENGTH):
        suggestion = re.sub(r"[^a-z0-9-]+", "-", value.lower()).strip("-")[:MAX_NAME_LENGTH] or "model"
        if not suggestion[0].isalpha():
            suggestion = "m-" + suggestion[: MAX_NAME_LENGTH - 2]
        raise _fail(
            f"is not a valid name (lower-case letters, digits and '-', starting with a letter, "
            f"at most {MAX_NAME_LENGTH} characters)",
            f"use a name such as {suggestion!r}",
        )
    return value


Name = Annotated[str, AfterValidator(_dns_name)]


def _quantity(value: str) -> str:
    if not QUANTITY.match(value):
        raise _fail(
            "is not a Kubernetes quantity",
            "write it like '4', '500m', '16Gi' or '2G'",
        )
    return value


Quantity = Annotated[str, AfterValidator(_quantity)]


def _cidr(value: str) -> str:
    from llmops.components.netguard import CidrError, parse_cidr

    try:
        parse_cidr(value, ipv6=False)  # the API and security groups take IPv4 ranges
    except CidrError as exc:
        raise _fail(exc.message, exc.fix) from None
    return value


Cidr = Annotated[str, AfterValidator(_cidr)]

_HF_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


def _model_source(value: str) -> str:
    if value.startswith(("/", "s3://", "gs://", "az://")) or _HF_REPO.match(value):
        return value
    raise _fail(
        "is neither a Hugging Face repository id nor a path",
        "use 'org/name' as on huggingface.co (e.g. 'Qwen/Qwen2.5-0.5B-Instruct'), "
        "an absolute path inside the model volume, or an s3:// / gs:// / az:// URL",
    )


ModelSource = Annotated[str, AfterValidator(_model_source)]
