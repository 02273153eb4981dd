{{/*
Named templates for running Portcullis next to your own Envoy, in your own pods. Add this chart as a dependency
(with sidecar.envoyConfig=true) and include them from your Deployment; `.Subcharts.portcullis` is this chart's
own context (values, name, release), so names and settings match what it renders:

  containers:
    - name: app
      ...
    {{- include "portcullis.envoy.container" (dict "root" .Subcharts.portcullis "listenPort" 8000 "healthPort" 8001) | nindent 4 }}
    {{- include "portcullis.sidecar.container" (dict "root" .Subcharts.portcullis "grpcAddress" "127.0.0.1:9001") | nindent 4 }}
  volumes:
    {{- include "portcullis.envoy.volumes" (dict "configMap" (include "portcullis.sidecar.envoyConfigName" .Subcharts.portcullis)) | nindent 4 }}
    {{- include "portcullis.sidecar.volumes" (dict "root" .Subcharts.portcullis) | nindent 4 }}

"grpcAddress" is where ext_authz and the access-log service listen: loopback, as Envoy is in the same pod.
"authz" (true in the chart's own authz Deployment only) adds the HTTP decision endpoint and syslog listener.
test/deploy/fixtures/consumer-chart is a working example; docs/deploy.md has the plain-YAML equivalent.
*/}}

