// Original file: @grpc/grpc-js-xds/deps/xds/xds/annotations/v3/status.proto


export interface FileStatusAnnotation {
  'workInProgress'?: (boolean);
}

export interface FileStatusAnnotation__Output {
  'workInProgress'?: (boolean);
}
