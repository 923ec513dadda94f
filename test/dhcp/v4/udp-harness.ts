/**
 * Test-only UDP transport for the DHCPv4 server: run inside a network namespace (`ip netns exec`), it binds
 * 0.0.0.0:67, feeds every datagram to a Dhcp4Server and sends the reply. A `chaddr` decision is carried out as a
 * broadcast, the documented fallback for a socket that cannot unicast to a client without an ARP entry.
 * Usage: node --import tsx udp-harness.ts '<Dhcp4ServerConfig JSON>'; prints "ready" once bound, a "handled" line
 * per datagram, and one JSON line of stats and leases when it receives SIGTERM.
 */
import dgram from "node:dgram";
import { BROADCAST_ADDRESS, ReplyRoute } from "../../../src/dhcp/v4/addressing.ts";
import type { Dhcp4ServerConfig } from "../../../src/dhcp/v4/config.ts";
import { Dhcp4Server } from "../../../src/dhcp/v4/index.ts";

const config = JSON.parse(process.argv[2] ?? "") as Dhcp4ServerConfig;
const server = new Dhcp4Server(config);
const socket = dgram.createSocket({ type: "udp4", reuseAddr: true });
socket.on("message", (msg, rinfo) => {
  const result = server.handle(new Uint8Array(msg), { sourceAddress: rinfo.address, sourcePort: rinfo.port });
  // Progress lines let a test wait for a datagram that has no reply (RELEASE, DECLINE) instead of sleeping.
  process.stdout.write(`handled ${server.stats.received} releases ${server.stats.releases}\n`);
  if (result === undefined) return;
  const address = result.to.kind === ReplyRoute.Chaddr ? BROADCAST_ADDRESS : result.to.address;
  socket.send(result.reply, result.to.port, address);
});
socket.bind(67, "0.0.0.0", () => {
  socket.setBroadcast(true);
  process.stdout.write("ready\n");
});
process.on("SIGTERM", () => {
  socket.close();
  // stdout is an asynchronous pipe: exit only once the report has been flushed.
  process.stdout.write(`${JSON.stringify({ stats: server.stats, leases: server.leases() })}\n`, () => process.exit(0));
});
