{{/* Names and labels, in the usual Helm shape. */}}
{{- define "portcullis.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "portcullis.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "portcullis.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "portcullis.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "portcullis.selectorLabels" -}}
app.kubernetes.io/name: {{ include "portcullis.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "portcullis.gatewaySelectorLabels" -}}
{{ include "portcullis.selectorLabels" . }}
app.kubernetes.io/component: gateway
{{- end -}}

{{- define "portcullis.authzSelectorLabels" -}}
{{ include "portcullis.selectorLabels" . }}
app.kubernetes.io/component: authz
{{- end -}}

{{- define "portcullis.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "portcullis.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "portcullis.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The config ConfigMap's name; the sidecar templates mount it too. */}}
{{- define "portcullis.configName" -}}
{{- printf "%s-config" (include "portcullis.fullname" .) -}}
{{- end -}}

{{/* The ThreatPolicy spec with signIn.routes filled from signIn.routes unless given. */}}
{{- define "portcullis.threatPolicySpec" -}}
{{- $spec := deepCopy .Values.config.threatPolicy.spec -}}
{{- $signIn := default dict $spec.signIn -}}
{{- if not $signIn.routes -}}
{{- $_ := set $signIn "routes" .Values.signIn.routes -}}
{{- end -}}
{{- $_ := set $spec "signIn" $signIn -}}
{{- toYaml $spec -}}
{{- end -}}

{{/*
Values that are each valid but wrong together. The schema cannot say these; fail with a message that names
the keys and the fix.
*/}}
{{- define "portcullis.validate" -}}
{{- $g := .Values.gateway -}}
{{- $a := .Values.authz -}}
{{- $m := .Values.metrics -}}
{{- if not (or $g.enabled $a.enabled .Values.sidecar.envoyConfig) -}}
{{- fail "nothing to run: choose a mode. gateway.enabled=true with gateway.upstream.service=<your Service> (Envoy + Portcullis in front of your app), authz.enabled=true with config.trustedProxies=<your proxies' pod CIDR> (HTTP mode for ingress-nginx auth-url, Traefik ForwardAuth, Caddy forward_auth, nginx auth_request; see examples/ingress-nginx-values.yaml), or sidecar.envoyConfig=true (the ConfigMaps for Envoy + Portcullis sidecars in your own pods). The chart README lists every value" -}}
{{- end -}}
{{- if and $a.enabled (not .Values.config.trustedProxies) -}}
{{- fail "authz.enabled=true needs config.trustedProxies: the proxies (ingress controller pods, load balancers) are the peer of every auth request and the sender of every syslog line; without them every request seems to come from the proxy and no outcome line is accepted" -}}
{{- end -}}
{{- if and $a.enabled (gt (int $a.replicas) 1) (not .Values.redis.enabled) -}}
{{- fail (printf "authz.replicas=%d needs redis.enabled=true (and redis.url): without the shared store each replica counts only what reached it, and an outcome line may reach another replica than its decision. Keep authz.replicas=1 or enable Redis" (int $a.replicas)) -}}
{{- end -}}
{{- $outcomeToken := false -}}
{{- range .Values.portcullis.extraArgs }}{{ if hasPrefix "--outcome-token" . }}{{ $outcomeToken = true }}{{ end }}{{ end -}}
{{- range .Values.portcullis.extraEnv }}{{ if eq .name "PORTCULLIS_OUTCOME_TOKEN" }}{{ $outcomeToken = true }}{{ end }}{{ end -}}
{{- if and $a.enabled (not (or $a.syslog.udp $a.syslog.tcp)) (not $outcomeToken) -}}
{{- fail "authz.enabled=true with authz.syslog.udp=false and authz.syslog.tcp=false leaves Portcullis without outcomes: it would decide on blocklists alone and never detect an attack. Keep a syslog listener on (or set --outcome-token through portcullis.extraArgs or PORTCULLIS_OUTCOME_TOKEN in portcullis.extraEnv, and POST outcomes: docs/outcomes.md)" -}}
{{- end -}}
{{- if and $a.enabled (le (int $a.terminationGracePeriodSeconds) (add 8 (int .Values.portcullis.drainSeconds))) -}}
{{- fail (printf "authz.terminationGracePeriodSeconds (%d) must exceed the 8 s preStop plus portcullis.drainSeconds (%d), or in-flight checks are killed" (int $a.terminationGracePeriodSeconds) (int .Values.portcullis.drainSeconds)) -}}
{{- end -}}
{{- if and $m.serviceMonitor.enabled (not (or $g.enabled $a.enabled)) -}}
{{- fail "metrics.serviceMonitor.enabled=true scrapes the metrics Services of the gateway and authz pods, and neither gateway.enabled nor authz.enabled is set, so it would scrape nothing. For sidecars in your own pods use metrics.podMonitor.enabled=true with metrics.podMonitor.selector=<your pods' labels>" -}}
{{- end -}}
{{- if and $m.podMonitor.enabled (not $m.podMonitor.selector) (not (or $g.enabled $a.enabled)) -}}
{{- fail "metrics.podMonitor.enabled=true without metrics.podMonitor.selector selects the gateway and authz pods, and neither gateway.enabled nor authz.enabled is set, so it would scrape nothing: give metrics.podMonitor.selector (your pods' labels)" -}}
{{- end -}}
{{- $scraped := or $m.serviceMonitor.enabled $m.podMonitor.enabled $m.scrapedElsewhere -}}
{{- if and $m.prometheusRule.enabled (not $scraped) -}}
{{- fail "metrics.prometheusRule.enabled=true: the alerts read Portcullis' metrics, and nothing scrapes them. Enable metrics.serviceMonitor or metrics.podMonitor, or set metrics.scrapedElsewhere=true if your own scrape config collects them (with a namespace label)" -}}
{{- end -}}
{{- if and $m.dashboard.enabled (not $scraped) -}}
{{- fail "metrics.dashboard.enabled=true: the dashboard reads Portcullis' metrics, and nothing scrapes them. Enable metrics.serviceMonitor or metrics.podMonitor, or set metrics.scrapedElsewhere=true if your own scrape config collects them (with a namespace label)" -}}
{{- end -}}
{{- if and $g.enabled (not $g.upstream.service) -}}
{{- fail "gateway.upstream.service is required when gateway.enabled=true: name the Service that serves your sign-in endpoints (or set gateway.enabled=false)" -}}
{{- end -}}
{{- if and $g.pdb.enabled (not (kindIs "invalid" $g.pdb.minAvailable)) (not (kindIs "invalid" $g.pdb.maxUnavailable)) -}}
{{- fail "gateway.pdb: set minAvailable or maxUnavailable, not both" -}}
{{- end -}}
{{- $min := $g.pdb.minAvailable -}}
{{- if and $g.enabled $g.pdb.enabled (not (kindIs "invalid" $min)) (not (kindIs "string" $min)) (ge (int $min) (int $g.replicas)) -}}
{{- fail (printf "gateway.pdb.minAvailable (%d) must be below gateway.replicas (%d), or no pod could ever be evicted and node drains would hang" (int $min) (int $g.replicas)) -}}
{{- end -}}
{{- if and $g.enabled (le (int $g.terminationGracePeriodSeconds) (add 8 (int .Values.portcullis.drainSeconds))) -}}
{{- fail (printf "gateway.terminationGracePeriodSeconds (%d) must exceed the 8 s preStop plus portcullis.drainSeconds (%d), or in-flight checks are killed" (int $g.terminationGracePeriodSeconds) (int .Values.portcullis.drainSeconds)) -}}
{{- end -}}
{{- if and $g.service.externalTrafficPolicy (eq $g.service.type "ClusterIP") -}}
{{- fail "gateway.service.externalTrafficPolicy applies only to LoadBalancer and NodePort Services; set gateway.service.type or leave it empty" -}}
{{- end -}}
{{- if and .Values.metrics.serviceMonitor.enabled .Values.metrics.podMonitor.enabled (not .Values.metrics.podMonitor.selector) -}}
{{- fail "metrics.serviceMonitor and metrics.podMonitor both select the gateway and authz pods, which would scrape them twice; enable one (or give podMonitor.selector for other pods)" -}}
{{- end -}}
{{- if and .Values.redis.enabled (not .Values.redis.url) -}}
{{- fail "redis.url is required when redis.enabled=true (e.g. redis://redis-master:6379/0)" -}}
{{- end -}}
{{- if and .Values.redis.enabled (regexMatch "^rediss?://[^/@]*:[^/@]*@" .Values.redis.url) -}}
{{- fail "redis.url must not contain a password: put it in a Secret and set redis.existingSecret" -}}
{{- end -}}
{{- if and (eq .Values.config.source "kubernetes") (not .Values.rbac.create) (not .Values.serviceAccount.name) -}}
{{- fail "config.source=kubernetes needs RBAC: keep rbac.create=true, or name a ServiceAccount you granted yourself in serviceAccount.name" -}}
{{- end -}}
{{- if and (or $g.enabled .Values.sidecar.envoyConfig) .Values.envoy.extAuthz.failureModeAllow (eq .Values.portcullis.failureMode "deny") -}}
{{- fail "envoy.extAuthz.failureModeAllow=true with portcullis.failureMode=deny fails open when Portcullis is down but closed when it is up and unsure; choose one posture for both" -}}
{{- end -}}
{{- end -}}

{{/* The zones and policy as portcullis.dev objects (YAML documents), for the ConfigMap or the API server. */}}
{{- define "portcullis.configObjects" -}}
{{- $ns := "" -}}
{{- if eq .Values.config.source "kubernetes" }}{{ $ns = .Release.Namespace }}{{ end -}}
portcullis.yaml: |
{{- if .Values.config.trustedProxies }}
  apiVersion: portcullis.dev/v1alpha1
  kind: IPZone
  metadata: { name: trusted-proxies{{ if $ns }}, namespace: {{ $ns }}{{ end }} }
  spec:
    usage: Policy
    proxies:
      {{- toYaml .Values.config.trustedProxies | nindent 6 }}
  ---
{{- end }}
{{- range $name, $spec := .Values.config.zones }}
  apiVersion: portcullis.dev/v1alpha1
  kind: IPZone
  metadata: { name: {{ $name }}{{ if $ns }}, namespace: {{ $ns }}{{ end }} }
  spec:
    {{- toYaml $spec | nindent 4 }}
  ---
{{- end }}
{{- if .Values.config.threatPolicy.enabled }}
  apiVersion: portcullis.dev/v1alpha1
  kind: ThreatPolicy
  metadata: { name: {{ .Values.config.threatPolicy.name }}{{ if $ns }}, namespace: {{ $ns }}{{ end }} }
  spec:
    {{- include "portcullis.threatPolicySpec" . | nindent 4 }}
{{- end }}
{{- end -}}
