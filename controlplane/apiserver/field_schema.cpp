#include "controlplane/apiserver/field_schema.h"

#include <boost/json.hpp>
#include <map>
#include <mutex>

#include "common/strings.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

// Known fields per type: "field" (not checked further), "field:Type" (an
// object of Type) or "field:[]Type" (a list of Type).
constexpr const char* kKnownFields = R"(
ObjectMeta: name generateName namespace selfLink uid resourceVersion generation creationTimestamp deletionTimestamp deletionGracePeriodSeconds labels annotations ownerReferences finalizers managedFields
PodTemplateSpec: metadata:ObjectMeta spec:PodSpec
PodSpec: activeDeadlineSeconds affinity automountServiceAccountToken containers:[]Container dnsConfig dnsPolicy enableServiceLinks ephemeralContainers hostAliases hostIPC hostNetwork hostPID hostUsers hostname imagePullSecrets initContainers:[]Container nodeName nodeSelector os overhead preemptionPolicy priority priorityClassName readinessGates resourceClaims resources restartPolicy runtimeClassName schedulerName schedulingGates securityContext serviceAccount serviceAccountName setHostnameAsFQDN shareProcessNamespace subdomain terminationGracePeriodSeconds tolerations topologySpreadConstraints volumes:[]Volume
Container: name image command args workingDir ports:[]ContainerPort envFrom env:[]EnvVar resources:ResourceRequirements resizePolicy restartPolicy volumeMounts:[]VolumeMount volumeDevices livenessProbe:Probe readinessProbe:Probe startupProbe:Probe lifecycle terminationMessagePath terminationMessagePolicy imagePullPolicy securityContext stdin stdinOnce tty
ContainerPort: name hostPort containerPort protocol hostIP
EnvVar: name value valueFrom:EnvVarSource
EnvVarSource: fieldRef configMapKeyRef secretKeyRef resourceFieldRef
ResourceRequirements: limits requests claims
Probe: exec httpGet tcpSocket grpc initialDelaySeconds timeoutSeconds periodSeconds successThreshold failureThreshold terminationGracePeriodSeconds
VolumeMount: name readOnly recursiveReadOnly mountPath subPath mountPropagation subPathExpr
Volume: name awsElasticBlockStore:AWSElasticBlockStoreVolumeSource azureDisk:AzureDiskVolumeSource azureFile:AzureFileVolumeSource cephfs:CephFSVolumeSource cinder:CinderVolumeSource configMap:ConfigMapVolumeSource csi:CSIVolumeSource downwardAPI:DownwardAPIVolumeSource emptyDir:EmptyDirVolumeSource ephemeral:EphemeralVolumeSource fc:FCVolumeSource flexVolume:FlexVolumeSource flocker:FlockerVolumeSource gcePersistentDisk:GCEPersistentDiskVolumeSource gitRepo:GitRepoVolumeSource glusterfs:GlusterfsVolumeSource hostPath:HostPathVolumeSource image:ImageVolumeSource iscsi:ISCSIVolumeSource nfs:NFSVolumeSource persistentVolumeClaim:PersistentVolumeClaimVolumeSource photonPersistentDisk:PhotonPersistentDiskVolumeSource portworxVolume:PortworxVolumeSource projected:ProjectedVolumeSource quobyte:QuobyteVolumeSource rbd:RBDVolumeSource scaleIO:ScaleIOVolumeSource secret:SecretVolumeSource storageos:StorageOSVolumeSource vsphereVolume:VsphereVirtualDiskVolumeSource
AWSElasticBlockStoreVolumeSource: volumeID fsType partition readOnly
AzureDiskVolumeSource: diskName diskURI cachingMode fsType readOnly kind
AzureFileVolumeSource: secretName shareName readOnly
AzureFilePersistentVolumeSource: secretName shareName readOnly secretNamespace
CephFSVolumeSource: monitors path user secretFile secretRef readOnly
CinderVolumeSource: volumeID fsType readOnly secretRef
CSIVolumeSource: driver readOnly fsType volumeAttributes nodePublishSecretRef
DownwardAPIVolumeSource: items defaultMode
EphemeralVolumeSource: volumeClaimTemplate
FCVolumeSource: targetWWNs lun fsType readOnly wwids
FlexVolumeSource: driver fsType secretRef readOnly options
FlockerVolumeSource: datasetName datasetUUID
GCEPersistentDiskVolumeSource: pdName fsType partition readOnly
GitRepoVolumeSource: repository revision directory
ImageVolumeSource: reference pullPolicy
ISCSIVolumeSource: targetPortal iqn lun iscsiInterface fsType readOnly portals chapAuthDiscovery chapAuthSession secretRef initiatorName
PhotonPersistentDiskVolumeSource: pdID fsType
PortworxVolumeSource: volumeID fsType readOnly
ProjectedVolumeSource: sources defaultMode
QuobyteVolumeSource: registry volume readOnly user group tenant
RBDVolumeSource: monitors image fsType pool user keyring secretRef readOnly
ScaleIOVolumeSource: gateway system secretRef sslEnabled protectionDomain storagePool storageMode volumeName fsType readOnly
StorageOSVolumeSource: volumeName volumeNamespace fsType readOnly secretRef
VsphereVirtualDiskVolumeSource: volumePath fsType storagePolicyName storagePolicyID
ConfigMapVolumeSource: name items defaultMode optional
SecretVolumeSource: secretName items defaultMode optional
EmptyDirVolumeSource: medium sizeLimit
PersistentVolumeClaimVolumeSource: claimName readOnly
HostPathVolumeSource: path type
NFSVolumeSource: server path readOnly
GlusterfsVolumeSource: endpoints path readOnly
GlusterfsPersistentVolumeSource: endpoints endpointsNamespace path readOnly
LocalVolumeSource: path fsType
CSIPersistentVolumeSource: driver volumeHandle readOnly fsType volumeAttributes controllerPublishSecretRef nodeStageSecretRef nodePublishSecretRef controllerExpandSecretRef nodeExpandSecretRef
PersistentVolumeSpec: capacity accessModes claimRef persistentVolumeReclaimPolicy storageClassName mountOptions volumeMode nodeAffinity volumeAttributesClassName awsElasticBlockStore:AWSElasticBlockStoreVolumeSource azureDisk:AzureDiskVolumeSource azureFile:AzureFilePersistentVolumeSource cephfs:CephFSVolumeSource cinder:CinderVolumeSource csi:CSIPersistentVolumeSource fc:FCVolumeSource flexVolume:FlexVolumeSource flocker:FlockerVolumeSource gcePersistentDisk:GCEPersistentDiskVolumeSource glusterfs:GlusterfsPersistentVolumeSource hostPath:HostPathVolumeSource iscsi:ISCSIVolumeSource local:LocalVolumeSource nfs:NFSVolumeSource photonPersistentDisk:PhotonPersistentDiskVolumeSource portworxVolume:PortworxVolumeSource quobyte:QuobyteVolumeSource rbd:RBDVolumeSource scaleIO:ScaleIOVolumeSource storageos:StorageOSVolumeSource vsphereVolume:VsphereVirtualDiskVolumeSource
PersistentVolumeClaimSpec: accessModes selector resources:VolumeResourceRequirements volumeName storageClassName volumeMode dataSource dataSourceRef volumeAttributesClassName
VolumeResourceRequirements: limits requests
DeploymentSpec: replicas selector template:PodTemplateSpec strategy minReadySeconds revisionHistoryLimit paused progressDeadlineSeconds
ReplicaSetSpec: replicas minReadySeconds selector template:PodTemplateSpec
ReplicationControllerSpec: replicas minReadySeconds selector template:PodTemplateSpec
StatefulSetSpec: replicas selector template:PodTemplateSpec volumeClaimTemplates:[]PersistentVolumeClaim serviceName podManagementPolicy updateStrategy revisionHistoryLimit minReadySeconds persistentVolumeClaimRetentionPolicy ordinals
DaemonSetSpec: selector template:PodTemplateSpec updateStrategy minReadySeconds revisionHistoryLimit
JobSpec: parallelism completions activeDeadlineSeconds podFailurePolicy successPolicy backoffLimit backoffLimitPerIndex maxFailedIndexes selector manualSelector template:PodTemplateSpec ttlSecondsAfterFinished completionMode suspend podReplacementPolicy managedBy
JobTemplateSpec: metadata:ObjectMeta spec:JobSpec
CronJobSpec: schedule timeZone startingDeadlineSeconds concurrencyPolicy suspend jobTemplate:JobTemplateSpec successfulJobsHistoryLimit failedJobsHistoryLimit
ServiceSpec: ports:[]ServicePort selector clusterIP clusterIPs type externalIPs sessionAffinity loadBalancerIP loadBalancerSourceRanges externalName externalTrafficPolicy healthCheckNodePort publishNotReadyAddresses sessionAffinityConfig ipFamilies ipFamilyPolicy allocateLoadBalancerNodePorts loadBalancerClass internalTrafficPolicy trafficDistribution
ServicePort: name protocol appProtocol port targetPort nodePort
Namespace: apiVersion kind metadata:ObjectMeta spec status
Pod: apiVersion kind metadata:ObjectMeta spec:PodSpec status
Service: apiVersion kind metadata:ObjectMeta spec:ServiceSpec status
Endpoints: apiVersion kind metadata:ObjectMeta subsets
ConfigMap: apiVersion kind metadata:ObjectMeta immutable data binaryData
Secret: apiVersion kind metadata:ObjectMeta immutable data stringData type
ServiceAccount: apiVersion kind metadata:ObjectMeta secrets imagePullSecrets automountServiceAccountToken
Event: apiVersion kind metadata:ObjectMeta involvedObject reason message source firstTimestamp lastTimestamp count type eventTime series action related reportingComponent reportingInstance
Node: apiVersion kind metadata:ObjectMeta spec status
PersistentVolumeClaim: apiVersion kind metadata:ObjectMeta spec:PersistentVolumeClaimSpec status
PersistentVolume: apiVersion kind metadata:ObjectMeta spec:PersistentVolumeSpec status
Deployment: apiVersion kind metadata:ObjectMeta spec:DeploymentSpec status
ReplicaSet: apiVersion kind metadata:ObjectMeta spec:ReplicaSetSpec status
ReplicationController: apiVersion kind metadata:ObjectMeta spec:ReplicationControllerSpec status
StatefulSet: apiVersion kind metadata:ObjectMeta spec:StatefulSetSpec status
DaemonSet: apiVersion kind metadata:ObjectMeta spec:DaemonSetSpec status
Job: apiVersion kind metadata:ObjectMeta spec:JobSpec status
CronJob: apiVersion kind metadata:ObjectMeta spec:CronJobSpec status
Role: apiVersion kind metadata:ObjectMeta rules
ClusterRole: apiVersion kind metadata:ObjectMeta rules aggregationRule
RoleBinding: apiVersion kind metadata:ObjectMeta subjects roleRef
ClusterRoleBinding: apiVersion kind metadata:ObjectMeta subjects roleRef
Ingress: apiVersion kind metadata:ObjectMeta spec status
IngressClass: apiVersion kind metadata:ObjectMeta spec
NetworkPolicy: apiVersion kind metadata:ObjectMeta spec status
StorageClass: apiVersion kind metadata:ObjectMeta provisioner parameters reclaimPolicy mountOptions allowVolumeExpansion volumeBindingMode allowedTopologies
Lease: apiVersion kind metadata:ObjectMeta spec
EndpointSlice: apiVersion kind metadata:ObjectMeta addressType endpoints ports
CustomResourceDefinition: apiVersion kind metadata:ObjectMeta spec status
HorizontalPodAutoscalerSpec: scaleTargetRef minReplicas maxReplicas metrics behavior
HorizontalPodAutoscaler: apiVersion kind metadata:ObjectMeta spec:HorizontalPodAutoscalerSpec status
PodDisruptionBudgetSpec: minAvailable selector maxUnavailable unhealthyPodEvictionPolicy
PodDisruptionBudget: apiVersion kind metadata:ObjectMeta spec:PodDisruptionBudgetSpec status
APIServiceSpec: service group version insecureSkipTLSVerify caBundle groupPriorityMinimum versionPriority
APIService: apiVersion kind metadata:ObjectMeta spec:APIServiceSpec status
PriorityClass: apiVersion kind metadata:ObjectMeta value globalDefault description preemptionPolicy
)";

