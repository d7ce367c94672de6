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

{{/* Where spans go: an explicit endpoint, this release's collector, or nowhere. */}}
{{- define "chaoslab.otlpEndpoint" -}}
{{- if .Values.otlpEndpoint -}}
{{ .Values.otlpEndpoint }}
{{- else if include "chaoslab.observes" (dict "root" . "part" "collector") -}}
http://otel-collector:4318
{{- end -}}
{{- end }}

{{/* The Prometheus whose alerts page the team: an explicit URL, this release's Prometheus, or none. */}}
{{- define "chaoslab.prometheusUrl" -}}
{{- if .Values.reaper.prometheusUrl -}}
{{ .Values.reaper.prometheusUrl }}
{{- else if include "chaoslab.observes" (dict "root" . "part" "prometheus") -}}
http://prometheus:9090
{{- end -}}
{{- end }}

{{- define "chaoslab.agentSecret" -}}
{{- default "chaoslab-agent" .Values.agent.existingSecret -}}
{{- end }}

{{/* Environment every service shares: datastores, team, telemetry, the agent's token. */}}
{{- define "chaoslab.commonEnv" -}}
- name: POSTGRES_PASSWORD
  valueFrom:
    secretKeyRef: {name: postgres, key: password}
- name: CHAOSLAB_DATABASE_URL
  value: "postgresql://chaoslab:$(POSTGRES_PASSWORD)@postgres:5432/chaoslab"
- name: CHAOSLAB_REDIS_URL
  value: "redis://redis:6379/0"
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
