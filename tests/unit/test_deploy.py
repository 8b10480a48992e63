"""The deploy files agree with the code: commands, ports, probes, variables, images.

Docker and Kubernetes are not on the machines the tests run on, so the files are
checked statically against what the code offers (docs/operations.md, "What was
not run here"): the Procfile is the reference for the two commands, the Flask
app's url_map for the probes, the config code for every variable a file sets,
/metrics for every metric a dashboard or an alert reads.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import shlex
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

import sidecar.cli  # noqa: F401  (registers every module's metrics)
from sidecar import metrics_dir
from sidecar.app import create_app
from sidecar.cli import main
from sidecar.config import Config, Secret, settings_table
from sidecar.sla import DEFAULT_POLICY, first_response_due, load_policy

ROOT = Path(__file__).parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE = DEPLOY / "docker-compose.yml"
DOCKERFILE = DEPLOY / "Dockerfile"
ALERTS = DEPLOY / "monitoring" / "alerts.yml"
ALERT_TESTS = DEPLOY / "monitoring" / "alerts.test.yml"
DASHBOARD = DEPLOY / "monitoring" / "grafana-dashboard.json"
RUNBOOK = ROOT / "docs" / "operations.md"
README = (ROOT / "README.md").read_text()
PLACEHOLDER = re.compile(r"<[a-z0-9-]+>")
# Read by the Python interpreter or the OS in the image, not by the service.
INTERPRETER_VARIABLES = {"PATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"}


# --- what the code offers ---------------------------------------------------


def variables_read() -> set[str]:
    """Every environment variable the service reads: Config, plus the process-level ones."""
    names = {name for name, _, _ in settings_table()}
    literal = re.compile(
        r"""os\.(?:environ(?:\.get\(|\[)|getenv\()\s*["']([A-Z][A-Z0-9_]*)["']"""
    )
    for path in (ROOT / "sidecar").rglob("*.py"):
        names.update(literal.findall(path.read_text()))
    names.add(metrics_dir.ENV)  # read by prometheus_client itself
    return names


def secret_variables() -> set[str]:
    return {f.metadata["env"] for f in fields(Config) if "Secret" in str(f.type)}


def procfile() -> dict[str, list[str]]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return {
        name.strip(): shlex.split(command)
        for name, command in (line.split(":", 1) for line in lines if line.strip())
    }


@pytest.fixture(scope="module")
def app_routes(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    queue = tmp_path_factory.mktemp("routes") / "queue.db"
    app = create_app(Config(webhook_secret=Secret("x"), queue_url=f"sqlite:///{queue}"))
    return {rule.rule for rule in app.url_map.iter_rules()}


# The sample names a metric family of each type has, once it has a child
# (a labelled counter or histogram shows only its HELP/TYPE before its first use).
SAMPLE_SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
}


@pytest.fixture(scope="module")
def metric_names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Every sample name the web's /metrics exposes (worker metrics included).

    With one open-ticket sample in the queue store, as a worker stores it: the
    web publishes those gauges only once a sample exists.
    """
    from sidecar.tasks.open_counts import SAMPLE_FLAG, OpenCounts
    from sidecar.tasks.queue import JobQueue

    queue = tmp_path_factory.mktemp("metrics") / "queue.db"
    store = JobQueue.from_url(f"sqlite:///{queue}")
    store.set_flag(SAMPLE_FLAG, OpenCounts({"at_risk": 2}, sampled_at=1.0).to_json())
    store.close()
    app = create_app(Config(webhook_secret=Secret("x"), queue_url=f"sqlite:///{queue}"))
    body = app.test_client().get("/metrics").get_data(as_text=True)
    names = set()
    for family in text_string_to_metric_families(body):
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        names.update(family.name + s for s in SAMPLE_SUFFIXES.get(family.type, ()))
    return names


# --- the files --------------------------------------------------------------


def k8s_documents() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in sorted(K8S.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                yield path, doc


def k8s(kind: str, name: str) -> dict[str, Any]:
    (doc,) = [
        d
        for _, d in k8s_documents()
        if d["kind"] == kind and d["metadata"]["name"] == name
    ]
    return doc


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile as stages of (INSTRUCTION, arguments), continuations joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, args = line.partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((instruction.upper(), args.strip()))
    return stages


def dockerfile_env(stage: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction, args in stage:
        if instruction == "ENV":
            for pair in shlex.split(args):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list), f"use the exec form (JSON array): {args}"
    return [str(v) for v in value]


def final_stage() -> list[tuple[str, str]]:
    return dockerfile_stages()[-1]


def instruction(stage: list[tuple[str, str]], name: str) -> list[str]:
    return [args for inst, args in stage if inst == name]


# --- every file parses --------------------------------------------------------


def test_every_deploy_yaml_parses() -> None:
    """Every YAML file under deploy/ is valid YAML with at least one document."""
    paths = sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")])
    assert COMPOSE in paths and ALERTS in paths
    for path in paths:
        assert [d for d in yaml.safe_load_all(path.read_text()) if d], path


def test_every_manifest_is_a_kubernetes_object_and_kustomize_applies_them() -> None:
    """Each k8s document has apiVersion/kind/metadata.name; kustomization lists every file but the examples."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    for path, doc in k8s_documents():
        if path.name == "kustomization.yaml":
            continue
        assert {"apiVersion", "kind", "metadata"} <= set(doc), path
        assert doc["metadata"]["name"], path
        relative = str(path.relative_to(K8S))
        if path.parent == K8S and path.name != "secret.example.yaml":
            assert relative in listed, f"{relative} is not in kustomization.yaml"
    assert all((K8S / name).is_file() for name in listed)
    # The Secret with placeholders is never applied by `kubectl apply -k`.
    assert "secret.example.yaml" not in listed


# --- variables ------------------------------------------------------------------


def deploy_variables() -> dict[str, set[str]]:
    """Variable names each deploy file sets, by file."""
    found: dict[str, set[str]] = {}
    for path, doc in k8s_documents():
        names = found.setdefault(path.name, set())
        if doc["kind"] in {"ConfigMap", "Secret"} and doc["metadata"]["name"] in {
            "sidecar-config",
            "sidecar-secrets",
        }:
            names.update(doc.get("data") or {})
            names.update(doc.get("stringData") or {})
        if doc["kind"] == "Deployment":
            for container in containers(doc):
                if container["name"] != "front":  # nginx's own variables
                    names.update(e["name"] for e in container.get("env", []))
    for name, service in compose()["services"].items():
        if name != "front":
            found.setdefault("docker-compose.yml", set()).update(
                service.get("environment") or {}
            )
    found["Dockerfile"] = set(dockerfile_env(final_stage()))
    for command in procfile().values():
        found.setdefault("Procfile", set()).update(
            word.split("=", 1)[0] for word in command if re.match(r"[A-Z_]+=", word)
        )
    return found


def test_every_variable_a_deploy_file_sets_is_read_by_the_service() -> None:
    """No manifest, compose file, Dockerfile or Procfile sets a variable the code never reads."""
    known = variables_read() | INTERPRETER_VARIABLES
    unknown = {
        file: sorted(names - known)
        for file, names in deploy_variables().items()
        if names - known
    }
    assert unknown == {}


def test_readme_env_table_lists_exactly_what_the_service_reads() -> None:
    """One table: every variable read (Config and process-level) has a row, and no row is invented."""
    rows = set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", README, flags=re.M))
    assert sorted(variables_read() - rows) == []
    assert sorted(rows - variables_read()) == []


def test_no_secret_carries_a_real_looking_value() -> None:
    """The Secret example holds placeholders only; ConfigMaps and compose hold no secret at all."""
    secret = k8s("Secret", "sidecar-secrets")
    assert "data" not in secret  # base64 would hide a real value from review
    assert set(secret["stringData"]) == secret_variables() & set(secret["stringData"])
    for key, value in secret["stringData"].items():
        assert PLACEHOLDER.fullmatch(value), f"{key} is not a <placeholder>"
    secrets = secret_variables()
    for path, doc in k8s_documents():
        if doc["kind"] == "ConfigMap":
            assert not secrets & set(doc.get("data") or {}), path
        if doc["kind"] == "Deployment":
            for container in containers(doc):
                for env in container.get("env", []):
                    assert env["name"] not in secrets or "valueFrom" in env, path
    for name, service in compose()["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if key in secrets:
                # Only an interpolation of the host's variable of the same name.
                assert re.fullmatch(rf"\$\{{{key}(:[-?][^}}]*)?\}}", value), (name, key)
    assert not secrets & set(dockerfile_env(final_stage()))


def test_configmap_settings_are_a_valid_configuration() -> None:
    """The ConfigMap's settings parse with Config.from_env (empty ids mean "set me")."""
    data = k8s("ConfigMap", "sidecar-config")["data"]
    config = Config.from_env({**data, "SIDECAR_WEBHOOK_SECRET": "x"})
    assert config.queue_url.startswith("redis://")  # several pods share the queue


def test_configmap_files_are_valid_and_mounted_where_the_settings_point() -> None:
    """policy.toml is the built-in default policy as a file, entitlements.toml loads, both at the configured paths."""
    files = k8s("ConfigMap", "sidecar-files")["data"]
    settings = k8s("ConfigMap", "sidecar-config")["data"]
    for name in ("sidecar-web", "sidecar-worker"):
        container = containers(k8s("Deployment", name))[0]  # the front comes after
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        volumes = {
            v["name"]: v
            for v in k8s("Deployment", name)["spec"]["template"]["spec"]["volumes"]
        }
        (files_volume,) = [
            n
            for n, v in volumes.items()
            if v.get("configMap", {}).get("name") == "sidecar-files"
        ]
        for variable, key in (
            ("SIDECAR_POLICY_FILE", "policy.toml"),
            ("SIDECAR_ENTITLEMENTS_FILE", "entitlements.toml"),
        ):
            assert settings[variable] == f"{mounts[files_volume]}/{key}"
            assert key in files
    policy = tomllib.loads(files["policy.toml"])
    assert policy["default_policy"] == "enterprise"
    assert tomllib.loads(files["entitlements.toml"])["orgs"]


def test_configmap_policy_gives_the_built_in_due_times(tmp_path: Path) -> None:
    """The policy file in the ConfigMap computes the same due times as the built-in default."""
    path = tmp_path / "policy.toml"
    path.write_text(k8s("ConfigMap", "sidecar-files")["data"]["policy.toml"])
    policy = load_policy(path)
    start = datetime(2026, 11, 23, tzinfo=UTC)  # a Monday
    for severity in range(1, 6):
        for hours in range(0, 24 * 7, 5):
            created = start + timedelta(hours=hours, minutes=17)
            assert first_response_due(created, severity, policy) == (
                first_response_due(created, severity, DEFAULT_POLICY)
            ), (severity, created)


def test_configmap_entitlements_pass_the_offline_check(tmp_path: Path) -> None:
    """The example entitlements file is accepted by the same loader the worker uses."""
    from sidecar.entitlements import EntitlementsStore

    path = tmp_path / "entitlements.toml"
    path.write_text(k8s("ConfigMap", "sidecar-files")["data"]["entitlements.toml"])
    store = EntitlementsStore.from_config(Config(entitlements_file=str(path)))
    assert store is not None


# --- commands, images, ports ------------------------------------------------------


def test_web_command_is_the_procfile_line_everywhere() -> None:
    """Procfile web:, the Dockerfile CMD, compose and every k8s web container run one command."""
    web = procfile()["web"]
    assert exec_form(instruction(final_stage(), "CMD")[-1]) == web
    assert compose()["services"]["web"]["command"] == web
    web_containers = [
        c for _, doc in k8s_documents() if doc["kind"] == "Deployment"
        for c in containers(doc) if "web" in c["name"]
    ]  # fmt: skip
    assert len(web_containers) == 2  # the web Deployment and the sidecar example
    assert all(c["command"] == web for c in web_containers)


def test_worker_command_is_the_procfile_line_with_valid_options() -> None:
    """Procfile worker: is what compose and k8s run, with options `sidecar worker` accepts."""
    worker = procfile()["worker"]
    assert worker[:2] == ["sidecar", "worker"] and "worker" in main.commands
    commands = [
        compose()["services"]["worker"]["command"],
        *(c["command"] for c in containers(k8s("Deployment", "sidecar-worker"))),
    ]
    for command in commands:
        assert command[: len(worker)] == worker
        # click parses the options exactly as the CLI would, without running it.
        main.commands["worker"].make_context("worker", list(command[2:]))


def test_entry_points_resolve() -> None:
    """Every program the image runs exists: console scripts, gunicorn's config and app, the healthcheck module."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, attribute = scripts["sidecar"].partition(":")
    assert hasattr(importlib.import_module(module), attribute)
    assert entry_points(group="console_scripts", name="gunicorn")
    web = procfile()["web"]
    assert web[0] == "gunicorn"
    config = web[web.index("-c") + 1].removeprefix("python:")
    assert importlib.util.find_spec(config) is not None
    app_module, _, app_name = web[-1].partition(":")
    spec = importlib.util.find_spec(app_module)
    assert spec is not None and spec.origin is not None
    tree = ast.parse(Path(spec.origin).read_text())
    assigned = {
        target.id
        for node in ast.walk(tree) if isinstance(node, ast.Assign)
        for target in node.targets if isinstance(target, ast.Name)
    }  # fmt: skip
    assert app_name in assigned
    healthcheck = exec_form(
        instruction(final_stage(), "HEALTHCHECK")[-1].split("CMD", 1)[1]
    )
    assert healthcheck[:2] == ["python", "-m"]
    assert importlib.util.find_spec(healthcheck[2]) is not None


def test_one_image_for_web_and_worker() -> None:
    """Compose and Kubernetes run the same image for both processes, built from deploy/Dockerfile."""
    services = compose()["services"]
    assert services["web"]["image"] == services["worker"]["image"]
    for name in ("web", "worker"):
        build = services[name]["build"]
        assert (
            COMPOSE.parent / build["context"] / build["dockerfile"]
        ).resolve() == DOCKERFILE
    images = {
        c["image"]
        for n in ("sidecar-web", "sidecar-worker")
        for c in containers(k8s("Deployment", n))
        if c["name"] != "front"  # nginx, its own image
    }
    assert images == {"sidecar"}
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert [i["name"] for i in kustomization["images"]] == ["sidecar"]
    assert services["redis"]["image"].startswith("redis:")


def test_ports_agree() -> None:
    """$PORT, EXPOSE, compose, containerPort, Service targetPort and the worker's metrics port line up."""
    env = dockerfile_env(final_stage())
    port = int(env["PORT"])
    worker_port = int(env["SIDECAR_WORKER_METRICS_LISTEN"])
    exposed = {
        int(p) for args in instruction(final_stage(), "EXPOSE") for p in args.split()
    }
    assert exposed == {port, worker_port}
    services = compose()["services"]
    assert services["web"]["expose"] == [str(port)]
    assert services["web"]["environment"]["PORT"] == str(port)
    assert services["worker"]["environment"]["SIDECAR_WORKER_METRICS_LISTEN"] == str(
        worker_port
    )
    assert services["worker"]["expose"] == [str(worker_port)]
    web, front = containers(k8s("Deployment", "sidecar-web"))
    web_ports = {p["name"]: p["containerPort"] for p in web["ports"]}
    assert web_ports == {"app": port}
    assert {e["name"]: e["value"] for e in web["env"]}["PORT"] == str(port)
    # The Service reaches the front, never gunicorn directly.
    service = k8s("Service", "sidecar-web")
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert [p["name"] for p in front["ports"]] == ["http"]
    (worker,) = containers(k8s("Deployment", "sidecar-worker"))
    assert {p["name"]: p["containerPort"] for p in worker["ports"]} == {
        "metrics": worker_port
    }
    worker_env = {e["name"]: e["value"] for e in worker["env"]}
    assert worker_env["SIDECAR_WORKER_METRICS_LISTEN"] == str(worker_port)
    for name, scraped in (("sidecar-web", port), ("sidecar-worker", worker_port)):
        annotations = k8s("Deployment", name)["spec"]["template"]["metadata"][
            "annotations"
        ]
        assert annotations["prometheus.io/port"] == str(scraped)
        assert annotations["prometheus.io/path"] == "/metrics"


def test_the_front_is_one_config_before_gunicorn_in_compose_and_kubernetes() -> None:
    """Compose and Kubernetes run nginx from the one template, before gunicorn's $PORT, with the app's body limit."""
    from sidecar.webhooks.zendesk import MAX_BODY_BYTES
    from tests.support import FRONT_TEMPLATE

    port = dockerfile_env(final_stage())["PORT"]
    template = FRONT_TEMPLATE.read_text()
    assert set(re.findall(r"\$\{([A-Z_]+)\}", template)) == {
        "FRONT_UPSTREAM",
        "FRONT_PORT",
    }
    limit = re.search(r"client_max_body_size (\d+)k;", template)
    assert limit is not None and int(limit.group(1)) * 1024 == MAX_BODY_BYTES
    for directive in ("client_header_timeout", "client_body_timeout"):
        assert re.search(rf"^\s*{directive} \d+s;", template, flags=re.M), directive
    assert re.search(r"^\s*proxy_request_buffering on;", template, flags=re.M)
    # Compose: the template mounted where the nginx image renders it.
    front = compose()["services"]["front"]
    mount = f"./{FRONT_TEMPLATE.relative_to(DEPLOY)}:/etc/nginx/templates/default.conf.template:ro"
    assert front["volumes"] == [mount]
    assert front["environment"]["FRONT_UPSTREAM"] == f"web:{port}"
    assert front["ports"][0].rsplit(":", 1)[1] == front["environment"]["FRONT_PORT"]
    assert "web" in front["depends_on"]
    assert "ports" not in compose()["services"]["web"]
    # Kubernetes: the same file through the kustomization's generator.
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    (generated,) = kustomization["configMapGenerator"]
    assert generated["files"] == [str(FRONT_TEMPLATE.relative_to(K8S))]
    deployment = k8s("Deployment", "sidecar-web")
    _, container = containers(deployment)
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["FRONT_UPSTREAM"] == f"127.0.0.1:{port}"
    assert str(container["ports"][0]["containerPort"]) == env["FRONT_PORT"]
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert (
        volumes[mounts["/etc/nginx/templates"]]["configMap"]["name"]
        == generated["name"]
    )
    # A read-only root: the rendered config and nginx's pid/temp files need these.
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"/etc/nginx/conf.d", "/tmp"} <= set(mounts)
    assert env["NGINX_ENVSUBST_OUTPUT_DIR"] == "/etc/nginx/conf.d"


def test_selectors_match_their_pods() -> None:
    """Service, PDBs and the HPA select or target the Deployments that exist."""
    labels = {
        name: k8s("Deployment", name)["spec"]["template"]["metadata"]["labels"]
        for name in ("sidecar-web", "sidecar-worker")
    }
    for name, pod_labels in labels.items():
        selector = k8s("Deployment", name)["spec"]["selector"]["matchLabels"]
        assert selector.items() <= pod_labels.items()
    service = k8s("Service", "sidecar-web")["spec"]["selector"]
    assert service.items() <= labels["sidecar-web"].items()
    assert not service.items() <= labels["sidecar-worker"].items()
    for name in ("sidecar-web", "sidecar-worker"):
        pdb = k8s("PodDisruptionBudget", name)["spec"]
        assert pdb["selector"]["matchLabels"].items() <= labels[name].items()
        assert pdb["minAvailable"] < k8s("Deployment", name)["spec"]["replicas"]
    hpa = k8s("HorizontalPodAutoscaler", "sidecar-web")["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "sidecar-web",
    }
    assert [m["resource"]["name"] for m in hpa["metrics"]] == ["cpu"]


# --- probes and resources -------------------------------------------------------


def test_probes_point_at_real_routes(app_routes: set[str]) -> None:
    """Readiness is /readyz and liveness /healthz on the web; every httpGet path is a Flask route or the worker's /metrics."""
    web, front = containers(k8s("Deployment", "sidecar-web"))
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert front["readinessProbe"]["httpGet"]["path"] == "/readyz"  # through to web
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {"/readyz", "/healthz", "/metrics"} <= app_routes
    for _, doc in k8s_documents():
        if doc["kind"] != "Deployment":
            continue
        for container in containers(doc):
            named = {p["name"] for p in container.get("ports", [])}
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                if probe in container:
                    get = container[probe]["httpGet"]
                    assert get["path"] in app_routes, (container["name"], probe)
                    assert get["port"] in named, (container["name"], probe)
    from sidecar.healthcheck import probe_urls

    paths = {
        url.rsplit("/", 1)[1]
        for url in probe_urls({"SIDECAR_WORKER_METRICS_LISTEN": "9100"})
    }
    assert {f"/{p}" for p in paths} <= app_routes


def test_containers_are_sized_and_locked_down() -> None:
    """Requests and a memory limit on each container; non-root with the image's uid, read-only root, /tmp writable."""
    uid = instruction(final_stage(), "USER")[-1].split(":")[0]
    for _, doc in k8s_documents():
        if doc["kind"] != "Deployment":
            continue
        pod = doc["spec"]["template"]["spec"]
        for container in containers(doc):
            if "sidecar" not in container["image"]:
                continue  # the other application in the sidecar example
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), container["name"]
            assert "memory" in resources["limits"], container["name"]
            security = {
                **pod.get("securityContext", {}),
                **container["securityContext"],
            }
            assert security["runAsNonRoot"] is True
            assert str(security["runAsUser"]) == uid
            assert security["readOnlyRootFilesystem"] is True
            assert security["allowPrivilegeEscalation"] is False
            mounts = {m["mountPath"] for m in container["volumeMounts"]}
            assert "/tmp" in mounts  # gunicorn heartbeat and the metrics directory


def test_worker_outlives_its_shutdown_timeout() -> None:
    """Kubernetes and compose wait longer than the worker's 25 s graceful shutdown."""
    from sidecar.tasks import worker

    source = Path(worker.__file__).read_text()
    shutdown = float(re.search(r'"shutdown_timeout":\s*([\d.]+)', source).group(1))  # type: ignore[union-attr]
    grace = k8s("Deployment", "sidecar-worker")["spec"]["template"]["spec"][
        "terminationGracePeriodSeconds"
    ]
    assert grace > shutdown
    assert (
        int(compose()["services"]["worker"]["stop_grace_period"].rstrip("s")) > shutdown
    )


# --- compose ----------------------------------------------------------------------


def test_compose_stack_waits_for_a_healthy_redis() -> None:
    """web and worker depend on Redis being healthy; every service has a healthcheck; Redis persists."""
    services = compose()["services"]
    assert set(services) == {"redis", "front", "web", "worker"}
    for name in ("web", "worker"):
        assert services[name]["depends_on"]["redis"] == {"condition": "service_healthy"}
        assert services[name]["environment"]["SIDECAR_QUEUE_URL"].startswith(
            "redis://redis:"
        )
    for name, service in services.items():
        assert service["healthcheck"]["test"][0] == "CMD", name
    assert "--appendonly" in services["redis"]["command"]
    assert any(v.endswith(":/data") for v in services["redis"]["volumes"])


# --- Dockerfile lint --------------------------------------------------------------


def test_dockerfile_is_multi_stage_slim_and_non_root() -> None:
    """Slim base, build stage separate, final stage copies the venv only, runs as a numeric non-root user."""
    stages = dockerfile_stages()
    assert len(stages) >= 2
    args = {
        a.split("=", 1)[0]: a.split("=", 1)[1]
        for a in re.findall(r"^ARG (\S+=\S+)", DOCKERFILE.read_text(), re.M)
    }
    for stage in stages:
        base = stage[0][1].split()[0]
        base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], base)
        assert re.fullmatch(r"python:3\.11[\w.-]*-slim[\w.-]*", base), base
    final = final_stage()
    assert any(inst == "COPY" and args.startswith("--from=") for inst, args in final)
    # No compilers or package installs in the runtime stage.
    for inst, args in final:
        if inst == "RUN":
            assert not re.search(
                r"apt-get|apk |pip install|gcc|build-essential", args
            ), args
    (user,) = instruction(final, "USER")
    assert re.fullmatch(r"[1-9]\d*(:[1-9]\d*)?", user), "USER must be numeric and not 0"
    # USER comes before CMD, so nothing runs as root.
    order = [inst for inst, _ in final]
    assert order.index("USER") < order.index("CMD")


