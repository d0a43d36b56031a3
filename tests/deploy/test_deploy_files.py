"""The deployment under deploy/ is complete and consistent, checked without a Docker engine.

CI machines have no Docker daemon, so nothing here builds or starts a container. Instead each
test reads the files as Docker Compose, the Docker builder and the OpenTelemetry Collector
would, and fails on what would break a real `docker compose up`: a missing file, an undefined
service or variable, a module that is not in the image, migrations raced by replicas, a
collector pipeline naming a component that does not exist.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest

from tests.deploy.deployfiles import (
    COLLECTOR_FILE,
    COMPOSE_FILE,
    ENV_EXAMPLE,
    ROOT,
    Dockerfile,
    build_of,
    collector_config,
    collector_variables,
    command_of,
    compose,
    compose_variables,
    depends_on,
    env_example,
    env_files,
    environment,
    module_file,
    mounts,
    programs,
    reflex_app_name,
    top_level_paths_needed,
)

STACK = {"postgres", "redis", "migrate", "web", "worker", "background", "otel-collector"}
APPS = {"web": "voice-platform-web", "worker": "voice-platform-worker", "background": "voice-platform-background"}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


@pytest.fixture(scope="module")
def stack() -> dict:
    return compose()


@pytest.fixture(scope="module")
def services(stack) -> dict:
    return stack["services"]


def dockerfile_of(service: dict) -> Dockerfile | None:
    build = build_of(service)
    return Dockerfile.read(build[1]) if build else None


# --- docker-compose.yml ------------------------------------------------------------------------

def test_compose_defines_the_whole_stack(services):
    assert STACK <= set(services), f"missing services: {sorted(STACK - set(services))}"
    assert services["postgres"]["image"].split(":")[1].split(".")[0] == "15"
    assert services["redis"]["image"].split(":")[1].split(".")[0] == "7"
    assert services["otel-collector"]["image"].startswith("otel/opentelemetry-collector-contrib:")


def test_every_build_context_and_dockerfile_exists(services):
    built = {name: build_of(s) for name, s in services.items() if build_of(s)}
    assert {"migrate", "web", "worker", "background"} <= set(built)
    for name, (context, dockerfile) in built.items():
        assert context.is_dir(), f"{name}: build context {context} does not exist"
        assert dockerfile.is_file(), f"{name}: {dockerfile} does not exist"
        assert dockerfile.is_relative_to(context), f"{name}: the Dockerfile must sit inside its build context"


def test_services_sharing_an_image_name_build_the_same_image(services):
    by_image: dict[str, set] = {}
    for service in services.values():
        if service.get("build") and service.get("image"):
            by_image.setdefault(service["image"], set()).add(build_of(service))
    for image, builds in by_image.items():
        assert len(builds) == 1, f"{image} is built from different Dockerfiles: {builds}"


def test_every_env_file_exists(services):
    """A missing env_file stops `compose up`. The operator's own .env is not in the repository: it is
    made from .env.example, and git must ignore it (it holds the secrets)."""
    ignored = {line.strip() for line in (ROOT / ".gitignore").read_text().splitlines()}
    for name, service in services.items():
        for path, required in env_files(service):
            file = (COMPOSE_FILE.parent / path).resolve()
            if file.exists() or not required:
                continue
            assert file.name == ".env", f"{name}: env_file {path} does not exist"
            assert (file.parent / ".env.example").is_file(), f"{name}: {path} has no .env.example template"
            assert ".env" in ignored, ".env holds secrets and must be in .gitignore"


def test_every_mounted_host_file_exists_and_every_named_volume_is_declared(stack, services):
    declared = set(stack.get("volumes") or {})
    for name, service in services.items():
        for mount in mounts(service):
            if mount.is_bind:
                assert (COMPOSE_FILE.parent / mount.source).exists(), f"{name}: {mount.source} does not exist"
            else:
                assert mount.source in declared, f"{name}: volume {mount.source!r} is not declared"


def test_every_depends_on_names_a_defined_service_with_a_valid_condition(services):
    for name, service in services.items():
        for dependency, spec in depends_on(service).items():
            assert dependency in services, f"{name} depends on undefined service {dependency!r}"
            assert spec.get("condition", "service_started") in CONDITIONS, f"{name} -> {dependency}: {spec}"
            if spec.get("condition") == "service_healthy":
                other = services[dependency]
                assert other.get("healthcheck") or dockerfile_of(other) and dockerfile_of(other).all("HEALTHCHECK"), (
                    f"{name} waits for {dependency} to be healthy, but {dependency} has no health check")


def test_every_compose_variable_is_in_env_example(stack):
    documented = env_example()
    used = compose_variables(stack)
    assert used, "the compose file interpolates nothing: the variable scan is broken"
    assert all(v.braced for v in used), f"use ${{NAME}}, not $NAME: {[v.name for v in used if not v.braced]}"
    missing = sorted({v.name for v in used} - set(documented))
    assert missing == [], f"add these to .env.example (with a comment): {missing}"


def test_compose_defaults_match_env_example(stack):
    """`${VAR:-default}` and the value .env.example suggests say the same, so the docs cannot drift."""
    documented = env_example()
    for var in compose_variables(stack):
        if var.op in (":-", "-") and documented[var.name].value:
            assert documented[var.name].value == var.arg, (
                f"{var.name}: compose defaults to {var.arg!r}, .env.example says {documented[var.name].value!r}")


def test_compose_only_variables_say_so_in_env_example(stack):
    """A variable the app never reads is explained as the compose file's (or the collector's)."""
    from voice_platform.settings import Settings

    settings = {name.upper() for name in Settings.model_fields}
    documented = env_example()
    for name in {v.name for v in compose_variables(stack)} - settings:
        entry = documented[name]
        explained = " ".join((entry.section, *entry.comments)).lower()
        assert "compose" in explained or "collector" in explained, f"{name}: say in .env.example who reads it"
    for name in collector_variables(collector_config()):
        explained = " ".join(documented[name].comments).lower()
        assert "collector" in explained, f"{name}: .env.example must say it is for the collector only"


def test_secrets_are_never_written_into_the_compose_file(services):
    secretish = re.compile(r"(SECRET|PASSWORD|TOKEN|API_KEY|ENCRYPTION_KEYS)$")
    for name, service in services.items():
        for key, value in environment(service).items():
            if not secretish.search(key):
                continue
            variables = compose_variables(value)
            whole = len(variables) == 1 and re.fullmatch(r"\$\{[^}]*\}", value)
            literal_default = variables and variables[0].op in (":-", "-") and variables[0].arg
            assert whole and not literal_default, (
                f"{name}: {key}={value!r} must come from the environment (no default), not from the compose file")


# --- migrations run once, before the apps -------------------------------------------------------

def _runs_migrations(command: list[str]) -> bool:
    return any(p[:3] == ["alembic", "upgrade", "head"] for p in programs(command))


def test_migrations_run_once_in_a_one_shot_service_before_web_and_worker(services):
    migrate = services["migrate"]
    command = command_of(migrate, dockerfile_of(migrate))
    steps = programs(command)
    assert steps[0] == ["alembic", "upgrade", "head"], f"migrate must upgrade first: {command}"
    assert steps[1] == ["python", "-m", "voice_platform.cli", "bootstrap"], f"then bootstrap: {command}"
    assert len(command) == 3 and " && " in command[2], "bootstrap must run only when the upgrade succeeded (&&)"
    assert migrate.get("restart", "no") == "no", "a one-shot service must not restart"
    assert (migrate.get("deploy") or {}).get("replicas", 1) == 1 and "scale" not in migrate
    assert depends_on(migrate)["postgres"]["condition"] == "service_healthy"

    for app in APPS:
        assert depends_on(services[app]).get("migrate", {}).get("condition") == "service_completed_successfully", (
            f"{app} must wait for migrate to complete successfully")
    migrating = [n for n, s in services.items() if _runs_migrations(command_of(s, dockerfile_of(s)))]
    assert migrating == ["migrate"], f"only migrate may run migrations (replicas would race): {migrating}"


def test_bootstrap_is_a_cli_command():
    from voice_platform.cli import COMMANDS

    assert "bootstrap" in COMMANDS


# --- what web and worker get ------------------------------------------------------------------

def test_apps_export_telemetry_to_the_collector(services):
    for app, service_name in APPS.items():
        env = environment(services[app])
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
        assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
        assert env["OTEL_SERVICE_NAME"] == service_name
        assert env["OTEL_SDK_DISABLED"] == "false"
        assert "otel-collector" in depends_on(services[app])


def test_apps_reach_postgres_and_web_reaches_redis(services):
    for app in APPS:
        env = environment(services[app])
        assert re.match(r"postgres(ql)?://[^@]+@postgres:5432/", env["DATABASE_URL"]), env["DATABASE_URL"]
        assert env["ENVIRONMENT"] == "production"
    web = environment(services["web"])
    assert web["REDIS_URL"].startswith("redis://redis:6379"), "several web workers keep Reflex state in Redis"
    assert depends_on(services["web"])["redis"]["condition"] == "service_healthy"


def test_default_pools_fit_under_postgres_max_connections(stack):
    """The defaults serve one web container and one worker container with 20 job processes (warm
    and in calls) plus the migration, and leave PostgreSQL's 3 superuser slots free."""
    env = {name: entry.value for name, entry in env_example().items()}
    web = int(env["WEB_WORKERS"]) * (int(env["WEB_DB_POOL_SIZE"]) + int(env["WEB_DB_MAX_OVERFLOW"]))
    worker = 20 * (int(env["WORKER_DB_POOL_SIZE"]) + int(env["WORKER_DB_MAX_OVERFLOW"]))
    background = int(env["BACKGROUND_DB_POOL_SIZE"]) + int(env["BACKGROUND_DB_MAX_OVERFLOW"])
    assert web + worker + background + 2 < int(env["POSTGRES_MAX_CONNECTIONS"]) - 3
    assert "max_connections=${POSTGRES_MAX_CONNECTIONS" in " ".join(stack["services"]["postgres"]["command"])


