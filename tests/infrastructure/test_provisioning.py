"""The provisioning script is idempotent and the compose file matches the settings."""

import re
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_provisioning_twice_reuses_every_running_service():
    # given the services are up (make test provisioned them), when provisioning runs again
    runs = [
        subprocess.run(
            [str(ROOT / "infrastructure/provision.sh")], capture_output=True, text=True, timeout=300
        )
        for _ in range(2)
    ]
    # then it succeeds, installs nothing, and reports each service as already running
    for run in runs:
        assert run.returncode == 0, run.stdout + run.stderr
        assert "packages    all present" in run.stdout
        for service in ("postgresql", "redis", "rabbitmq", "smtp-sink"):
            assert re.search(rf"^{service}\s+already running", run.stdout, re.M), run.stdout
    assert runs[0].stdout == runs[1].stdout


def _settings_variables() -> set[str]:
    text = (ROOT / "ticketing/settings.py").read_text()
    return set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z_]+)"', text))


def test_env_example_documents_every_setting():
    documented = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert _settings_variables() <= documented, _settings_variables() - documented


def test_compose_names_the_services_and_variables_of_the_settings():
    compose = yaml.safe_load((ROOT / "infrastructure/compose.yaml").read_text())
    services = set(compose["services"])
    assert {
        "postgres",
        "redis",
        "rabbitmq",
        "keycloak",
        "web",
        "ws",
        "worker",
        "notifier",
        "beat",
    } <= services
    procfile = (ROOT / "infrastructure/Procfile").read_text()
    process_names = set(re.findall(r"^(\w+):", procfile, re.M))
    assert {"web", "ws", "worker", "notifier", "beat"} <= process_names
    # every process of make run has its container (nginx is make run's own front door)
    assert process_names - {"proxy"} <= services, process_names - {"proxy"} - services
    settings_vars = _settings_variables()
    for name in ("web", "ws", "worker", "notifier", "beat"):
        env = compose["services"][name]["environment"]
        assert set(env) <= settings_vars, set(env) - settings_vars
        for required in (
            "DATABASE_URL",
            "REDIS_URL",
            "CELERY_BROKER_URL",
            "EMAIL_URL",
            "KEYCLOAK_URL",
        ):
            assert required in env
