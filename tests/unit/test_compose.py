"""docker-compose.yml, .env.example, the Dockerfile and deploy/k8s: valid, complete, no secrets in git.

`docker-compose config` (Debian's docker-compose 1.29 validates against the Compose Specification
schema it bundles and needs no engine) must accept the file with .env.example and refuse it without
the secrets. Under CI (CI=true) a missing docker-compose is a failure: .ci/run installs it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import yaml

from processors.settings import Secret, Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
K8S = ROOT / "deploy" / "k8s"
SETTINGS_VARS = {f"MARSAD_{f.name.upper()}" for f in fields(Settings)}
SECRET_VARS = {f"MARSAD_{f.name.upper()}" for f in fields(Settings) if isinstance(getattr(Settings(), f.name), Secret)}


def _docker_compose() -> str:
    found = shutil.which("docker-compose")
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail("docker-compose is missing: apt-get install -y docker-compose", pytrace=False)
    pytest.skip("docker-compose is not installed (apt-get install -y docker-compose)")


def _config(*env_file: str) -> subprocess.CompletedProcess[str]:
    args = [_docker_compose(), "--project-directory", str(ROOT), "-f", str(COMPOSE)]
    args += ["--env-file", *env_file] if env_file else []
    # An empty environment: the test must not pass thanks to variables of the machine running it.
    return subprocess.run([*args, "config"], capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={"PATH": os.environ.get("PATH", "")})


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    result = _config(str(ENV_EXAMPLE))
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def _raw() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


# --- docker-compose.yml --------------------------------------------------------------------------------

def test_compose_config_validates_with_env_example(config: dict[str, Any]) -> None:
    assert {"kafka", "elasticsearch", "es-init", "kibana", "setup", "ingest", "worker"} <= set(config["services"])
    assert set(config["volumes"]) == {"kafka-data", "es-data", "kibana-data"}


def test_compose_config_refuses_missing_secrets(tmp_path: Path) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = _config(str(empty))
    assert result.returncode != 0
    assert "ELASTIC_PASSWORD" in result.stderr + result.stdout


def test_compose_kafka_is_kraft_from_the_official_image(config: dict[str, Any]) -> None:
    kafka = config["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "ZOOKEEPER" not in " ".join(env), "KRaft mode has no ZooKeeper"
    assert env["KAFKA_NUM_PARTITIONS"] == _env_example()["MARSAD_TOPIC_PARTITIONS"]
    assert any(v.startswith("kafka-data:") for v in _volume_specs(kafka))


def test_compose_elasticsearch_is_secured(config: dict[str, Any]) -> None:
    es = config["services"]["elasticsearch"]
    assert re.match(r"docker\.elastic\.co/elasticsearch/elasticsearch:8\.\d+\.\d+$", es["image"])
    assert es["environment"]["xpack.security.enabled"] == "true"
    kibana = config["services"]["kibana"]
    assert kibana["image"].split(":")[1] == es["image"].split(":")[1], "Kibana and Elasticsearch versions match"
    assert kibana["environment"]["ELASTICSEARCH_USERNAME"] == "kibana_system"
    assert len(kibana["environment"]["XPACK_ENCRYPTEDSAVEDOBJECTS_ENCRYPTIONKEY"]) >= 32
    for port in es.get("ports", []) + kibana.get("ports", []):
        assert str(port.get("host_ip", port) if isinstance(port, dict) else port).startswith("127.0.0.1")


def test_compose_secrets_come_only_from_env() -> None:
    raw = COMPOSE.read_text()
    example = _env_example()
    for name, value in example.items():
        if "PASSWORD" in name or "KEY" in name:
            assert value not in raw, f"{name}'s value is written into docker-compose.yml"
    for match in re.finditer(r"(PASSWORD|ENCRYPTIONKEY)\s*:\s*(\S+)", raw):
        assert match.group(2).startswith("${") and ":?" in match.group(2), match.group(0)


def test_compose_every_variable_is_in_env_example() -> None:
    used = set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", COMPOSE.read_text()))  # $${X}: the container's own
    missing = used - set(_env_example())
    assert not missing, f".env.example lacks {sorted(missing)}"


def test_compose_env_is_not_committed() -> None:
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT, check=False).returncode
    assert ignored == 0, ".env must be listed in .gitignore"
    assert subprocess.run(["git", "check-ignore", "-q", ".env.example"], cwd=ROOT, check=False).returncode == 1


def test_compose_startup_order_waits_for_health(config: dict[str, Any]) -> None:
    services = config["services"]
    for name in ("kafka", "elasticsearch", "kibana", "worker"):
        assert "test" in services[name]["healthcheck"], name
    wanted = {
        "es-init": {"elasticsearch": "service_healthy"},
        "kibana": {"es-init": "service_completed_successfully"},
        "setup": {"es-init": "service_completed_successfully", "kibana": "service_healthy"},
        "ingest": {"kafka": "service_healthy", "setup": "service_completed_successfully"},
        "worker": {"kafka": "service_healthy", "setup": "service_completed_successfully"},
    }
    for name, deps in wanted.items():
        assert {d: c["condition"] for d, c in services[name]["depends_on"].items()} == deps, name


def test_compose_marsad_services_share_image_and_settings(config: dict[str, Any]) -> None:
    services = config["services"]
    for name in ("setup", "ingest", "worker"):
        service = services[name]
        assert service["image"] == services["setup"]["image"] and service["build"]["context"] == str(ROOT)
        marsad_vars = {k for k in service["environment"] if k.startswith("MARSAD_")}
        assert marsad_vars <= SETTINGS_VARS, f"{name}: unknown {marsad_vars - SETTINGS_VARS}"
        assert service["environment"]["MARSAD_ELASTICSEARCH_URL"] == "http://elasticsearch:9200"
        assert service["environment"]["MARSAD_KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert services["setup"]["command"] == ["marsad", "setup"]
    assert services["worker"]["command"][:2] == ["marsad", "worker"]
    assert services["worker"]["environment"]["MARSAD_ELASTICSEARCH_USERNAME"] == "marsad", "least privilege"


def test_compose_workers_can_scale(config: dict[str, Any]) -> None:
    worker = config["services"]["worker"]
    assert "container_name" not in worker, "--scale needs generated container names"
    assert not worker.get("ports"), "--scale cannot bind one host port N times"


def _env_example() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines()
             if line.strip() and not line.startswith("#"))
    return {k.strip(): v.strip() for k, v in pairs}


def _volume_specs(service: dict[str, Any]) -> list[str]:
    return [v if isinstance(v, str) else f"{v['source']}:{v['target']}" for v in service.get("volumes", [])]


# --- Dockerfile -----------------------------------------------------------------------------------------

def test_compose_dockerfile_builds_the_package() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    assert re.search(r"^RUN pip install \.", text, re.M)
    assert re.search(r"^USER (?!root)\w+", text, re.M), "the image does not run as root"
    for line in re.findall(r"^COPY (.+) \S+$", text, re.M):
        for source in line.split():
            assert (ROOT / source).exists(), f"Dockerfile copies {source}, which does not exist"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".env" in ignored and ".venv" in ignored and ".git" in ignored


# --- deploy/k8s -----------------------------------------------------------------------------------------

def _k8s() -> dict[tuple[str, str], dict[str, Any]]:
    docs = [d for path in sorted(K8S.glob("*.yaml")) for d in yaml.safe_load_all(path.read_text()) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def test_compose_k8s_configmap_holds_known_non_secret_settings() -> None:
    config = _k8s()[("ConfigMap", "marsad-config")]["data"]
    assert set(config) <= SETTINGS_VARS, f"unknown settings {set(config) - SETTINGS_VARS}"
    assert not set(config) & SECRET_VARS, "secrets belong in the Secret"
    assert all(isinstance(v, str) for v in config.values()), "ConfigMap values must be strings"
    assert config["MARSAD_ELASTICSEARCH_URL"].startswith("https://") and config["MARSAD_ELASTICSEARCH_CA_FILE"]


@pytest.mark.parametrize("name", ["marsad-worker", "marsad-ingest"])
def test_compose_k8s_deployments_are_production_ready(name: str) -> None:
    manifests = _k8s()
    deployment = manifests[("Deployment", name)]
    pod = deployment["spec"]["template"]["spec"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= \
        deployment["spec"]["template"]["metadata"]["labels"].items()
    assert pod["securityContext"]["runAsNonRoot"] is True
    container = pod["containers"][0]
    assert {"requests", "limits"} <= set(container["resources"])
    assert "livenessProbe" in container and "readinessProbe" in container
    assert container["envFrom"] == [{"configMapRef": {"name": "marsad-config"}}]
    secret = manifests[("Secret", "marsad-secrets")]["stringData"]
    mounted = {v["name"]: v["secret"]["secretName"] for v in pod["volumes"]}
    assert mounted == {"secrets": "marsad-secrets"}
    files = {e["name"]: e["value"] for e in container["env"] if e["name"].endswith("_FILE")}
    for var, path in files.items():
        assert var.removesuffix("_FILE") in SECRET_VARS, var
        assert Path(path).name in secret, f"{var} points at a key the Secret does not have"


def test_compose_k8s_worker_autoscaling_stays_within_partitions() -> None:
    manifests = _k8s()
    hpa = manifests[("HorizontalPodAutoscaler", "marsad-worker")]["spec"]
    partitions = int(manifests[("ConfigMap", "marsad-config")]["data"]["MARSAD_TOPIC_PARTITIONS"])
    assert hpa["scaleTargetRef"]["name"] == "marsad-worker"
    assert hpa["minReplicas"] <= manifests[("Deployment", "marsad-worker")]["spec"]["replicas"] <= partitions
    assert hpa["maxReplicas"] <= partitions, "workers beyond the partition count sit idle"