# --- Dockerfiles ---------------------------------------------------------------------------------

@pytest.fixture(scope="module", params=["web", "worker", "migrate", "background"])
def built(request, services):
    service = services[request.param]
    context, path = build_of(service)
    return request.param, service, context, Dockerfile.read(path)


def test_images_use_python_311_slim_and_a_non_root_user(built):
    name, _service, _context, dockerfile = built
    assert dockerfile.base_image == "python:3.11-slim"
    assert dockerfile.user not in (None, "root", "0"), f"{name}: the image must switch to a non-root USER"
    user_line = dockerfile.index(dockerfile.all("USER")[-1])
    assert user_line < dockerfile.index(dockerfile.all("CMD")[-1])


def test_copy_sources_exist_in_the_build_context_and_carry_no_secrets(built):
    name, _service, context, dockerfile = built
    assert dockerfile.copies, f"{name}: nothing is copied"
    for copy in dockerfile.copies:
        if "from" in copy.flags:
            continue
        for source in copy.sources:
            assert source not in (".", "./", "*"), f"{name}: COPY {source} would copy .env and .venv into the image"
            path = context / source
            assert path.exists(), f"{name}: COPY source {source} is not in the build context {context}"
            assert not path.name.startswith(".env"), f"{name}: COPY {source} bakes secrets into the image"
            if path.is_dir():
                leaked = [p for p in path.rglob(".env*") if p.name != ".env.example"]
                assert not leaked, f"{name}: {source} contains {leaked}"
    secretish = re.compile(r"SECRET|PASSWORD|TOKEN|API_KEY|ENCRYPTION_KEYS|DATABASE_URL$")
    baked = {k: v for k, v in dockerfile.env().items() if secretish.search(k) and v}
    assert baked == {}, f"{name}: ENV/ARG bakes secrets: {sorted(baked)}"


