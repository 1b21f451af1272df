"""`vllm serve` options that carry secrets, and where each secret goes instead (pure Python).

An option's value ends up in the Deployment's args, in `plan.json` and in the Pulumi state, all
of them in plain text. Options whose name carries a secret are refused, with the typed option
that passes the secret through a Kubernetes Secret instead.
"""

from __future__ import annotations

# Options with a typed replacement that reads a Kubernetes Secret.
SECRET_OPTIONS: dict[str, tuple[str, str]] = {
    "api-key": ("apiKeySecret", "a Secret with key VLLM_API_KEY"),
    "hf-token": ("hfTokenSecret", "a Secret with key HF_TOKEN"),
}
# Name words that mark a secret. Matched per '-'-separated word (also as a word's ending, as in
# `apikey`), so `max-num-batched-tokens`, `tokenizer` or `ssl-keyfile` (a path) are not caught.
SECRET_WORDS = ("token", "key", "password", "passwd", "secret", "credential", "credentials")


def _secret_word(word: str) -> bool:
    return any(word == secret or word.endswith(secret) for secret in SECRET_WORDS)


def is_secret_option(flag: str, value: object = "") -> bool:
    """Whether `--flag value` would put a secret into the command line.

    A bare flag (a bool) carries no value, and a number is a secret only where the secret word ends
    the name: vLLM's own `--return-tokens-as-token-ids`, `--allow-credentials` and
    `--long-prefill-token-threshold` stay usable.
    """
    name = flag.lstrip("-").replace("_", "-").lower()
    if name in SECRET_OPTIONS:
        return True
    words = name.split("-")
    if isinstance(value, bool) or not any(_secret_word(w) for w in words):
        return False
    return not isinstance(value, int | float) or _secret_word(words[-1])


def secret_option_fix(flag: str) -> str:
    """How to pass the secret instead (names the typed option where one exists)."""
    name = flag.lstrip("-").replace("_", "-").lower()
    if name in SECRET_OPTIONS:
        key, what = SECRET_OPTIONS[name]
        return f"remove it and set {key}: <name of {what}>"
    return (
        "remove it; an option whose value is a secret would sit in plain text in the Deployment, "
        "plan.json and the state (API keys: apiKeySecret, Hugging Face tokens: hfTokenSecret)"
    )
