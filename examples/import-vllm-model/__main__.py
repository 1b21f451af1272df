"""Serve Llama 3.1 8B on a GPU cluster this program does not own, with llmops' VllmModel.

Run from this folder: `pulumi install && pulumi up` (kubeconfig context `gpu-cluster`).
"""

import pulumi
import pulumi_kubernetes as k8s
from llmops.components.serving import EngineSpec, VllmModel, VllmModelArgs

config = pulumi.Config()
provider = k8s.Provider("gpu-cluster", context=config.get("context") or "gpu-cluster")

llama = VllmModel(
    "llama-8b",
    VllmModelArgs(
        engine=EngineSpec(model="meta-llama/Llama-3.1-8B-Instruct", max_model_len=16384),
        namespace=config.get("namespace") or "serving",
        replicas=2,
        # An existing Secret with key HF_TOKEN: the model is gated on Hugging Face.
        hf_token_secret="hf-token",
    ),
    opts=pulumi.ResourceOptions(providers={"kubernetes": provider}),
)

pulumi.export("llama_url", llama.endpoint)
