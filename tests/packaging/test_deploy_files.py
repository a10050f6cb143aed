"""deploy/: the files an operator copies are valid for the tools that read them.

Kubernetes manifests against the API schemas that kubernetes-validate bundles (offline), the nginx
site with ``nginx -t``, the systemd units with ``systemd-analyze verify``; nginx and systemd are
skipped when missing (.ci/run installs nginx). docs/deploy.md explains the files.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from idp.config import DEFAULTS
from tests.support import nginx

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
# The oldest Kubernetes release the manifests must work on. kubernetes-validate 1.37 bundles the
# schemas of 1.25 to 1.37; validating against the oldest supported release catches a newer field.
KUBERNETES_VERSION = "1.31.0"
TOOL_TIMEOUT = 30
IDP_NAME = re.compile(r"\bIDP_([A-Z][A-Z0-9_]*)")
NOT_SETTINGS = {"INSTANCE_PATH"}  # read by create_app itself: where the instance folder is


def _manifests() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                found.append((f"{path.name}:{doc['kind']}/{doc['metadata']['name']}", doc))
    return found


MANIFESTS = _manifests()


def _by_kind(kind: str) -> dict[str, Any]:
    (doc,) = [d for _, d in MANIFESTS if d["kind"] == kind]
    return doc


@pytest.mark.parametrize("manifest", [d for _, d in MANIFESTS], ids=[n for n, _ in MANIFESTS])
def test_manifest_is_valid_kubernetes(manifest: dict[str, Any]) -> None:
    """Strict: an unknown or misspelt field fails too."""
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_validation_rejects_a_misspelt_field() -> None:
    """The check above can fail: a probe with a typo is refused."""
    broken = yaml.safe_load(yaml.safe_dump(_by_kind("Deployment")))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGett"] = {"path": "/readyz"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_manifests_cover_what_a_deployment_needs() -> None:
    kinds = {d["kind"] for _, d in MANIFESTS}
    assert {"Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "Job"} <= kinds
    assert _by_kind("HorizontalPodAutoscaler")["apiVersion"] == "autoscaling/v2"


def test_deployment_probes_secrets_and_hardening() -> None:
    deployment = _by_kind("Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    env = {e["name"]: e for e in container["env"]}
    for name in ("IDP_SECRET_KEY", "IDP_DATABASE_URL"):
        assert "secretKeyRef" in env[name]["valueFrom"], f"{name} must come from a Secret"
    assert container["resources"]["requests"] and container["resources"]["limits"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    # Everything the app writes must lie on a volume, the root filesystem being read-only.
    assert env["IDP_INSTANCE_PATH"]["value"] in mounts


def test_service_pdb_and_hpa_point_at_the_deployment() -> None:
    deployment = _by_kind("Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    for kind in ("Service", "PodDisruptionBudget"):
        doc = _by_kind(kind)
        selector = doc["spec"]["selector"]
        selector = selector.get("matchLabels", selector)
        assert selector.items() <= labels.items(), f"the {kind} selects no pod of the Deployment"
    assert _by_kind("Service")["spec"].get("sessionAffinity", "None") == "None"
    target = _by_kind("HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert _by_kind("PodDisruptionBudget")["spec"]["minAvailable"] < deployment["spec"]["replicas"]


def test_migration_job_applies_migrations_and_makes_the_keys() -> None:
    job = _by_kind("Job")["spec"]["template"]["spec"]
    (container,) = job["containers"]
    assert container["command"] == ["idp", "init"]  # migrations, and signing keys in the database
    assert job["restartPolicy"] == "Never"
    assert job["securityContext"]["runAsNonRoot"] is True


def _deploy_texts() -> list[Path]:
    return [p for p in DEPLOY.rglob("*") if p.is_file()]


def test_every_idp_variable_in_deploy_is_a_setting() -> None:
    """A misspelt IDP_* variable is silently ignored by the app; catch it here."""
    unknown = {}
    for path in _deploy_texts():
        for name in set(IDP_NAME.findall(path.read_text())) - NOT_SETTINGS:
            if name not in DEFAULTS:
                unknown[f"IDP_{name}"] = str(path.relative_to(ROOT))
    assert not unknown, f"not settings of idp/config.py: {unknown}"


def test_containerfile_builds_a_wheel_and_runs_idp_serve_unprivileged() -> None:
    text = (DEPLOY / "Containerfile").read_text()
    stages = re.findall(r"^FROM (\S+)", text, re.M)
    assert len(stages) == 2 and all("slim" in s for s in stages), stages
    assert "pip wheel" in text
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert re.search(r'^ENTRYPOINT \["idp", "serve"\]', text, re.M)
    port = _by_kind("Deployment")["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"]
    assert re.search(rf"^EXPOSE {port}$", text, re.M)


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "id.example.go.th")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def _nginx_test(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(nginx.command(config, "-t"), capture_output=True, text=True, timeout=TOOL_TIMEOUT,
                          check=False)


@pytest.fixture
def nginx_site(tmp_path: Path) -> str:
    """deploy/nginx/idp.conf with the snippet's and certificate's paths pointing at real files."""
    if not nginx.binary():
        pytest.skip("nginx is not installed (apt-get install nginx; .ci/run does)")
    cert, key = _self_signed(tmp_path)
    site = nginx.SITE.read_text()
    site = site.replace("/etc/nginx/snippets/idp-proxy.conf", str(nginx.PROXY))
    site = re.sub(r"ssl_certificate\s+\S+;", f"ssl_certificate {cert};", site)
    site = re.sub(r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {key};", site)
    return site


def test_nginx_accepts_the_site(nginx_site: str, tmp_path: Path) -> None:
    done = _nginx_test(nginx.main_config(tmp_path / "nginx", nginx_site))
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr


def test_nginx_check_can_fail(nginx_site: str, tmp_path: Path) -> None:
    misspelt = nginx_site.replace("ssl_session_timeout", "ssl_session_timout")
    done = _nginx_test(nginx.main_config(tmp_path / "nginx", misspelt))
    assert done.returncode != 0


def test_nginx_sets_exactly_the_headers_the_app_trusts() -> None:
    """IDP_TRUST_PROXY turns on ProxyFix for X-Forwarded-For, -Proto and -Host (idp/http.py): nginx
    must overwrite each (a client's own value never passes) and blank those the app does not read."""
    snippet = nginx.PROXY.read_text()
    sets = dict(re.findall(r"^\s*proxy_set_header (\S+) (.+);", snippet, re.M))
    assert sets["X-Forwarded-For"] == "$proxy_add_x_forwarded_for"
    assert sets["X-Forwarded-Proto"] == "$scheme"
    assert sets["X-Forwarded-Host"] == "$host"
    assert sets["X-Forwarded-Port"] == sets["X-Forwarded-Prefix"] == '""'
    assert "ip_hash" not in nginx.SITE.read_text() and "sticky" not in nginx.SITE.read_text()


@pytest.fixture
def units(tmp_path: Path) -> Path:
    """The units with ExecStart pointing at this venv's ``idp`` (verify checks the command exists)."""
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    idp = Path(sys.executable).parent / "idp"
    for unit in (DEPLOY / "systemd").glob("*.service"):
        (tmp_path / unit.name).write_text(unit.read_text().replace("/opt/idp/bin/idp", str(idp)))
    (tmp_path / "idp@8001.service").symlink_to(tmp_path / "idp@.service")
    return tmp_path


def _verify(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["systemd-analyze", "verify", "--man=no", *map(str, paths)], capture_output=True,
                          text=True, timeout=TOOL_TIMEOUT, check=False)


def test_systemd_units_verify_without_a_warning(units: Path) -> None:
    """``verify`` exits 0 on an unknown key, so its output must be empty too."""
    done = _verify(units / "idp@8001.service", units / "idp-migrate.service")
    assert done.returncode == 0 and not done.stderr.strip() and not done.stdout.strip(), done.stderr


def test_systemd_verify_can_fail(units: Path) -> None:
    unit = units / "idp-migrate.service"
    unit.write_text(unit.read_text().replace("ProtectSystem=strict", "ProtectSystem=strict\nProtectSystm=strict"))
    assert "Unknown key" in _verify(unit).stderr


def test_units_are_hardened() -> None:
    for unit in (DEPLOY / "systemd").glob("*.service"):
        text = unit.read_text()
        for line in ("ProtectSystem=strict", "NoNewPrivileges=yes", "PrivateTmp=yes",
                     "EnvironmentFile=/etc/idp/idp.env"):
            assert f"\n{line}\n" in text, f"{unit.name} lacks {line}"
        assert re.search(r"^(User=(?!root)\w+|DynamicUser=yes)$", text, re.M), f"{unit.name} runs as root"