struct FieldType {
  std::string type;  // empty: anything
  bool list = false;
};
using TypeTable = std::map<std::string, std::map<std::string, FieldType>>;

const TypeTable& Types() {
  static const TypeTable kTable = [] {
    TypeTable table;
    for (auto line : SplitNonEmpty(kKnownFields, "\n")) {
      size_t colon = line.find(':');
      auto& fields = table[std::string(line.substr(0, colon))];
      for (auto field : SplitNonEmpty(line.substr(colon + 1), " ")) {
        size_t sep = field.find(':');
        FieldType type;
        if (sep != std::string_view::npos) {
          std::string_view ref = field.substr(sep + 1);
          type.list = ConsumePrefix(ref, "[]");
          type.type = std::string(ref);
        }
        fields[std::string(field.substr(0, sep))] = type;
      }
    }
    return table;
  }();
  return kTable;
}

void PruneKnown(const std::string& type_name, json::value& value, const std::string& path,
                FieldCheck& check) {
  if (!value.is_object()) {
    return;
  }
  const auto& types = Types();
  auto type_it = types.find(type_name);
  if (type_it == types.end()) {
    return;
  }
  auto& object = value.as_object();
  for (auto it = object.begin(); it != object.end();) {
    std::string key(it->key());
    auto field = type_it->second.find(key);
    std::string child = path.empty() ? key : fmt::format("{}.{}", path, key);
    if (field == type_it->second.end()) {
      check.unknown.push_back(child);
      it = object.erase(it);
      continue;
    }
    if (!field->second.type.empty()) {
      if (field->second.list && it->value().is_array()) {
        auto& items = it->value().as_array();
        for (size_t i = 0; i < items.size(); ++i) {
          PruneKnown(field->second.type, items[i], fmt::format("{}[{}]", child, i), check);
        }
      } else if (!field->second.list) {
        PruneKnown(field->second.type, it->value(), child, check);
      }
    }
    ++it;
  }
}

