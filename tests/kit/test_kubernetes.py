"""The Kubernetes deployment, checked as far as a machine without a cluster can: every manifest is valid
against the Kubernetes schemas (kubernetes-validate, strict), the pods' security matches the threat, and the
Indexed Job's shards, run the way its pods would run them (the args Kubernetes expands with the
JOB_COMPLETION_INDEX it sets), merge into exactly the gradebook and summary of one run over the class.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from alfred.cli import DEMO_CLASS
from alfred.course.targets import KIT_ROOT

MANIFESTS = sorted((KIT_ROOT / "deploy" / "kubernetes").glob("*.yaml"))


def load(name: str) -> dict:
    return yaml.safe_load((KIT_ROOT / "deploy" / "kubernetes" / name).read_text())


@pytest.mark.slow
def test_every_manifest_is_valid_against_the_kubernetes_schemas():
    assert len(MANIFESTS) >= 3
    validated = subprocess.run([sys.executable, "-m", "kubernetes_validate", "--strict", *map(str, MANIFESTS)],
                               capture_output=True, text=True, timeout=120)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert validated.stdout.count("passed") == len(MANIFESTS)


def test_the_pods_hold_no_token_reach_no_network_and_have_bounded_resources():
    for name in ("grade-job.yaml", "merge-job.yaml"):
        pod = load(name)["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False, name
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
            assert "ALL" in security["capabilities"]["drop"], name
            assert {"requests", "limits"} <= set(container["resources"]), name
    merge = load("merge-job.yaml")["spec"]["template"]["spec"]
    assert merge["securityContext"]["runAsNonRoot"] is True  # no student code there: nobody, no capability
    policy = load("network-policy.yaml")["spec"]
    assert policy["egress"] == [] and set(policy["policyTypes"]) == {"Ingress", "Egress"}
    assert policy["podSelector"]["matchLabels"] == load("grade-job.yaml")["spec"]["template"]["metadata"]["labels"]


def _expand(args: list[str], environment: dict[str, str]) -> list[str]:
    """What Kubernetes does to a container's args: $(NAME) becomes the value of the variable NAME."""
    return [re.sub(r"\$\((\w+)\)", lambda match: environment[match.group(1)], arg) for arg in args]


def _in_volumes(args: list[str], mounts: dict[str, Path]) -> list[str]:
    """The pod's paths (/class, /results) as this machine's folders standing for those volumes."""
    out = []
    for arg in args:
        for inside, outside in mounts.items():
            if arg == inside or arg.startswith(inside + "/"):
                arg = str(outside) + arg[len(inside):]
        out.append(arg)
    return out


def _value_in_pod(variable: dict, labels: dict[str, str]) -> str:
    """An environment variable's value as the kubelet sets it: given, or one of the pod's labels."""
    if "value" in variable:
        return variable["value"]
    path = variable["valueFrom"]["fieldRef"]["fieldPath"]
    label = re.fullmatch(r"metadata\.labels\['([^']+)'\]", path)
    assert label, f"{variable['name']}: only labels are read from the pod here, not {path}"
    return labels[label.group(1)]


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("bwrap") is None, reason="grading needs root and bubblewrap")
def test_the_indexed_jobs_shards_merge_into_the_gradebook_of_one_run(tmp_path):
    job = load("grade-job.yaml")["spec"]
    container = job["template"]["spec"]["containers"][0]
    mounts = {"/class": DEMO_CLASS, "/results": tmp_path / "results"}
    (tmp_path / "results").mkdir()
    job_uid = str(uuid.uuid4())  # what the Job controller labels each of this Job's pods with
    labels = {"batch.kubernetes.io/controller-uid": job_uid}
    settings = {variable["name"]: _value_in_pod(variable, labels) for variable in container.get("env", [])}
    assert settings["ALFRED_HIDDEN_SEED"] == job_uid  # one seed for every shard of a run, a new one for each run
    for index in range(job["completions"]):
        environment = {**settings, "JOB_COMPLETION_INDEX": str(index)}  # as Kubernetes sets it in each pod
        args = _in_volumes(_expand(container["args"], environment), mounts)
        pod = subprocess.run([sys.executable, "-m", "alfred", *args], capture_output=True, text=True, timeout=300,
                             env={**os.environ, **environment})
        assert pod.returncode == 0, pod.stderr
    merge = load("merge-job.yaml")["spec"]["template"]["spec"]["containers"][0]
    script = _in_volumes(merge["command"][2].split(), mounts)  # exec alfred merge /results/shard-* --out ...
    shards = sorted((tmp_path / "results").glob("shard-*"))
    assert len(shards) == job["completions"]
    merged = subprocess.run([sys.executable, "-m", "alfred", "merge", *map(str, shards), *script[-2:]],
                            capture_output=True, text=True, timeout=120)
    assert merged.returncode == 0, merged.stderr
    single = subprocess.run([sys.executable, "-m", "alfred", "grade", str(DEMO_CLASS), "--out", str(tmp_path / "one"),
                             "--hidden-seed", settings["ALFRED_HIDDEN_SEED"]], capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stderr
    together = tmp_path / "results" / "class"
    for report in ("gradebook.csv", "summary.md"):
        assert (together / report).read_text() == (tmp_path / "one" / report).read_text(), report
    assert sorted(path.name for path in (together / "feedback").iterdir()) == \
        sorted(path.name for path in (tmp_path / "one" / "feedback").iterdir())