def test_every_command_runs_a_module_the_image_contains(built):
    name, service, context, dockerfile = built
    copied = {Path(s).parts[0] for c in dockerfile.copies if "from" not in c.flags for s in c.sources}
    for program in programs(command_of(service, dockerfile)):
        if program[:2] == ["python", "-m"]:
            assert module_file(program[2]) is not None, f"{name}: no module {program[2]} in the repository"
        if program[0] == "reflex":
            app = reflex_app_name()
            assert app and module_file(f"{app}.{app}") is not None, f"{name}: rxconfig's app {app} not found"
        for needed in top_level_paths_needed(program):
            assert (context / needed).exists(), f"{name}: {' '.join(program)} needs {needed}"
            assert needed in copied, f"{name}: {' '.join(program)} needs {needed}, which the Dockerfile does not COPY"


def test_web_image_builds_the_frontend_with_bun_from_npm_and_does_not_migrate(services):
    dockerfile = dockerfile_of(services["web"])
    assert dockerfile.cmd == ["reflex", "run", "--env", "prod"]
    runs = dockerfile.all("RUN")
    export = [r for r in runs if "reflex export" in r.args]
    assert export, "the production frontend is built at image build time"
    assert dockerfile.index(export[0]) > dockerfile.index(dockerfile.all("USER")[-1]), (
        "build as the app user: Reflex rewrites .web/ at start and must own it")
    makefile_bun = re.search(r"^BUN_VERSION := (\S+)", (ROOT / "Makefile").read_text(), re.M).group(1)
    assert any(f"npm install" in r.args and f"bun@{makefile_bun}" in r.args for r in runs), (
        f"bun {makefile_bun} (the Makefile's) comes from the npm registry")
    assert dockerfile.env()["REFLEX_BUN_PATH"].endswith("node_modules/bun/bin/bun.exe")
    assert not any("alembic" in part for part in dockerfile.cmd + services["web"].get("command", []))


