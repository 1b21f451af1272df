"""Checks of each model's config that reuse the serving component's own validators.

Plain functions over a `StackConfig`, each returning `Problem`s with config key paths, so the
config check, the plan and the policy pack can all call them. The component raises on the same
conditions when it is used on its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmops.components.serving import pod_security
from llmops.components.serving.secret_flags import is_secret_option, secret_option_fix

if TYPE_CHECKING:
    from llmops.infra.config import ModelConfig, Problem, StackConfig


def model_problems(config: StackConfig) -> list[Problem]:
    problems: list[Problem] = []
    for index, model in enumerate(config.models):
        problems += pod_problems(f"models[{index}]", model)
        problems += secret_arg_problems(f"models[{index}]", model)
    return problems


def secret_arg_problems(at: str, model: ModelConfig) -> list[Problem]:
    """extraArgs options that carry a secret; the value is never repeated."""
    from llmops.infra.config import _MISSING, Problem

    return [
        Problem(
            f"{at}.extraArgs.{flag}",
            _MISSING,
            "carries a secret, which would sit in plain text in the pod's args, plan.json and the state "
            "(the value is not shown)",
            secret_option_fix(flag),
        )
        for flag, value in model.extra_args.items()
        if is_secret_option(flag, value)
    ]


def pod_problems(at: str, model: ModelConfig) -> list[Problem]:
    """Image reference, digest and extra writable paths of one model."""
    from llmops.infra.config import Problem

    problems: list[Problem] = []
    paths = [pod_security.WritablePath(w.path, w.size_limit) for w in model.writable_paths]
    for index, value, what, fix in pod_security.writable_path_problems(paths):
        key = "path" if value == paths[index].path else "sizeLimit"
        problems.append(Problem(f"{at}.writablePaths[{index}].{key}", value, what, fix))
    image = model.image or pod_security.DEFAULT_IMAGE
    for field, value, what, fix in pod_security.image_problems(image, model.image_digest):
        problems.append(
            Problem(f"{at}.{'imageDigest' if field == 'image_digest' else 'image'}", value, what, fix)
        )
    return problems
