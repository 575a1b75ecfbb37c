"""What a pod carries besides what its Deployment asked for: the injector's volumes, and what
the API server and the kubelet add to every pod. meshgen's pods weigh what real ones weigh with
these (9-12 kB of JSON an injected pod before managedFields), so the benchmarks and the decoders
meet real-sized pods, and every diagnosis is shown not to depend on them.

Sources, each shape as it is written there:
- the injector's volumes and istio-proxy's mounts and resources: the injected Deployment of
  Istio's own test data (`pkg/kube/inject/testdata/inject/hello.yaml.cni.injected`, kept
  verbatim as ../shared/fixtures/istio/injected-deployment-network1.yaml);
- API defaults (kubernetes `pkg/apis/core/v1/defaults.go`: terminationMessagePath and -Policy,
  schedulerName, securityContext, terminationGracePeriodSeconds, enableServiceLinks), the
  Priority admission plugin (priority, preemptionPolicy), the DefaultTolerationSeconds plugin
  (the not-ready and unreachable tolerations) and the ServiceAccount plugin (the projected
  `kube-api-access-<5>` volume and its read-only mount in every container,
  `plugin/pkg/admission/serviceaccount/admission.go`);
- the kubelet's container status (`containerID` as the CRI names it, `imageID` as the image's
  digest, an empty `lastState`) and a condition's `lastProbeTime: null`.
"""

from __future__ import annotations

from tests.meshgen.naming import hexid, k8s_suffix

SERVICE_ACCOUNT_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"

# The injection template's volumes, in the order `sidecar.istio.io/status` names them.
ISTIO_VOLUMES = [
    {"emptyDir": {}, "name": "workload-socket"},
    {"emptyDir": {}, "name": "credential-socket"},
    {"emptyDir": {}, "name": "workload-certs"},
    {"emptyDir": {"medium": "Memory"}, "name": "istio-envoy"},
    {"emptyDir": {}, "name": "istio-data"},
    {"downwardAPI": {"defaultMode": 420, "items": [
        {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.labels"}, "path": "labels"},
        {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.annotations"},
         "path": "annotations"}]}, "name": "istio-podinfo"},
    {"name": "istio-token", "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"audience": "istio-ca", "expirationSeconds": 43200,
                                 "path": "istio-token"}}]}},
    {"configMap": {"defaultMode": 420, "name": "istio-ca-root-cert"}, "name": "istiod-ca-cert"},
    {"configMap": {"defaultMode": 420, "name": "istio-ca-crl", "optional": True},
     "name": "istio-ca-crl"},
]

PROXY_MOUNTS = [
    {"mountPath": "/var/run/secrets/workload-spiffe-uds", "name": "workload-socket"},
    {"mountPath": "/var/run/secrets/credential-uds", "name": "credential-socket"},
    {"mountPath": "/var/run/secrets/workload-spiffe-credentials", "name": "workload-certs"},
    {"mountPath": "/var/run/secrets/istio", "name": "istiod-ca-cert"},
    {"mountPath": "/var/run/secrets/istio/crl", "name": "istio-ca-crl"},
    {"mountPath": "/var/lib/istio/data", "name": "istio-data"},
    {"mountPath": "/etc/istio/proxy", "name": "istio-envoy"},
    {"mountPath": "/var/run/secrets/tokens", "name": "istio-token"},
    {"mountPath": "/etc/istio/pod", "name": "istio-podinfo"},
]

PROXY_RESOURCES = {"limits": {"cpu": "2", "memory": "1Gi"},
                   "requests": {"cpu": "100m", "memory": "128Mi"}}

TOLERATIONS = [
    {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists",
     "tolerationSeconds": 300},
    {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists",
     "tolerationSeconds": 300},
]


def _service_account_volume(name: str) -> dict:
    return {"name": name, "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"items": [{"key": "ca.crt", "path": "ca.crt"}],
                       "name": "kube-root-ca.crt"}},
        {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1",
                                                 "fieldPath": "metadata.namespace"},
                                    "path": "namespace"}]}}]}}


def injected(pspec: dict) -> None:
    """The injector's volumes, and istio-proxy's mounts and resources (wherever it runs)."""
    pspec["volumes"] = ISTIO_VOLUMES + list(pspec.get("volumes") or [])
    for c in pspec.get("containers", []) + pspec.get("initContainers", []):
        if c["name"] == "istio-proxy":  # the shared parts are only ever rendered, never changed
            c["resources"] = PROXY_RESOURCES
            c["volumeMounts"] = list(PROXY_MOUNTS)


def admitted(pspec: dict, pod_name: str) -> None:
    """What the API server's defaulting and admission add to a pod's spec."""
    volume = f"kube-api-access-{k8s_suffix(5, 'kube-api-access', pod_name)}"
    for c in pspec.get("containers", []) + pspec.get("initContainers", []):
        c.setdefault("resources", {})
        c["terminationMessagePath"] = "/dev/termination-log"
        c["terminationMessagePolicy"] = "File"
        c["volumeMounts"] = list(c.get("volumeMounts") or []) + [
            {"mountPath": SERVICE_ACCOUNT_MOUNT, "name": volume, "readOnly": True}]
    pspec["volumes"] = list(pspec.get("volumes") or []) + [_service_account_volume(volume)]
    pspec.update({"enableServiceLinks": True, "preemptionPolicy": "PreemptLowerPriority",
                  "priority": 0, "schedulerName": "default-scheduler", "securityContext": {},
                  "terminationGracePeriodSeconds": 30, "tolerations": TOLERATIONS})


def running(status: dict, pod_name: str) -> None:
    """The kubelet's ids on every container status, and its empty probe times."""
    for st in status.get("containerStatuses", []) + status.get("initContainerStatuses", []):
        image = st["image"]
        st["containerID"] = f"containerd://{hexid(64, 'container', pod_name, st['name'])}"
        st["imageID"] = f"{image.rsplit(':', 1)[0]}@sha256:{hexid(64, 'image', image)}"
        st.setdefault("lastState", {})
    for cond in status.get("conditions", []):
        cond.setdefault("lastProbeTime", None)
