/**
 * Closed value sets of built-in fields (upstream's `+enum` types), published as `enum` so that
 * `kubectl explain` lists them. Only fields of kinds Cairn serves; per type, per field.
 */
const protocol = ['SCTP', 'TCP', 'UDP'];
const pullPolicy = ['Always', 'IfNotPresent', 'Never'];
const terminationMessagePolicy = ['FallbackToLogsOnError', 'File'];
const conditionStatus = ['False', 'True', 'Unknown'];
const accessModes = ['ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOnce', 'ReadWriteOncePod'];
const volumeMode = ['Block', 'Filesystem'];
const reclaimPolicy = ['Delete', 'Recycle', 'Retain'];
const selectorOperator = ['DoesNotExist', 'Exists', 'Gt', 'In', 'Lt', 'NotIn'];
const taintEffect = ['NoExecute', 'NoSchedule', 'PreferNoSchedule'];
const container = { imagePullPolicy: pullPolicy, terminationMessagePolicy };

export const ENUMS: Record<string, Record<string, string[]>> = {
  'core.v1.PodSpec': {
    restartPolicy: ['Always', 'Never', 'OnFailure'],
    dnsPolicy: ['ClusterFirst', 'ClusterFirstWithHostNet', 'Default', 'None'],
    preemptionPolicy: ['Never', 'PreemptLowerPriority'],
  },
  'core.v1.Container': container,
  'core.v1.EphemeralContainer': container,
  'core.v1.ContainerPort': { protocol },
  'core.v1.ServicePort': { protocol },
  'core.v1.EndpointPort': { protocol },
  'discovery.v1.EndpointPort': { protocol },
  'networking.v1.NetworkPolicyPort': { protocol },
  'core.v1.HTTPGetAction': { scheme: ['HTTP', 'HTTPS'] },
  'core.v1.ServiceSpec': {
    type: ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'],
    sessionAffinity: ['ClientIP', 'None'],
    externalTrafficPolicy: ['Cluster', 'Local'],
    internalTrafficPolicy: ['Cluster', 'Local'],
    ipFamilyPolicy: ['PreferDualStack', 'RequireDualStack', 'SingleStack'],
  },
  'core.v1.PodStatus': { phase: ['Failed', 'Pending', 'Running', 'Succeeded', 'Unknown'], qosClass: ['BestEffort', 'Burstable', 'Guaranteed'] },
  'core.v1.PodCondition': { status: conditionStatus },
  'core.v1.NodeCondition': { status: conditionStatus },
  'core.v1.NamespaceStatus': { phase: ['Active', 'Terminating'] },
  'core.v1.NodeSelectorRequirement': { operator: selectorOperator },
  'core.v1.Toleration': { operator: ['Equal', 'Exists'], effect: taintEffect },
  'core.v1.Taint': { effect: taintEffect },
  'core.v1.TopologySpreadConstraint': { whenUnsatisfiable: ['DoNotSchedule', 'ScheduleAnyway'] },
  'core.v1.PersistentVolumeSpec': { persistentVolumeReclaimPolicy: reclaimPolicy, volumeMode },
  'core.v1.PersistentVolumeStatus': { phase: ['Available', 'Bound', 'Failed', 'Pending', 'Released'] },
  'core.v1.PersistentVolumeClaimStatus': { phase: ['Bound', 'Lost', 'Pending'] },
  'core.v1.PersistentVolumeClaimSpec': { volumeMode },
  'core.v1.HostPathVolumeSource': { type: ['', 'BlockDevice', 'CharDevice', 'Directory', 'DirectoryOrCreate', 'File', 'FileOrCreate', 'Socket'] },
  'core.v1.SeccompProfile': { type: ['Localhost', 'RuntimeDefault', 'Unconfined'] },
  'core.v1.LimitRangeItem': { type: ['Container', 'PersistentVolumeClaim', 'Pod'] },
  'apps.v1.DeploymentStrategy': { type: ['Recreate', 'RollingUpdate'] },
  'apps.v1.DaemonSetUpdateStrategy': { type: ['OnDelete', 'RollingUpdate'] },
  'apps.v1.StatefulSetUpdateStrategy': { type: ['OnDelete', 'RollingUpdate'] },
  'apps.v1.StatefulSetSpec': { podManagementPolicy: ['OrderedReady', 'Parallel'] },
  'batch.v1.JobSpec': { completionMode: ['Indexed', 'NonIndexed'], podReplacementPolicy: ['Failed', 'TerminatingOrFailed'] },
  'batch.v1.CronJobSpec': { concurrencyPolicy: ['Allow', 'Forbid', 'Replace'] },
  'networking.v1.HTTPIngressPath': { pathType: ['Exact', 'ImplementationSpecific', 'Prefix'] },
  'discovery.v1.EndpointSlice': { addressType: ['FQDN', 'IPv4', 'IPv6'] },
  'apiextensions.v1.CustomResourceDefinitionSpec': { scope: ['Cluster', 'Namespaced'] },
  'apiextensions.v1.CustomResourceConversion': { strategy: ['None', 'Webhook'] },
};

/** Array fields whose items form a closed set. */
export const ITEM_ENUMS: Record<string, Record<string, string[]>> = {
  'core.v1.PersistentVolumeSpec': { accessModes },
  'core.v1.PersistentVolumeClaimSpec': { accessModes },
  'core.v1.PersistentVolumeClaimStatus': { accessModes },
  'networking.v1.NetworkPolicySpec': { policyTypes: ['Egress', 'Ingress'] },
};
