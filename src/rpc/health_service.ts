/**
 * The standard gRPC health service (`grpc.health.v1.Health`), so that load balancers, Kubernetes
 * probes and `grpc_health_probe` can ask a node whether it serves. `Check` answers for the whole
 * server (service "") and for each registered service name; `Watch` is not offered
 * (UNIMPLEMENTED), as the protocol allows.
 *
 * @module
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  type HealthCheckRequest,
  HealthCheckRequestSchema,
  type HealthCheckResponse,
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthCheckResponseSchema,
} from "../../proto/gen/grpc/health/v1/health_pb.ts";

export { ServingStatus };

/** Serving status per service name; "" stands for the whole server. */
export class HealthStatus {
  readonly #status = new Map<string, ServingStatus>([["", ServingStatus.NOT_SERVING]]);

  /** Sets whether `service` ("" for the server) is serving. */
  set(service: string, serving: boolean): void {
    this.#status.set(service, serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
  }

  /** Returns the status of `service`, or undefined for an unknown service. */
  get(service: string): ServingStatus | undefined {
    return this.#status.get(service);
  }
}

const HEALTH_SERVICE: grpc.ServiceDefinition = {
  Check: {
    path: "/grpc.health.v1.Health/Check",
    requestStream: false,
    responseStream: false,
    requestSerialize: (m: HealthCheckRequest) => Buffer.from(toBinary(HealthCheckRequestSchema, m)),
    requestDeserialize: (b: Buffer) => fromBinary(HealthCheckRequestSchema, b),
    responseSerialize: (m: HealthCheckResponse) =>
      Buffer.from(toBinary(HealthCheckResponseSchema, m)),
    responseDeserialize: (b: Buffer) => fromBinary(HealthCheckResponseSchema, b),
  },
};

/**
 * Registers the health service on a gRPC server.
 *
 * @param server the grpc-js server
 * @param health the status table it answers from
 */
export function addHealthService(server: grpc.Server, health: HealthStatus): void {
  server.addService(HEALTH_SERVICE, {
    Check: (
      call: grpc.ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>,
      callback: grpc.sendUnaryData<HealthCheckResponse>,
    ) => {
      const status = health.get(call.request.service);
      if (status === undefined) {
        callback({
          code: grpc.status.NOT_FOUND,
          details: `Cannot check health as the service is unknown: ${call.request.service}`,
        });
        return;
      }
      callback(null, create(HealthCheckResponseSchema, { status }));
    },
  });
}

/** The client-side definition, for tests and the CLI. */
export const HealthClient = grpc.makeGenericClientConstructor(HEALTH_SERVICE, "Health");
