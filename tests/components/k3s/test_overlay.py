"""The cross-cloud overlay settings: flannel's config with the WireGuard MTU, and the K3s keys each
role gains. Pure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from llmops.components.cloud import PEER_PORTS, all_kits
from llmops.components.k3s.overlay import (
    CLUSTER_CIDR,
    FLANNEL_CONF_PATH,
    SERVICE_CIDR,
    WIREGUARD_OVERHEAD,
    WIREGUARD_PORT,
    Overlay,
)
from llmops.components.k3s.render import K3S_CONFIG_PATH, NODE_ETC_DIR, NodeBootstrap, render_cloud_init


def test_wireguard_overhead_is_the_ipv6_worst_case() -> None:
    ipv6_header, udp_header, wireguard_header, poly1305_tag = 40, 8, 16, 16
    assert ipv6_header + udp_header + wireguard_header + poly1305_tag == WIREGUARD_OVERHEAD


@pytest.mark.parametrize("path_mtu", [1460, 1500])
def test_flannel_config_carries_the_path_mtu_and_the_pod_range(path_mtu: int) -> None:
    overlay = Overlay(path_mtu=path_mtu)
    conf = json.loads(overlay.net_conf())
    assert conf == {
        "Network": CLUSTER_CIDR,
        "EnableIPv4": True,
        "EnableIPv6": False,
        "Backend": {
            "Type": "wireguard",
            "PersistentKeepaliveInterval": 25,
            "Mode": "separate",
            "MTU": path_mtu,
        },
    }
    assert overlay.pod_mtu == path_mtu - 80


def test_servers_set_the_ranges_and_external_ip_agents_only_the_flannel_config() -> None:
    overlay = Overlay()
    assert overlay.k3s_settings("server") == {
        "flannel-conf": FLANNEL_CONF_PATH,
        "flannel-external-ip": True,
        "cluster-cidr": CLUSTER_CIDR,
        "service-cidr": SERVICE_CIDR,
    }
    assert overlay.k3s_settings("agent") == {"flannel-conf": FLANNEL_CONF_PATH}


def test_the_kits_path_mtus_leave_room_for_the_overhead() -> None:
    mtus = {kit.cloud: kit.internet_path_mtu for kit in all_kits()}
    assert mtus == {"aws": 1500, "gcp": 1460, "azure": 1500}
    assert min(mtus.values()) - WIREGUARD_OVERHEAD >= 1280  # IPv6's minimum link MTU, for pods


def test_peer_ports_are_exactly_the_three_openings() -> None:
    assert {(p.protocol, p.port, p.sources, p.targets) for p in PEER_PORTS} == {
        ("tcp", 6443, "agents", "servers"),
        ("udp", WIREGUARD_PORT, "nodes", "nodes"),
        ("tcp", 10250, "servers", "agents"),
    }


def test_cloud_init_with_an_overlay_writes_the_claim_and_the_flannel_config(tmp_path: Path) -> None:
    fragment = tmp_path / "cloud.sh"
    fragment.write_text("cloud_external_ip() { echo 198.51.100.1; }\n")
    claim = tmp_path / "claim.sh"
    claim.write_text("cloud_claim_address() { return 0; }\n")
    document = yaml.safe_load(
        render_cloud_init(
            role="agent",
            k3s_config={"server": "https://198.51.100.2:6443"},
            secrets=[],
            bootstrap=NodeBootstrap(cloud="test", script=fragment),
            overlay=Overlay(address_set="pool-set", claim_script=claim),
        )
    )
    files = {entry["path"]: entry["content"] for entry in document["write_files"]}
    assert "LLMOPS_ADDRESS_SET=pool-set" in files[f"{NODE_ETC_DIR}/bootstrap.env"]
    assert files["/usr/local/lib/llmops/cloud.sh"].endswith("cloud_claim_address() { return 0; }\n")
    assert json.loads(files[FLANNEL_CONF_PATH])["Backend"]["Type"] == "wireguard"
    assert yaml.safe_load(files[K3S_CONFIG_PATH])["flannel-conf"] == FLANNEL_CONF_PATH


def test_cloud_init_without_an_overlay_is_unchanged(tmp_path: Path) -> None:
    fragment = tmp_path / "cloud.sh"
    fragment.write_text("true\n")
    document = yaml.safe_load(
        render_cloud_init(
            role="agent",
            k3s_config={"server": "https://10.0.0.10:6443"},
            secrets=[],
            bootstrap=NodeBootstrap(cloud="test", script=fragment),
        )
    )
    paths = {entry["path"] for entry in document["write_files"]}
    assert FLANNEL_CONF_PATH not in paths
    assert "flannel-conf" not in yaml.safe_load(
        next(e["content"] for e in document["write_files"] if e["path"] == K3S_CONFIG_PATH)
    )
