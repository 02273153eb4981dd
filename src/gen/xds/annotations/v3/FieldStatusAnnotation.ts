// Original file: @grpc/grpc-js-xds/deps/xds/xds/annotations/v3/status.proto


export interface FieldStatusAnnotation {
  'workInProgress'?: (boolean);
}

export interface FieldStatusAnnotation__Output {
  'workInProgress'?: (boolean);
}
