// Original file: @grpc/grpc-js-xds/deps/envoy-api/envoy/data/accesslog/v3/accesslog.proto

import type { Long } from '@grpc/proto-loader';

export interface ConnectionProperties {
  'receivedBytes'?: (number | string | Long);
  'sentBytes'?: (number | string | Long);
}

export interface ConnectionProperties__Output {
  'receivedBytes'?: (number);
  'sentBytes'?: (number);
}