def test_dockerfile_has_a_healthcheck_and_a_volume_for_the_queue() -> None:
    """HEALTHCHECK runs the probe module; the SQLite queue's directory is a VOLUME."""
    final = final_stage()
    (healthcheck,) = instruction(final, "HEALTHCHECK")
    assert "CMD" in healthcheck
    queue_url = dockerfile_env(final)["SIDECAR_QUEUE_URL"]
    queue_dir = str(Path(queue_url.removeprefix("sqlite:///")).parent)
    volumes = [v for args in instruction(final, "VOLUME") for v in json.loads(args)]
    assert queue_dir in volumes


# --- the healthcheck module -----------------------------------------------------


def test_healthcheck_passes_on_either_process(tmp_path: Path) -> None:
    """The probe answers 0 when the web's /healthz or the worker's /metrics is up, 1 when neither is."""
    from http.server import BaseHTTPRequestHandler, HTTPServer
    from threading import Thread

    from sidecar.healthcheck import main as healthcheck

    class Ok(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path in {"/healthz", "/metrics"} else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    with HTTPServer(("127.0.0.1", 0), Ok) as server:
        Thread(target=server.serve_forever, daemon=True).start()
        up = str(server.server_address[1])
        with HTTPServer(("127.0.0.1", 0), Ok) as closed:
            down = str(closed.server_address[1])  # bound, then closed: refuses
        try:
            assert healthcheck({"PORT": up}) == 0
            assert healthcheck({"PORT": down, "SIDECAR_WORKER_METRICS_LISTEN": up}) == 0
            assert (
                healthcheck(
                    {"PORT": down, "SIDECAR_WORKER_METRICS_LISTEN": f"127.0.0.1:{down}"}
                )
                == 1
            )
            assert healthcheck({"PORT": down}) == 1
        finally:
            server.shutdown()


# --- monitoring -----------------------------------------------------------------


def runbook_anchors() -> set[str]:
    """GitHub's anchors for the runbook's headings."""
    anchors = set()
    for heading in re.findall(r"^#{1,6} (.+)$", RUNBOOK.read_text(), flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def promql_metrics(expr: str) -> set[str]:
    return set(re.findall(r"\b(sidecar_[a-z0-9_]+)", expr))


def test_alerts_are_complete_and_link_their_runbook_section() -> None:
    """Every alert has a severity, summary, description and a runbook_url to an existing section."""
    anchors = runbook_anchors()
    rules = alert_rules()
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names))
    for rule in rules:
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"]
        path, _, anchor = annotations["runbook_url"].partition("#")
        assert path == "docs/operations.md"
        assert anchor in anchors, f"{rule['alert']}: no section #{anchor}"


