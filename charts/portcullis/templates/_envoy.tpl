{{/*
Envoy bootstrap for Envoy + Portcullis in one pod. Parameters (dict):
  root            the chart's top context (values: envoy.*, signIn.routes, portcullis.grpcPort, gateway.proxyProtocol)
  listenPort      where Envoy takes traffic
  healthPort      Envoy's own readiness listener
  upstreamType    STRICT_DNS (a Service name) or STATIC (an IP, e.g. 127.0.0.1 for an app in the same pod)
  upstreamAddress, upstreamPort, upstreamTimeout
The gateway renders it with its Service upstream; "portcullis.sidecar.envoyConfig" with the app on loopback.
Tests parse the output against Envoy's own protos (test/helpers/envoy-proto.ts).
*/}}
{{- define "portcullis.envoy.config" -}}
{{- $v := .root.Values -}}
{{- $perRoute := "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute" -}}
admin:
  # Loopback only: the admin API can change Envoy's state.
  address: { socket_address: { address: 127.0.0.1, port_value: 9901 } }
static_resources:
  listeners:
    - name: ingress
      address: { socket_address: { address: 0.0.0.0, port_value: {{ .listenPort }} } }
      {{- if $v.gateway.proxyProtocol }}
      # The load balancer prepends a PROXY header with the client address; Envoy restores it as the peer.
      listener_filters:
        - name: envoy.filters.listener.proxy_protocol
          typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol }
      {{- end }}
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: ingress
                codec_type: AUTO
                # Append the real peer to X-Forwarded-For; Portcullis walks it through the trusted proxies.
                use_remote_address: true
                # One spelling per path, so /login, //login and /./login all meet the sign-in route.
                normalize_path: true
                merge_slashes: true
                path_with_escaped_slashes_action: UNESCAPE_AND_REDIRECT
                common_http_protocol_options:
                  headers_with_underscores_action: REJECT_REQUEST
                  idle_timeout: 300s
                access_log:
                  # Sign-in outcomes: Envoy streams each finished request to Portcullis' access-log service
                  # (same gRPC port as ext_authz). The entry carries x-request-id as request_id, which
                  # correlates it with the Check that decided it.
                  - name: envoy.access_loggers.http_grpc
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig
                      common_config:
                        log_name: portcullis
                        transport_api_version: V3
                        grpc_service:
                          envoy_grpc: { cluster_name: portcullis }
                          {{- if $v.grpcToken.enabled }}
                          # grpcToken.enabled: the Envoy container puts the Secret's token in place.
                          initial_metadata: [{ key: authorization, value: "Bearer @PORTCULLIS_GRPC_TOKEN@" }]
                          {{- end }}
                        buffer_flush_interval: {{ $v.envoy.accessLog.flushInterval }}
                        buffer_size_bytes: 16384
                      additional_request_headers_to_log: [x-request-id]
                      additional_response_headers_to_log: [{{ $v.envoy.accessLog.resultHeader }}]
                http_filters:
                  - name: envoy.filters.http.ext_authz
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz
                      transport_api_version: V3
                      grpc_service:
                        envoy_grpc: { cluster_name: portcullis }
                        timeout: {{ $v.envoy.extAuthz.timeout }}
                        {{- if $v.grpcToken.enabled }}
                        initial_metadata: [{ key: authorization, value: "Bearer @PORTCULLIS_GRPC_TOKEN@" }]
                        {{- end }}
                      # true: Portcullis down or slow must not take sign-in down.
                      failure_mode_allow: {{ $v.envoy.extAuthz.failureModeAllow }}
                      # The body carries the username; routes other than sign-in turn buffering off below.
                      with_request_body:
                        max_request_bytes: {{ $v.envoy.extAuthz.maxRequestBytes }}
                        allow_partial_message: true
                  - name: envoy.filters.http.router
                    typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
                route_config:
                  name: upstream
                  virtual_hosts:
                    - name: upstream
                      domains: ["*"]
                      routes:
                        {{- range $i, $r := $v.signIn.routes }}
                        - name: sign-in-{{ $i }}
                          match:
                            {{- if $r.path.exact }}
                            path: {{ $r.path.exact | quote }}
                            {{- else if $r.path.prefix }}
                            prefix: {{ $r.path.prefix | quote }}
                            {{- else }}
                            safe_regex: { regex: {{ $r.path.regex | quote }} }
                            {{- end }}
                            {{- with $r.methods }}
                            headers:
                              - name: ":method"
                                string_match: { safe_regex: { regex: {{ printf "^(%s)$" (join "|" .) | quote }} } }
                            {{- end }}
                          route: { cluster: upstream, timeout: {{ $.upstreamTimeout }} }
                          typed_per_filter_config:
                            envoy.filters.http.ext_authz:
                              "@type": {{ $perRoute }}
                              check_settings: { context_extensions: { route: sign-in } }
                        {{- end }}
                        - name: default
                          match: { prefix: / }
                          route: { cluster: upstream, timeout: {{ .upstreamTimeout }} }
                          # Still checked (active blocks apply everywhere), but without the body.
                          typed_per_filter_config:
                            envoy.filters.http.ext_authz:
                              "@type": {{ $perRoute }}
                              check_settings: { disable_request_body_buffering: true }
    - name: health
      address: { socket_address: { address: 0.0.0.0, port_value: {{ .healthPort }} } }
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: health
                route_config:
                  virtual_hosts:
                    - name: health
                      domains: ["*"]
                      routes: [{ match: { prefix: / }, direct_response: { status: 404 } }]
                http_filters:
                  # 200 on /ready until Envoy starts draining, then 503: the pod leaves the Service first.
                  - name: envoy.filters.http.health_check
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.health_check.v3.HealthCheck
                      pass_through_mode: false
                      headers: [{ name: ":path", string_match: { exact: /ready } }]
                  - name: envoy.filters.http.router
                    typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
  clusters:
    - name: portcullis
      type: STATIC
      connect_timeout: 0.25s
      # ext_authz and the access-log service are gRPC: HTTP/2 to the sidecar on loopback.
      typed_extension_protocol_options:
        envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
          "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
          explicit_http_config: { http2_protocol_options: {} }
      load_assignment:
        cluster_name: portcullis
        endpoints:
          - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: {{ $v.portcullis.grpcPort }} } } }
    - name: upstream
      type: {{ .upstreamType }}
      connect_timeout: 1s
      {{- if eq .upstreamType "STRICT_DNS" }}
      dns_lookup_family: V4_PREFERRED
      {{- end }}
      load_assignment:
        cluster_name: upstream
        endpoints:
          - lb_endpoints:
              - endpoint: { address: { socket_address: { address: {{ .upstreamAddress }}, port_value: {{ .upstreamPort }} } } }
{{- end -}}

{{/* Envoy config for a sidecar Envoy in your own pod, in front of your app on loopback (appPort). */}}
{{- define "portcullis.sidecar.envoyConfig" -}}
{{- include "portcullis.envoy.config" (dict "root" .root "listenPort" (default 8000 .listenPort) "healthPort" (default 8001 .healthPort) "upstreamType" "STATIC" "upstreamAddress" "127.0.0.1" "upstreamPort" .appPort "upstreamTimeout" (default "15s" .upstreamTimeout)) -}}
{{- end -}}
