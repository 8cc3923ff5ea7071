/**
 * The standard gRPC health service (`grpc.health.v1.Health`), so that load balancers, Kubernetes
 * probes and `grpc_health_probe` can ask a node whether it serves. `Check` answers for the whole
 * server (service "") and for each registered service name; `Watch` is not offered
 * (UNIMPLEMENTED), as the protocol allows.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  Health,
  type HealthCheckRequest,
  type HealthCheckResponse,
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthCheckResponseSchema,
} from "../../proto/gen/grpc/health/v1/health_pb.ts";
import { grpcServiceDefinition } from "./grpc_definition.ts";

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

/** `grpc.health.v1.Health`; Watch is left unimplemented (grpc-js answers UNIMPLEMENTED). */
const HEALTH_SERVICE: grpc.ServiceDefinition = grpcServiceDefinition(Health);

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
