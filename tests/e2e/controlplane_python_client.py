#!/usr/bin/env python3
"""Debian's python3-kubernetes against bulkhead-controlplane: version (it calls
/version/ with a trailing slash), create, list, watch (watch=True), patch,
scale and delete. Usage: controlplane_python_client.py KUBECONFIG.
Prints one line per step and exits non-zero on the first failure."""
import sys
import threading
import time

from kubernetes import client, config, watch


def step(name):
    print(f"step {name}", flush=True)


def main():
    config.load_kube_config(config_file=sys.argv[1])
    core = client.CoreV1Api()
    apps = client.AppsV1Api()

    step("version")
    version = client.VersionApi().get_code()
    assert version.major == "1" and version.minor == "32", version

    step("create")
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="py-cm", labels={"from": "python"}),
                              data={"a": "1"})
    created = core.create_namespaced_config_map("default", body)
    assert created.metadata.uid and created.metadata.resource_version, created.metadata

    step("list")
    listed = core.list_namespaced_config_map("default", label_selector="from=python")
    assert [item.metadata.name for item in listed.items] == ["py-cm"], listed.items
    start = listed.metadata.resource_version

    step("watch")
    def change_later():
        time.sleep(0.5)
        core.create_namespaced_config_map(
            "default", client.V1ConfigMap(metadata=client.V1ObjectMeta(
                name="py-other", labels={"from": "python"})))
    threading.Thread(target=change_later).start()
    seen = []
    stream = watch.Watch()
    for event in stream.stream(core.list_namespaced_config_map, "default",
                               label_selector="from=python", resource_version=start,
                               timeout_seconds=20):
        seen.append((event["type"], event["object"].metadata.name))
        if ("ADDED", "py-other") in seen:
            stream.stop()
    assert ("ADDED", "py-other") in seen, seen

    step("patch")
    patched = core.patch_namespaced_config_map("py-cm", "default", {"data": {"b": "2"}})
    assert patched.data == {"a": "1", "b": "2"}, patched.data

    step("deployment")
    deployment = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="py-web"),
        spec=client.V1DeploymentSpec(
            replicas=1,
            selector=client.V1LabelSelector(match_labels={"app": "py-web"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "py-web"}),
                spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox")]))))
    apps.create_namespaced_deployment("default", deployment)
    patched = apps.patch_namespaced_deployment(
        "py-web", "default",
        {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox:2"}]}}}})
    assert patched.spec.template.spec.containers[0].image == "busybox:2"
    scale = apps.patch_namespaced_deployment_scale("py-web", "default", {"spec": {"replicas": 4}})
    assert scale.spec.replicas == 4, scale
    assert apps.read_namespaced_deployment("py-web", "default").spec.replicas == 4

    step("delete")
    core.delete_namespaced_config_map("py-cm", "default")
    try:
        core.read_namespaced_config_map("py-cm", "default")
        raise AssertionError("py-cm still exists")
    except client.exceptions.ApiException as error:
        assert error.status == 404, error

    print("python client: all steps passed", flush=True)


if __name__ == "__main__":
    main()
