import type { sendUnaryData, ServerUnaryCall, ServerWritableStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import { GRPC_STATUS } from './status-codes.ts';
import { healthCheckRequestService, healthCheckResponse, type HealthState } from './health.ts';

/**
 * grpc.health.v1 Check and Watch on grpc-js, registered with HEALTH_DEFINITION (raw bytes both ways), over the
 * statuses shared with the node:http2 transport. Answers as grpc-health-check did: NOT_FOUND for a service not
 * reported, and Watch sends SERVICE_UNKNOWN for one and stays open. At shutdown each Watch ends UNAVAILABLE.
 */
export function healthService(state: HealthState): UntypedServiceImplementation {
  return {
    Check(call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) {
      const service = healthCheckRequestService(call.request);
      if (service === undefined) return callback({ code: GRPC_STATUS.INTERNAL, details: 'malformed HealthCheckRequest' });
      const current = state.status(service);
      if (current === undefined) return callback({ code: GRPC_STATUS.NOT_FOUND, details: `Health status unknown for service ${service}` });
      callback(null, healthCheckResponse(current));
    },
    Watch(call: ServerWritableStream<Buffer, Buffer>) {
      const service = healthCheckRequestService(call.request);
      if (service === undefined) return void call.emit('error', { code: GRPC_STATUS.INTERNAL, details: 'malformed HealthCheckRequest' });
      const unwatch = state.watch(service, {
        send: (s) => {
          if (!call.cancelled && !call.writableEnded) call.write(healthCheckResponse(s));
        },
        end: () => {
          if (!call.writableEnded) call.emit('error', { code: GRPC_STATUS.UNAVAILABLE, details: 'server shutting down' });
        },
      });
      if (!unwatch) return void call.emit('error', { code: GRPC_STATUS.RESOURCE_EXHAUSTED, details: 'too many health watchers' });
      call.once('cancelled', unwatch);
      call.once('finish', unwatch);
    },
  };
}