{{- define "portcullis.sidecar.container" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
{{- $p := $v.portcullis -}}
{{- if and (gt (int $p.workers) 1) (eq $v.config.source "kubernetes") }}
{{- fail "portcullis.workers above 1 needs config.source=file: the Kubernetes source runs in one process" }}
{{- end }}
- name: portcullis
  image: {{ include "portcullis.image" $root }}
  imagePullPolicy: {{ $v.image.pullPolicy }}
  args: ["serve"{{ range $p.extraArgs }}, {{ . | quote }}{{ end }}]
  env:
    - { name: PORTCULLIS_CONFIG, value: /etc/portcullis }
    - { name: PORTCULLIS_GRPC_ADDRESS, value: {{ default (printf "127.0.0.1:%d" (int $p.grpcPort)) .grpcAddress | quote }} }
    - { name: PORTCULLIS_HTTP_ADDRESS, value: {{ printf "0.0.0.0:%d" (int $p.httpPort) | quote }} }
    - { name: PORTCULLIS_FAILURE_MODE, value: {{ $p.failureMode | quote }} }
    - { name: PORTCULLIS_CLIENT_IP_MODE, value: {{ $p.clientIpMode | quote }} }
    - { name: PORTCULLIS_MAX_HOPS, value: {{ $p.maxHops | quote }} }
    - { name: PORTCULLIS_LOG_LEVEL, value: {{ $p.logLevel | quote }} }
    - { name: PORTCULLIS_EVENTS, value: {{ $p.events | quote }} }
    - { name: PORTCULLIS_DRAIN_SECONDS, value: {{ $p.drainSeconds | quote }} }
    - { name: PORTCULLIS_WORKERS, value: {{ $p.workers | quote }} }
    - name: POD_NAME
      valueFrom: { fieldRef: { fieldPath: metadata.name } }
    - name: POD_NAMESPACE
      valueFrom: { fieldRef: { fieldPath: metadata.namespace } }
    {{- if eq $v.config.source "kubernetes" }}
    # Watch the portcullis.dev objects of this namespace as well as the mounted files; lead with this Lease.
    - { name: PORTCULLIS_CONFIG_SOURCE, value: kubernetes }
    - name: PORTCULLIS_KUBE_NAMESPACES
      valueFrom: { fieldRef: { fieldPath: metadata.namespace } }
    - { name: PORTCULLIS_KUBE_LEASE_NAME, value: {{ include "portcullis.fullname" $root | quote }} }
    {{- end }}
    {{- if $v.grpcToken.enabled }}
    {{- include "portcullis.grpcTokenEnv" $root | nindent 4 }}
    {{- end }}
    {{- if $v.usernameKey.existingSecret }}
    - name: PORTCULLIS_USERNAME_KEY
      valueFrom: { secretKeyRef: { name: {{ $v.usernameKey.existingSecret | quote }}, key: {{ $v.usernameKey.existingSecretKey | quote }} } }
    {{- end }}
    {{- if $v.redis.enabled }}
    - { name: PORTCULLIS_REDIS_URL, value: {{ $v.redis.url | quote }} }
    - { name: PORTCULLIS_REDIS_KEY_PREFIX, value: {{ $v.redis.keyPrefix | quote }} }
    {{- if $v.redis.existingSecret }}
    - name: PORTCULLIS_REDIS_PASSWORD
      valueFrom: { secretKeyRef: { name: {{ $v.redis.existingSecret | quote }}, key: {{ $v.redis.existingSecretPasswordKey | quote }} } }
    {{- end }}
    {{- end }}
    {{- if .authz }}
    {{- $a := $v.authz }}
    # HTTP mode: the decision endpoint and the syslog outcome listener, reached by the proxies (docs/proxies.md).
    - { name: PORTCULLIS_AUTHZ_ADDRESS, value: {{ printf "0.0.0.0:%d" (int $a.port) | quote }} }
    - { name: PORTCULLIS_AUTHZ_CLIENT_HEADER, value: {{ $a.clientHeader | quote }} }
    {{- if $a.denialPage }}
    - { name: PORTCULLIS_AUTHZ_DENIAL_PAGE, value: /etc/portcullis-pages/denial.html }
    {{- end }}
    {{- if $a.syslog.udp }}
    - { name: PORTCULLIS_SYSLOG_UDP_ADDRESS, value: {{ printf "0.0.0.0:%d" (int $a.syslog.port) | quote }} }
    {{- end }}
    {{- if $a.syslog.tcp }}
    - { name: PORTCULLIS_SYSLOG_TCP_ADDRESS, value: {{ printf "0.0.0.0:%d" (int $a.syslog.port) | quote }} }
    {{- end }}
    - { name: PORTCULLIS_SYSLOG_MAX_LINE_BYTES, value: {{ $a.syslog.maxLineBytes | quote }} }
    - { name: PORTCULLIS_SYSLOG_LINES_PER_SECOND, value: {{ $a.syslog.linesPerSecond | quote }} }
    {{- end }}
    {{- with $p.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  ports:
    - { name: grpc, containerPort: {{ $p.grpcPort }}, protocol: TCP }
    - { name: metrics, containerPort: {{ $p.httpPort }}, protocol: TCP }
    {{- if .authz }}
    - { name: authz, containerPort: {{ $v.authz.port }}, protocol: TCP }
    {{- if $v.authz.syslog.udp }}
    - { name: syslog-udp, containerPort: {{ $v.authz.syslog.port }}, protocol: UDP }
    {{- end }}
    {{- if $v.authz.syslog.tcp }}
    - { name: syslog-tcp, containerPort: {{ $v.authz.syslog.port }}, protocol: TCP }
    {{- end }}
    {{- end }}
  # /healthz: the process answers; /readyz: a valid config is loaded. tsx compiles on first start, hence startupProbe.
  startupProbe:
    httpGet: { path: /healthz, port: metrics }
    periodSeconds: 2
    failureThreshold: 30
  livenessProbe:
    httpGet: { path: /healthz, port: metrics }
    periodSeconds: 10
    timeoutSeconds: 2
    failureThreshold: 3
  readinessProbe:
    httpGet: { path: /readyz, port: metrics }
    periodSeconds: 5
    timeoutSeconds: 2
    failureThreshold: 2
  lifecycle:
    # Outlive Envoy's 5 s preStop: a check sent while Envoy still drains must find Portcullis answering.
    preStop:
      exec: { command: [sleep, "8"] }
  resources:
    {{- toYaml $p.resources | nindent 4 }}
  securityContext:
    {{- include "portcullis.containerSecurityContext" (dict "uid" 1000) | nindent 4 }}
  volumeMounts:
    - { name: portcullis-config, mountPath: /etc/portcullis, readOnly: true }
    - { name: portcullis-tmp, mountPath: /tmp }
    {{- if and .authz $v.authz.denialPage }}
    - { name: portcullis-pages, mountPath: /etc/portcullis-pages, readOnly: true }
    {{- end }}
{{- end -}}

{{- define "portcullis.sidecar.volumes" -}}
- name: portcullis-config
  configMap: { name: {{ include "portcullis.configName" .root }} }
- name: portcullis-tmp
  emptyDir: { sizeLimit: 64Mi }
{{- end -}}

{{/* Envoy in front of the app, configured by "portcullis.envoy.config"; same in the gateway and in your pods. */}}
{{- define "portcullis.envoy.container" -}}
{{- $v := .root.Values -}}
- name: envoy
  image: {{ printf "%s:%s" $v.envoy.image.repository $v.envoy.image.tag }}
  imagePullPolicy: {{ $v.envoy.image.pullPolicy }}
  {{- if $v.grpcToken.enabled }}
  # Envoy has no variables in its config: the token from the Secret replaces the placeholder in a copy on /tmp
  # (the token's characters cannot break the sed expression; Portcullis refuses any others).
  command: [/bin/sh, -c]
  args: ['sed "s|@PORTCULLIS_GRPC_TOKEN@|${PORTCULLIS_GRPC_TOKEN}|g" /etc/envoy/envoy.yaml > /tmp/envoy.yaml && exec envoy --config-path /tmp/envoy.yaml --log-level {{ $v.envoy.logLevel }} --disable-hot-restart']
  env:
    {{- include "portcullis.grpcTokenEnv" .root | nindent 4 }}
  {{- else }}
  # No hot restart: it needs shared memory, and Kubernetes replaces pods instead.
  args: [--config-path, /etc/envoy/envoy.yaml, --log-level, {{ $v.envoy.logLevel | quote }}, --disable-hot-restart]
  {{- end }}
  ports:
    - { name: http, containerPort: {{ .listenPort }}, protocol: TCP }
    - { name: envoy-health, containerPort: {{ .healthPort }}, protocol: TCP }
  readinessProbe:
    httpGet: { path: /ready, port: envoy-health }
    periodSeconds: 5
    failureThreshold: 2
  livenessProbe:
    tcpSocket: { port: envoy-health }
    periodSeconds: 10
    failureThreshold: 3
  lifecycle:
    # Envoy exits at once on SIGTERM: wait until the endpoint is gone from every load balancer first.
    preStop:
      exec: { command: [sleep, "5"] }
  resources:
    {{- toYaml $v.envoy.resources | nindent 4 }}
  securityContext:
    {{- include "portcullis.containerSecurityContext" (dict "uid" 101) | nindent 4 }}
  volumeMounts:
    - { name: envoy-config, mountPath: /etc/envoy, readOnly: true }
    - { name: envoy-tmp, mountPath: /tmp }
{{- end -}}

{{- define "portcullis.envoy.volumes" -}}
- name: envoy-config
  configMap: { name: {{ .configMap }} }
- name: envoy-tmp
  emptyDir: { sizeLimit: 16Mi }
{{- end -}}

{{/* The gRPC token from its Secret, for Portcullis (checks it) and Envoy (sends it); nothing when off. */}}
{{- define "portcullis.grpcTokenEnv" -}}
{{- if .Values.grpcToken.enabled }}
- name: PORTCULLIS_GRPC_TOKEN
  valueFrom: { secretKeyRef: { name: {{ include "portcullis.grpcTokenSecretName" . | quote }}, key: {{ .Values.grpcToken.existingSecretKey | quote }} } }
{{- end }}
{{- end -}}

{{- define "portcullis.grpcTokenSecretName" -}}
{{- default (printf "%s-grpc-token" (include "portcullis.fullname" .)) .Values.grpcToken.existingSecret -}}
{{- end -}}

{{/* Name of the ConfigMap rendered with sidecar.envoyConfig=true. */}}
{{- define "portcullis.sidecar.envoyConfigName" -}}
{{- printf "%s-sidecar-envoy" (include "portcullis.fullname" .) -}}
{{- end -}}

{{/* Least privilege for every container: no root, no new privileges, no capabilities, read-only root fs. */}}
{{- define "portcullis.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities: { drop: [ALL] }
seccompProfile: { type: RuntimeDefault }
{{- end -}}
