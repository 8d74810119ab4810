"""Terraform's output turned into Gardener error codes, and how the Terraformer runs Terraform."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from extensions.terraformer.errors import classify, codes_of, summary
from extensions.terraformer.state import StoredState
from extensions.terraformer.terraformer import Config, Terraformer
from gardener.apis.extensions.v1alpha1 import ErrorCode
from gardener.runtime.errors import PermanentError, TemporaryError

BOXED = """
╷
│ Error: creating EC2 VPC: VpcLimitExceeded: The maximum number of VPCs has been reached.
│ 	status code: 400, request id: 1234
│
│   with aws_vpc.vpc,
│   on main.tf line 10, in resource "aws_vpc" "vpc":
╵
"""


@pytest.mark.parametrize(
    ("output", "codes"),
    [
        (BOXED, [ErrorCode.INFRA_QUOTA_EXCEEDED]),
        ("Error: RequestLimitExceeded: Request limit exceeded.", [ErrorCode.INFRA_RATE_LIMITS_EXCEEDED]),
        (
            "Error: UnauthorizedOperation: You are not authorized to perform this operation.",
            [ErrorCode.INFRA_UNAUTHORIZED],
        ),
        (
            "Error: AuthFailure: AWS was not able to validate the provided access credentials",
            [ErrorCode.INFRA_UNAUTHENTICATED],
        ),
        ("Error: deleting VPC: DependencyViolation: has dependencies", [ErrorCode.INFRA_DEPENDENCIES]),
        ("Error: InsufficientInstanceCapacity: none left", [ErrorCode.INFRA_RESOURCES_DEPLETED]),
        ("Error: Error acquiring the state lock", [ErrorCode.RETRYABLE_INFRA_DEPENDENCIES]),
        ("Error: Invalid value for variable\n\n  on terraform.tfvars.json line 1", [ErrorCode.CONFIGURATION_PROBLEM]),
        (
            'Error: Unsupported argument\n\nAn argument named "foo" is not expected here.',
            [ErrorCode.CONFIGURATION_PROBLEM],
        ),
        ("Error: something nobody has seen before", []),
    ],
)
def test_codes_from_terraform_output(output: str, codes: list[ErrorCode]) -> None:
    assert codes_of(output) == codes


def test_summary_keeps_the_error_headlines() -> None:
    assert summary(BOXED) == ("creating EC2 VPC: VpcLimitExceeded: The maximum number of VPCs has been reached.")
    assert summary("Error: a\nmore\nError: b\nError: a") == "a; b"
    assert summary("no headline\nat all") == "no headline at all"
    assert len(summary("Error: " + "x" * 5000)) == 1024


def test_classification_says_whether_to_retry() -> None:
    quota = classify("apply", BOXED)
    assert isinstance(quota, PermanentError) and quota.codes == (ErrorCode.INFRA_QUOTA_EXCEEDED,)
    assert quota.message.startswith("terraform apply failed: creating EC2 VPC")
    throttled = classify("apply", "Error: Throttling: Rate exceeded")
    assert isinstance(throttled, TemporaryError) and throttled.delay == 30.0
    unknown = classify("destroy", "Error: connection reset by peer")
    assert isinstance(unknown, TemporaryError) and unknown.codes == ()


class MemoryStore:
    """State kept in a dict instead of a seed Secret, for running the Terraformer without a cluster."""

    secret_name = "infra.tf-state"

    def __init__(self) -> None:
        self.data: bytes | None = None
        self.saves = 0

    def load(self) -> StoredState | None:
        return None if self.data is None else StoredState(self.data, str(self.saves))

    def save(self, data: bytes, current: StoredState | None) -> StoredState:
        self.data, self.saves = data, self.saves + 1
        return StoredState(data, str(self.saves))

    def delete(self) -> None:
        self.data = None


FAKE = """#!/bin/sh
# records how it was called, writes a state on apply, fails on demand
printf '%s\\n' "$*" >> "$HOME/calls.log"
env | grep -E '^(TF_|CHECKPOINT)' | sort >> "$HOME/calls.log"
case "$1" in
  apply) echo '{"version":4,"resources":[{"type":"terraform_data"}]}' > terraform.tfstate ;;
  destroy) echo '{"version":4,"resources":[]}' > terraform.tfstate ;;
  output) echo '{"vpc_id":{"value":"vpc-1"}}' ;;
  plan) [ -f "$HOME/fail" ] && { echo "Error: Unsupported argument" >&2; exit 1; } ; exit 2 ;;
esac
exit 0
"""


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Terraformer, MemoryStore, Path]:
    binary = tmp_path / "terraform"
    binary.write_text(FAKE)
    binary.chmod(binary.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "calls.log"
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("TF_PLUGIN_CACHE_DIR", "/should/not/pass")
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    store = MemoryStore()
    tf = Terraformer(None, binary=str(binary))  # type: ignore[arg-type]
    tf.store = lambda cfg: store  # type: ignore[assignment,method-assign]
    return tf, store, log


def _cfg(tmp_path: Path) -> Config:
    module = tmp_path / "module"
    module.mkdir(exist_ok=True)
    (module / "main.tf").write_text("# empty\n")
    return Config(
        name="infra",
        namespace="ns",
        module=module,
        variables={"name": "ns"},
        secret_variables={"token": "s3cret"},
    )


def test_credentials_travel_only_as_environment(fake: tuple[Terraformer, MemoryStore, Path], tmp_path: Path) -> None:
    tf, store, log = fake
    assert tf.apply(_cfg(tmp_path)) == {"vpc_id": "vpc-1"}
    calls = log.read_text()
    lines = calls.splitlines()
    assert "init -input=false -no-color -backend=false" in lines
    assert "apply -input=false -no-color -auto-approve -var-file=terraform.tfvars.json" in lines
    assert "TF_VAR_token=s3cret" in lines and "TF_IN_AUTOMATION=1" in lines
    assert not any("s3cret" in line for line in lines if not line.startswith("TF_VAR_"))
    assert not any(line.startswith("TF_PLUGIN_CACHE_DIR") for line in lines)
    assert any(line.startswith("TF_CLI_CONFIG_FILE=") for line in lines)
    assert json.loads(store.data or b"{}")["resources"] == [{"type": "terraform_data"}]


def test_plan_destroy_and_errors(fake: tuple[Terraformer, MemoryStore, Path], tmp_path: Path) -> None:
    tf, store, _ = fake
    cfg = _cfg(tmp_path)
    tf.destroy(cfg)  # no state: nothing to do
    assert store.saves == 0
    tf.apply(cfg)
    assert tf.plan(cfg) is True
    (tmp_path / "fail").write_text("")  # only the environment Terraform needs passes: signal through a file
    with pytest.raises(PermanentError) as failed:
        tf.plan(cfg)
    assert failed.value.codes == (ErrorCode.CONFIGURATION_PROBLEM,)
    tf.destroy(cfg)
    assert store.data is None