def test_alerts_and_dashboard_read_metrics_that_exist(metric_names: set[str]) -> None:
    """Every sidecar_* name in an alert or a dashboard query is exposed by /metrics."""
    exprs = [rule["expr"] for rule in alert_rules()]
    dashboard = json.loads(DASHBOARD.read_text())
    exprs += [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    used = set().union(*(promql_metrics(e) for e in exprs))
    assert used  # the check is not vacuous
    assert sorted(used - metric_names) == []


def test_dashboard_is_importable() -> None:
    """A Grafana dashboard with a uid, a Prometheus data-source variable, and unique panel ids."""
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"]
    (variable,) = dashboard["templating"]["list"]
    assert variable["type"] == "datasource" and variable["query"] == "prometheus"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}"
            assert panel["targets"], panel["title"]


PROMTOOL = shutil.which("promtool")


@pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (Debian: prometheus)"
)
def test_promtool_accepts_the_rules_and_their_unit_tests(tmp_path: Path) -> None:
    """`promtool check rules` on the alerts (and the dashboard's queries), `promtool test rules` on their tests."""
    assert PROMTOOL is not None
    dashboard = json.loads(DASHBOARD.read_text())
    recording = {
        "groups": [{
            "name": "dashboard",
            "rules": [
                {"record": f"dashboard:query:{i}", "expr": t["expr"]}
                for i, t in enumerate(
                    t for p in dashboard["panels"] for t in p.get("targets", [])
                )
            ],
        }]
    }  # fmt: skip
    queries = tmp_path / "dashboard-rules.yml"
    queries.write_text(yaml.safe_dump(recording))
    for args in (
        ["check", "rules", str(ALERTS), str(queries)],
        ["test", "rules", str(ALERT_TESTS)],
    ):
        done = subprocess.run(
            [PROMTOOL, *args], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stdout + done.stderr