const char* KindName(const json::value& value) {
  if (value.is_string()) {
    return "string";
  }
  if (value.is_bool()) {
    return "boolean";
  }
  if (value.is_number()) {
    return value.is_double() ? "number" : "integer";
  }
  if (value.is_array()) {
    return "array";
  }
  return value.is_object() ? "object" : "null";
}

std::string SchemaType(const json::object& schema) {
  const auto* type = schema.if_contains("type");
  return type != nullptr && type->is_string() ? std::string(type->as_string()) : "";
}

bool PreservesUnknown(const json::object& schema) {
  const auto* flag = schema.if_contains("x-kubernetes-preserve-unknown-fields");
  return flag != nullptr && flag->is_bool() && flag->as_bool();
}

void PruneWithSchema(const json::object& schema, json::value& value, const std::string& path,
                     FieldCheck& check) {
  if (const auto* flag = schema.if_contains("x-kubernetes-int-or-string");
      flag != nullptr && flag->is_bool() && flag->as_bool()) {
    if (!value.is_int64() && !value.is_uint64() && !value.is_string()) {
      check.invalid.push_back(
          {"FieldValueTypeInvalid", "Invalid value: must be an integer or a string", path});
    }
    return;
  }
  std::string type = SchemaType(schema);
  auto wrong = [&](const char* expected) {
    check.invalid.push_back(
        {"FieldValueTypeInvalid",
         fmt::format("Invalid value: \"{}\": {} in body must be of type {}: \"{}\"",
                     value.is_string() ? std::string(value.as_string()) : json::serialize(value),
                     path, expected, KindName(value)),
         path});
  };
  if (value.is_null()) {
    return;
  }
  if (type == "string" && !value.is_string()) {
    wrong("string");
  } else if (type == "integer" && !value.is_int64() && !value.is_uint64()) {
    wrong("integer");
  } else if (type == "number" && !value.is_number()) {
    wrong("number");
  } else if (type == "boolean" && !value.is_bool()) {
    wrong("boolean");
  } else if (type == "array") {
    if (!value.is_array()) {
      wrong("array");
      return;
    }
    const auto* items = schema.if_contains("items");
    if (items != nullptr && items->is_object()) {
      auto& array = value.as_array();
      for (size_t i = 0; i < array.size(); ++i) {
        PruneWithSchema(items->as_object(), array[i], fmt::format("{}[{}]", path, i), check);
      }
    }
  } else if (type == "object") {
    if (!value.is_object()) {
      wrong("object");
      return;
    }
    auto& object = value.as_object();
    const auto* properties = schema.if_contains("properties");
    const auto* additional = schema.if_contains("additionalProperties");
    if (properties != nullptr && properties->is_object()) {
      for (auto it = object.begin(); it != object.end();) {
        std::string key(it->key());
        std::string child = path.empty() ? key : fmt::format("{}.{}", path, key);
        const auto* property = properties->as_object().if_contains(key);
        if (property == nullptr) {
          if (PreservesUnknown(schema) ||
              (path.empty() && (key == "apiVersion" || key == "kind" || key == "metadata"))) {
            ++it;
            continue;
          }
          check.unknown.push_back(child);
          it = object.erase(it);
          continue;
        }
        if (property->is_object()) {
          PruneWithSchema(property->as_object(), it->value(), child, check);
        }
        ++it;
      }
    } else if (additional != nullptr && additional->is_object()) {
      for (auto& [key, item] : object) {
        PruneWithSchema(additional->as_object(), item,
                        path.empty() ? std::string(key) : path + "." + std::string(key), check);
      }
    } else if (!PreservesUnknown(schema) && path != "") {
      // An object with neither properties nor preserve-unknown keeps nothing.
      for (const auto& [key, item] : object) {
        check.unknown.push_back(path + "." + std::string(key));
      }
      object.clear();
    }
    if (const auto* required = schema.if_contains("required");
        required != nullptr && required->is_array()) {
      for (const auto& name : required->as_array()) {
        if (name.is_string() && !object.contains(name.as_string())) {
          std::string field = path.empty() ? std::string(name.as_string())
                                           : path + "." + std::string(name.as_string());
          check.invalid.push_back({"FieldValueRequired", "Required value", field});
        }
      }
    }
  }
}

}  // namespace

FieldCheck PruneUnknownFields(const ResourceType& type, json::value& object) {
  FieldCheck check;
  if (!object.is_object()) {
    return check;
  }
  if (type.custom) {
    if (auto* metadata = object.as_object().if_contains("metadata")) {
      PruneKnown("ObjectMeta", *metadata, "metadata", check);
    }
    if (type.schema.is_object()) {
      PruneWithSchema(type.schema.as_object(), object, "", check);
    }
    return check;
  }
  PruneKnown(type.kind, object, "", check);
  return check;
}

}  // namespace bulkhead::controlplane