def test_worker_image_runs_the_livekit_worker(services):
    dockerfile = dockerfile_of(services["worker"])
    assert command_of(services["worker"], dockerfile) == ["python", "-m", "worker", "start"]
    assert module_file("worker") == ROOT / "worker" / "__main__.py"


def test_background_loops_run_in_their_own_service_not_in_web(services):
    """The processes answering Twilio leave the loops to the `background` service (README, "Deploy
    and scale"), whose command is a CLI command and whose image's health check (the LiveKit worker's
    port) is switched off."""
    from voice_platform.cli import COMMANDS
    from voice_platform.settings import Settings

    assert environment(services["web"])["BACKGROUND_WORK"] == "false"
    assert Settings(background_work=environment(services["web"])["BACKGROUND_WORK"]).background_work is False
    background = services["background"]
    command = command_of(background, dockerfile_of(background))
    assert command == ["python", "-m", "voice_platform.cli", "background"] and "background" in COMMANDS
    assert background["healthcheck"] == {"disable": True}
    assert "BACKGROUND_WORK" not in environment(background)


# --- otel-collector-config.yml -------------------------------------------------------------------

COMPONENT_ID = r"^[a-z][a-z0-9_]*(/[^/\s]+)?$"  # type[/name]
_ids = {"type": "array", "items": {"type": "string", "pattern": COMPONENT_ID}, "uniqueItems": True}
_components = {"type": "object", "propertyNames": {"pattern": COMPONENT_ID},
               "additionalProperties": {"type": ["object", "null"]}}
_endpoint_on = lambda port: {"type": "object", "required": ["endpoint"],  # noqa: E731
                             "properties": {"endpoint": {"type": "string", "pattern": rf":{port}$"}}}

# The collector's documented configuration layout (opentelemetry.io/docs/collector/configuration),
# narrowed to what this deployment promises: OTLP in on 4317/4318, and batch in every pipeline.
COLLECTOR_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["receivers", "processors", "exporters", "service"],
    "properties": {
        "receivers": {**_components, "required": ["otlp"], "properties": {"otlp": {
            "type": "object", "required": ["protocols"], "properties": {"protocols": {
                "type": "object", "required": ["grpc", "http"],
                "properties": {"grpc": _endpoint_on(4317), "http": _endpoint_on(4318)}}}}}},
        "processors": _components,
        "exporters": _components,
        "extensions": _components,
        "connectors": _components,
        "service": {
            "type": "object",
            "additionalProperties": False,
            "required": ["pipelines"],
            "properties": {
                "extensions": _ids,
                "telemetry": {"type": "object"},
                "pipelines": {
                    "type": "object",
                    "minProperties": 1,
                    "propertyNames": {"pattern": r"^(traces|metrics|logs)(/[^/\s]+)?$"},
                    "additionalProperties": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["receivers", "processors", "exporters"],
                        "properties": {
                            "receivers": {**_ids, "minItems": 1},
                            "processors": {**_ids, "contains": {"type": "string", "pattern": r"^batch(/.*)?$"}},
                            "exporters": {**_ids, "minItems": 1},
                        },
                    },
                },
            },
        },
    },
}


@pytest.fixture(scope="module")
def otel() -> dict:
    return collector_config()


def test_collector_config_matches_the_schema(otel):
    jsonschema.Draft202012Validator.check_schema(COLLECTOR_SCHEMA)
    errors = sorted(jsonschema.Draft202012Validator(COLLECTOR_SCHEMA).iter_errors(otel), key=str)
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


