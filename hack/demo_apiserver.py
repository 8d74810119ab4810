"""`make demo`: start the embedded API server and show real kubectl working against it.

Creates a CustomResourceDefinition, applies a custom resource, lists it as a table, watches it
change, patches it, reads it as YAML and deletes it, printing each kubectl command and its output.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.helpers import KUBECTL, ServerProcess  # noqa: E402

CRD = textwrap.dedent(
    """
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata:
      name: widgets.demo.gardener.cloud
    spec:
      group: demo.gardener.cloud
      scope: Namespaced
      names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
      versions:
      - name: v1
        served: true
        storage: true
        subresources: {status: {}}
        additionalPrinterColumns:
        - {name: Size, type: integer, jsonPath: .spec.size}
        - {name: Color, type: string, jsonPath: .spec.color}
        - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
        schema:
          openAPIV3Schema:
            type: object
            properties:
              spec:
                type: object
                required: [size]
                properties:
                  size: {type: integer, minimum: 1, maximum: 10}
                  color: {type: string, enum: [red, green, blue], default: green}
              status:
                type: object
                x-kubernetes-preserve-unknown-fields: true
    """
)

WIDGET = textwrap.dedent(
    """
    apiVersion: demo.gardener.cloud/v1
    kind: Widget
    metadata: {name: first, namespace: default}
    spec: {size: 3}
    """
)


def run(kubeconfig: Path, *args: str, stdin: str | None = None) -> str:
    print(f"\n$ kubectl {' '.join(args)}", flush=True)
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(kubeconfig.parent)}
    result = subprocess.run([KUBECTL, *args], input=stdin, capture_output=True, text=True, env=env, check=False)
    out = (result.stdout + result.stderr).rstrip()
    print(textwrap.indent(out, "  "), flush=True)
    if result.returncode != 0:
        raise SystemExit(f"demo: kubectl {' '.join(args)} failed")
    return result.stdout


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="gardener-demo-") as tmp:
        server = ServerProcess(data_dir=Path(tmp) / "apiserver").start()
        kc = server.kubeconfig
        print(f"gardener-apiserver is serving on {server.url} (admin kubeconfig: {kc})")
        try:
            run(kc, "version")
            run(kc, "get", "namespaces")
            run(kc, "apply", "-f", "-", stdin=CRD)
            run(kc, "wait", "--for=condition=Established", "crd/widgets.demo.gardener.cloud", "--timeout=20s")
            watch_env = {**os.environ, "KUBECONFIG": str(kc), "HOME": str(kc.parent)}
            watcher = subprocess.Popen(
                [KUBECTL, "get", "widgets", "-w", "--output-watch-events"],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env=watch_env,
            )
            time.sleep(1)
            run(kc, "apply", "-f", "-", stdin=WIDGET)
            run(kc, "get", "widgets")
            run(kc, "patch", "widget", "first", "--type", "merge", "-p", '{"spec":{"size":5,"color":"blue"}}')
            run(kc, "get", "widget", "first", "-o", "yaml")
            run(kc, "delete", "widget", "first")
            time.sleep(1)
            watcher.terminate()
            out, _ = watcher.communicate(timeout=10)
            print("\n$ kubectl get widgets -w --output-watch-events   (ran in the background meanwhile)")
            print(textwrap.indent(out.rstrip(), "  "))
            print("\ndemo: done")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
