// Original file: @grpc/grpc-js-xds/deps/envoy-api/envoy/data/accesslog/v3/accesslog.proto


// Original file: @grpc/grpc-js-xds/deps/envoy-api/envoy/data/accesslog/v3/accesslog.proto

export const _envoy_data_accesslog_v3_ResponseFlags_Unauthorized_Reason = {
  REASON_UNSPECIFIED: 'REASON_UNSPECIFIED',
  EXTERNAL_SERVICE: 'EXTERNAL_SERVICE',
} as const;

export type _envoy_data_accesslog_v3_ResponseFlags_Unauthorized_Reason =
  | 'REASON_UNSPECIFIED'
  | 0
  | 'EXTERNAL_SERVICE'
  | 1

export type _envoy_data_accesslog_v3_ResponseFlags_Unauthorized_Reason__Output = typeof _envoy_data_accesslog_v3_ResponseFlags_Unauthorized_Reason[keyof typeof _envoy_data_accesslog_v3_ResponseFlags_Unauthorized_Reason]

export interface _envoy_data_accesslog_v3_ResponseFlags_Unauthorized {
  'reason'?: (_envoy_data_accesslog_v3_ResponseFlags_Unauthorized_Reason);
}

export interface _envoy_data_accesslog_v3_ResponseFlags_Unauthorized__Output {
  'reason'?: (_envoy_data_accesslog_v3_ResponseFlags_Unauthorized_Reason__Output);
}

export interface ResponseFlags {
  'failedLocalHealthcheck'?: (boolean);
  'noHealthyUpstream'?: (boolean);
  'upstreamRequestTimeout'?: (boolean);
  'localReset'?: (boolean);
  'upstreamRemoteReset'?: (boolean);
  'upstreamConnectionFailure'?: (boolean);
  'upstreamConnectionTermination'?: (boolean);
  'upstreamOverflow'?: (boolean);
  'noRouteFound'?: (boolean);
  'delayInjected'?: (boolean);
  'faultInjected'?: (boolean);
  'rateLimited'?: (boolean);
  'unauthorizedDetails'?: (_envoy_data_accesslog_v3_ResponseFlags_Unauthorized | null);
  'rateLimitServiceError'?: (boolean);
  'downstreamConnectionTermination'?: (boolean);
  'upstreamRetryLimitExceeded'?: (boolean);
  'streamIdleTimeout'?: (boolean);
  'invalidEnvoyRequestHeaders'?: (boolean);
  'downstreamProtocolError'?: (boolean);
  'upstreamMaxStreamDurationReached'?: (boolean);
  'responseFromCacheFilter'?: (boolean);
  'noFilterConfigFound'?: (boolean);
  'durationTimeout'?: (boolean);
  'upstreamProtocolError'?: (boolean);
  'noClusterFound'?: (boolean);
  'overloadManager'?: (boolean);
  'dnsResolutionFailure'?: (boolean);
  'downstreamRemoteReset'?: (boolean);
}

export interface ResponseFlags__Output {
  'failedLocalHealthcheck'?: (boolean);
  'noHealthyUpstream'?: (boolean);
  'upstreamRequestTimeout'?: (boolean);
  'localReset'?: (boolean);
  'upstreamRemoteReset'?: (boolean);
  'upstreamConnectionFailure'?: (boolean);
  'upstreamConnectionTermination'?: (boolean);
  'upstreamOverflow'?: (boolean);
  'noRouteFound'?: (boolean);
  'delayInjected'?: (boolean);
  'faultInjected'?: (boolean);
  'rateLimited'?: (boolean);
  'unauthorizedDetails'?: (_envoy_data_accesslog_v3_ResponseFlags_Unauthorized__Output);
  'rateLimitServiceError'?: (boolean);
  'downstreamConnectionTermination'?: (boolean);
  'upstreamRetryLimitExceeded'?: (boolean);
  'streamIdleTimeout'?: (boolean);
  'invalidEnvoyRequestHeaders'?: (boolean);
  'downstreamProtocolError'?: (boolean);
  'upstreamMaxStreamDurationReached'?: (boolean);
  'responseFromCacheFilter'?: (boolean);
  'noFilterConfigFound'?: (boolean);
  'durationTimeout'?: (boolean);
  'upstreamProtocolError'?: (boolean);
  'noClusterFound'?: (boolean);
  'overloadManager'?: (boolean);
  'dnsResolutionFailure'?: (boolean);
  'downstreamRemoteReset'?: (boolean);
}
