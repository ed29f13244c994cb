#!/usr/bin/env python3
"""Debian's python3-kubernetes as an operator inside a pod runs it: the
in-cluster loader reads the token, CA and namespace from the pod's projected
service account volume (here under ROOT) and the API address from the
KUBERNETES_SERVICE_* variables.
Usage: controlplane_python_in_cluster.py ROOT HOST PORT allowed|refused
  allowed: configmaps of its namespace can be listed, pods cannot (403)
  refused: the token is refused outright (401)
Prints one line per step and exits non-zero on the first failure."""
import sys

from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.config.incluster_config import InClusterConfigLoader

MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"


def step(name):
    print(f"step {name}", flush=True)


def refused_with(status, call):
    try:
        call()
    except ApiException as error:
        assert error.status == status, (error.status, error.body)
        return error.body
    raise AssertionError(f"expected HTTP {status}, the call succeeded")


def main():
    root, host, port, mode = sys.argv[1:5]
    step("load in-cluster configuration")
    configuration = client.Configuration()
    InClusterConfigLoader(token_filename=root + MOUNT + "/token",
                          cert_filename=root + MOUNT + "/ca.crt",
                          environ={"KUBERNETES_SERVICE_HOST": host,
                                   "KUBERNETES_SERVICE_PORT": port}).load_and_set(configuration)
    with open(root + MOUNT + "/namespace") as f:
        namespace = f.read().strip()
    core = client.CoreV1Api(client.ApiClient(configuration))

    if mode == "allowed":
        step("list configmaps (its Role allows it)")
        names = [item.metadata.name for item in core.list_namespaced_config_map(namespace).items]
        assert "kube-root-ca.crt" in names, names
        step("list pods (nothing allows it)")
        body = refused_with(403, lambda: core.list_namespaced_pod(namespace))
        assert f"system:serviceaccount:{namespace}:reader" in body, body
        step("create a configmap (nothing allows it)")
        refused_with(403, lambda: core.create_namespaced_config_map(
            namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="from-python"))))
    elif mode == "refused":
        step("list configmaps (the token's pod is gone)")
        refused_with(401, lambda: core.list_namespaced_config_map(namespace))
    else:
        raise AssertionError(f"unknown mode {mode}")
    print("in-cluster client: all steps passed", flush=True)


if __name__ == "__main__":
    main()
