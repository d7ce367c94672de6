{{/* Chart name and version for the helm.sh/chart label. */}}
{{- define "chaoslab.chart" -}}
{{ .Chart.Name }}-{{ .Chart.Version | replace "+" "_" }}
{{- end }}

{{/* Labels on every object. Selector labels stay a subset that never changes across upgrades. */}}
{{- define "chaoslab.labels" -}}
helm.sh/chart: {{ include "chaoslab.chart" .root }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: chaoslab
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
chaoslab.io/team: {{ .root.Values.team | quote }}
{{ include "chaoslab.selectorLabels" . }}
{{- end }}

{{- define "chaoslab.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end }}

{{/* The one chaoslab image, tagged with the chart's appVersion unless told otherwise; never latest. */}}
{{- define "chaoslab.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if eq $tag "latest" }}{{ fail "image.tag must be a version, not latest" }}{{ end -}}
{{ .Values.image.repository }}:{{ $tag }}
{{- end }}

{{/* "true" when this release deploys observability part .part (collector, jaeger, prometheus):
     the master switch and the part's own. */}}
{{- define "chaoslab.observes" -}}
{{- $part := index .root.Values.observability .part -}}
{{- if and .root.Values.observability.enabled $part.enabled }}true{{ end -}}
{{- end }}

{{/* The port of a part whose image fixes it (not a setting), by name: its container, its Service and
     every URL or policy that names it read it here. The services' ports are settings (components). */}}
{{- define "chaoslab.port" -}}
{{- $ports := dict "postgres" 5432 "redis" 6379 "locust" 8089 "prometheus" 9090 "grafana" 3000
      "jaeger-ui" 16686 "jaeger-otlp-grpc" 4317 "collector-otlp-grpc" 4317 "collector-otlp-http" 4318
      "collector-metrics" 8889 "collector-health" 13133 "alertmanager" 9093 "pager" 9095 -}}
{{- if not (hasKey $ports .) }}{{ fail (printf "chaoslab.port: no port named %q" .) }}{{ end -}}
{{ get $ports . }}
{{- end }}

{{/* A URL inside the release's namespace from a Service's name and port: (list NAME PORT). */}}
{{- define "chaoslab.url" -}}
http://{{ index . 0 }}:{{ index . 1 }}
{{- end }}

{{/* A service's address from its name and port name (components.NAME.ports): host:port for gRPC, a URL
     otherwise, as chaoslab/topology.py's peer_address writes it. */}}
{{- define "chaoslab.componentUrl" -}}
{{- $port := index (index .root.Values.components .name).ports .port -}}
{{- if eq .port "grpc" }}{{ .name }}:{{ $port }}{{ else }}{{ include "chaoslab.url" (list .name $port) }}{{ end -}}
{{- end }}

{{/* The shop's front door: the service whose HTTP port Locust, the prober, helm test and the NodePort reach. */}}
{{- define "chaoslab.frontDoor" -}}
service-a
{{- end }}

{{- define "chaoslab.frontDoorUrl" -}}
{{ include "chaoslab.componentUrl" (dict "root" . "name" (include "chaoslab.frontDoor" .) "port" "http") }}
{{- end }}

{{/* Where spans go: an explicit endpoint, this release's collector, or nowhere. */}}
{{- define "chaoslab.otlpEndpoint" -}}
{{- if .Values.otlpEndpoint -}}
{{ .Values.otlpEndpoint }}
{{- else if include "chaoslab.observes" (dict "root" . "part" "collector") -}}
{{ include "chaoslab.url" (list "otel-collector" (include "chaoslab.port" "collector-otlp-http")) }}
{{- end -}}
{{- end }}

{{/* This release's own Prometheus and Jaeger (query API and UI). */}}
{{- define "chaoslab.ownPrometheusUrl" -}}
{{ include "chaoslab.url" (list "prometheus" (include "chaoslab.port" "prometheus")) }}
{{- end }}

{{- define "chaoslab.ownJaegerUrl" -}}
{{ include "chaoslab.url" (list "jaeger" (include "chaoslab.port" "jaeger-ui")) }}
{{- end }}

{{/* The Alertmanager the team's pager reads its alerts from: pager.alertmanagerUrl, else this
     release's own; empty when there is neither (then no pager runs). */}}
{{- define "chaoslab.alertmanagerUrl" -}}
{{- if .Values.pager.alertmanagerUrl -}}
{{ .Values.pager.alertmanagerUrl }}
{{- else if and (include "chaoslab.observes" (dict "root" . "part" "prometheus")) (include "chaoslab.observes" (dict "root" . "part" "alertmanager")) -}}
{{ include "chaoslab.url" (list "alertmanager" (include "chaoslab.port" "alertmanager")) }}
{{- end -}}
{{- end }}

{{/* Secret names: each Secret, and everything that reads it or grants access to it, names it here. */}}
{{- define "chaoslab.agentSecret" -}}
{{- default "chaoslab-agent" .Values.agent.existingSecret -}}
{{- end }}

{{- define "chaoslab.consoleSecret" -}}
{{- default "chaoslab-console" .Values.console.existingSecret -}}
{{- end }}

{{- define "chaoslab.postgresSecret" -}}
postgres
{{- end }}

{{/* The database password from its Secret: PostgreSQL's own and every client's. */}}
{{- define "chaoslab.postgresPasswordEnv" -}}
- name: POSTGRES_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ include "chaoslab.postgresSecret" . }}, key: password}
{{- end }}

{{/* A database client's environment: the password, then the URL that refers to it. */}}
{{- define "chaoslab.databaseEnv" -}}
{{ include "chaoslab.postgresPasswordEnv" . }}
- name: CHAOSLAB_DATABASE_URL
  value: "postgresql://chaoslab:$(POSTGRES_PASSWORD)@postgres:{{ include "chaoslab.port" "postgres" }}/chaoslab"
{{- end }}

{{/* Environment every service shares: datastores, team, telemetry, the agent's token. */}}
{{- define "chaoslab.commonEnv" -}}
{{ include "chaoslab.databaseEnv" . }}
- name: CHAOSLAB_REDIS_URL
  value: "redis://redis:{{ include "chaoslab.port" "redis" }}/0"
- name: CHAOSLAB_TEAM
  value: {{ .Values.team | quote }}
# On SIGTERM: unready first and still serving while the endpoints catch up, then stop.
- name: CHAOSLAB_SHUTDOWN_DRAIN_S
  value: "2"
- name: CHAOSLAB_AGENT_TOKEN
  valueFrom:
    secretKeyRef: {name: {{ include "chaoslab.agentSecret" . }}, key: token}
{{- $otlp := include "chaoslab.otlpEndpoint" . }}
{{- if $otlp }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $otlp | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: http/protobuf
{{- else }}
- name: OTEL_TRACES_EXPORTER
  value: none
{{- end }}
- name: K8S_NAMESPACE
  valueFrom:
    fieldRef: {fieldPath: metadata.namespace}
- name: K8S_POD_NAME
  valueFrom:
    fieldRef: {fieldPath: metadata.name}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: "k8s.namespace.name=$(K8S_NAMESPACE),k8s.pod.name=$(K8S_POD_NAME),chaoslab.team={{ .Values.team }}"
{{- end }}

{{/* The alert rules (generated from chaoslab/alerts/definitions.py), runbook links made absolute when
     observability.prometheus.runbookBaseUrl is set. */}}
{{- define "chaoslab.alertRules" -}}
{{- $rules := .Files.Get "files/alerts.yaml" -}}
{{- with .Values.observability.prometheus.runbookBaseUrl -}}
{{- $rules = replace "runbook_url: docs/runbooks/" (printf "runbook_url: %sdocs/runbooks/" .) $rules -}}
{{- end -}}
{{ $rules }}
{{- end }}

{{/* The synthetic prober's journeys and blackbox modules, generated from chaoslab/alerts/synthetic.py. */}}
{{- define "chaoslab.synthetic" -}}
{{ .Files.Get "files/synthetic.yaml" }}
{{- end }}

{{/* The blackbox exporter's configuration: one module per journey, each with the prober's timeout (in
     milliseconds: the exporter's durations take no fractions). */}}
{{- define "chaoslab.blackboxConfig" -}}
{{- $config := (include "chaoslab.synthetic" . | fromYaml).blackbox -}}
{{- range $name, $module := $config.modules }}
{{- $_ := set $module "timeout" (printf "%dms" (int (mulf $.Values.prober.timeoutSeconds 1000))) }}
{{- end }}
{{- toYaml $config }}
{{- end }}

{{/* Relabelling every Prometheus job of pods shares: the pod's annotated port, and the target labels the
     rules group by (service from the pod's name label, team, namespace, pod). */}}
{{- define "chaoslab.podTargetLabels" -}}
- source_labels: [__address__, __meta_kubernetes_pod_annotation_prometheus_io_port]
  regex: ([^:]+)(?::\d+)?;(\d+)
  replacement: $1:$2
  target_label: __address__
- source_labels: [__meta_kubernetes_pod_label_app_kubernetes_io_name]
  target_label: service
- source_labels: [__meta_kubernetes_pod_label_chaoslab_io_team]
  target_label: team
- source_labels: [__meta_kubernetes_namespace]
  target_label: namespace
- source_labels: [__meta_kubernetes_pod_name]
  target_label: pod
{{- end }}

{{/* Where a pod runs, in every pod of the chart: spread over the nodes with the rest of its release
     (a cohort on several nodes shares them out; on one node it changes nothing) and the registry's
     pull secrets. Use with `$` (the root). */}}
{{- define "chaoslab.scheduling" -}}
{{- with .Values.image.pullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
{{- if .Values.scheduling.spread }}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
{{- end }}