def test_collector_pipelines_reference_defined_components(otel):
    connectors = set(otel.get("connectors") or {})
    defined = {kind: set(otel.get(kind) or {}) for kind in ("receivers", "processors", "exporters", "extensions")}
    for extension in otel["service"].get("extensions", []):
        assert extension in defined["extensions"], f"service.extensions: {extension} is not defined"
    for pipeline, spec in otel["service"]["pipelines"].items():
        for receiver in spec["receivers"]:
            assert receiver in defined["receivers"] | connectors, f"{pipeline}: receiver {receiver} is not defined"
        for processor in spec.get("processors", []):
            assert processor in defined["processors"], f"{pipeline}: processor {processor} is not defined"
        for exporter in spec["exporters"]:
            assert exporter in defined["exporters"] | connectors, f"{pipeline}: exporter {exporter} is not defined"


def test_collector_carries_traces_metrics_and_logs_through_memory_limiter_then_batch(otel):
    pipelines = otel["service"]["pipelines"]
    assert {p.split("/")[0] for p in pipelines} >= {"traces", "metrics", "logs"}
    for name, spec in pipelines.items():
        processors = [p.split("/")[0] for p in spec["processors"]]
        assert processors[0] == "memory_limiter", f"{name}: memory_limiter must come first"
        assert processors[-1] == "batch", f"{name}: batch must come last"
    assert "health_check" in {e.split("/")[0] for e in otel["service"]["extensions"]}
    for name, spec in pipelines.items():
        kinds = {e.split("/")[0] for e in spec["exporters"]}
        assert "debug" in kinds, f"{name}: the debug exporter prints what the collector receives"
        assert kinds & {"otlp", "otlp_grpc", "otlphttp", "otlp_http"}, f"{name}: nothing goes to the backend"


def test_collector_backend_endpoint_and_key_come_from_the_environment(otel):
    otlp_exporters = {k: v for k, v in otel["exporters"].items()
                      if k.split("/")[0] in ("otlp", "otlp_grpc", "otlphttp", "otlp_http")}
    assert otlp_exporters, "an OTLP exporter forwards to the backend"
    for name, spec in otlp_exporters.items():
        assert spec["endpoint"] == "${env:OTLP_EXPORT_ENDPOINT}", f"{name}: endpoint must come from the environment"
        headers = spec.get("headers") or {}
        assert headers.get("api-key") == "${env:OTLP_EXPORT_API_KEY}", f"{name}: the api-key header comes from the environment"
        assert all(str(v).startswith("${env:") for v in headers.values()), f"{name}: no header value is written here"


def test_every_collector_variable_is_in_env_example_and_reaches_the_collector(otel, services):
    used = collector_variables(otel)
    assert used >= {"OTLP_EXPORT_ENDPOINT", "OTLP_EXPORT_API_KEY"}
    missing = sorted(used - set(env_example()))
    assert missing == [], f"add these to .env.example (collector only): {missing}"
    passed = set(environment(services["otel-collector"]))
    assert used <= passed, f"the collector service does not pass {sorted(used - passed)}"


def test_collector_service_mounts_this_config_where_it_reads_it(services):
    collector = services["otel-collector"]
    config_mounts = [m for m in mounts(collector) if (COMPOSE_FILE.parent / m.source).resolve() == COLLECTOR_FILE]
    assert config_mounts, "deploy/otel-collector-config.yml is not mounted into the collector"
    command = " ".join(collector.get("command") or ["--config=/etc/otelcol-contrib/config.yaml"])
    assert f"--config={config_mounts[0].target}" in command or f"--config {config_mounts[0].target}" in command


# --- docker compose itself, when this machine has it (it needs no daemon for `config`) ---------------

def _compose_cli() -> list[str] | None:
    for command in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(command[0]) is None:
            continue
        try:
            if subprocess.run([*command, "version"], capture_output=True, timeout=20).returncode == 0:
                return command
        except (OSError, subprocess.TimeoutExpired):
            continue
    return None


@pytest.mark.skipif(_compose_cli() is None, reason="docker compose is not installed on this machine")
def test_docker_compose_accepts_the_file(tmp_path):
    """`docker compose config -q` validates against Compose's own schema; a copy of deploy/ next to a
    dummy .env (made from .env.example) stands in for the operator's checkout."""
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    env = ENV_EXAMPLE.read_text().replace("\nPOSTGRES_PASSWORD=\n", "\nPOSTGRES_PASSWORD=dummy-password\n")
    (tmp_path / ".env").write_text(env)
    for needed in ("requirements.txt",):
        shutil.copy(ROOT / needed, tmp_path / needed)
    result = subprocess.run(
        [*_compose_cli(), "-f", str(tmp_path / "deploy" / "docker-compose.yml"),
         "--env-file", str(tmp_path / ".env"), "config", "-q"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
