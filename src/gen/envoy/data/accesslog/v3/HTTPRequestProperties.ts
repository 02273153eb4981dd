// Original file: @grpc/grpc-js-xds/deps/envoy-api/envoy/data/accesslog/v3/accesslog.proto

import type { RequestMethod as _envoy_config_core_v3_RequestMethod, RequestMethod__Output as _envoy_config_core_v3_RequestMethod__Output } from '../../../../envoy/config/core/v3/RequestMethod.ts';
import type { UInt32Value as _google_protobuf_UInt32Value, UInt32Value__Output as _google_protobuf_UInt32Value__Output } from '../../../../google/protobuf/UInt32Value.ts';
import type { Long } from '@grpc/proto-loader';

export interface HTTPRequestProperties {
  'requestMethod'?: (_envoy_config_core_v3_RequestMethod);
  'scheme'?: (string);
  'authority'?: (string);
  'port'?: (_google_protobuf_UInt32Value | null);
  'path'?: (string);
  'userAgent'?: (string);
  'referer'?: (string);
  'forwardedFor'?: (string);
  'requestId'?: (string);
  'originalPath'?: (string);
  'requestHeadersBytes'?: (number | string | Long);
  'requestBodyBytes'?: (number | string | Long);
  'requestHeaders'?: ({[key: string]: string});
  'upstreamHeaderBytesSent'?: (number | string | Long);
  'downstreamHeaderBytesReceived'?: (number | string | Long);
}

export interface HTTPRequestProperties__Output {
  'requestMethod'?: (_envoy_config_core_v3_RequestMethod__Output);
  'scheme'?: (string);
  'authority'?: (string);
  'port'?: (_google_protobuf_UInt32Value__Output);
  'path'?: (string);
  'userAgent'?: (string);
  'referer'?: (string);
  'forwardedFor'?: (string);
  'requestId'?: (string);
  'originalPath'?: (string);
  'requestHeadersBytes'?: (number);
  'requestBodyBytes'?: (number);
  'requestHeaders'?: ({[key: string]: string});
  'upstreamHeaderBytesSent'?: (number);
  'downstreamHeaderBytesReceived'?: (number);
}
