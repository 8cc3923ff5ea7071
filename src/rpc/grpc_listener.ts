/**
 * Serves a grpc-js server on a TCP address through its connection injector, with every
 * connection's client-to-server bytes passed through {@linkcode GoawayFilter} (see that module
 * for the Deno bug this works around). Use it instead of `server.bindAsync`.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import * as net from "node:net";
import { Duplex } from "node:stream";
import { GoawayFilter } from "./goaway_filter.ts";

/** A listening gRPC server. */
export interface GrpcListener {
  /** The port listened on (the real one when 0 was asked for). */
  readonly port: number;
  /** Stops accepting connections and drops the open ones without sending GOAWAY. */
  close(): void;
}

/** Wraps a socket so that the server reads it through a GOAWAY filter. */
function filteredConnection(socket: net.Socket): Duplex {
  const filter = new GoawayFilter();
  const connection = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk, encoding, callback) {
      socket.write(chunk, encoding, callback);
    },
    final(callback) {
      socket.end(callback);
    },
    destroy(err, callback) {
      socket.destroy();
      callback(err);
    },
  });
  // grpc-js reports the peer from these (call.getPeer()).
  Object.assign(connection, {
    remoteAddress: socket.remoteAddress,
    remotePort: socket.remotePort,
    setNoDelay: () => connection,
    setKeepAlive: () => connection,
    setTimeout: () => connection,
  });
  const forward = (part: Uint8Array) => {
    if (!connection.push(part)) socket.pause();
  };
  socket.on("data", (chunk: Uint8Array) => filter.push(chunk, forward));
  socket.on("end", () => connection.push(null));
  socket.on("error", (err) => connection.destroy(err));
  socket.on("close", () => connection.destroy());
  return connection;
}

/**
 * Listens on `host:port` for `server`.
 *
 * @param server a grpc-js server with its services added (it must not be bound elsewhere)
 * @param host the interface address
 * @param port the port; 0 picks a free one
 * @returns the listener
 * @throws the listen error (EADDRINUSE and the like)
 */
export function listenGrpc(server: grpc.Server, host: string, port: number): Promise<GrpcListener> {
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  const sockets = new Set<net.Socket>();
  const tcp = net.createServer((socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    injector.injectConnection(filteredConnection(socket));
  });
  return new Promise((resolve, reject) => {
    tcp.once("error", reject);
    tcp.listen(port, host, () => {
      tcp.off("error", reject);
      const address = tcp.address() as net.AddressInfo;
      resolve({
        port: address.port,
        close() {
          tcp.close();
          for (const socket of sockets) socket.destroy();
          sockets.clear();
        },
      });
    });
  });
}
