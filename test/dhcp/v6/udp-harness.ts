/**
 * Test-only UDP transport for `Dhcp6Server`, run inside a test network namespace:
 * `node --import tsx udp-harness.ts <interface> <config json>`. Prints "ready" once bound and one JSON stats line per
 * handled packet. Not the production transport (that lives outside src/dhcp/v6).
 */
import { createSocket } from "node:dgram";
import { networkInterfaces } from "node:os";
import { Dhcp6Server, type Dhcp6ServerConfig } from "../../../src/dhcp/v6/server.ts";

const [ifname, configJson] = process.argv.slice(2);
if (!ifname || !configJson) throw new TypeError("Usage: udp-harness.ts <interface> <config json>");
const server = new Dhcp6Server(JSON.parse(configJson) as Dhcp6ServerConfig);
const socket = createSocket({ type: "udp6", reuseAddr: true });
socket.on("message", (msg, rinfo) => {
  // Node reports link-local peers without a zone; replies must leave through the served interface.
  const address =
    rinfo.address.startsWith("fe80:") && !rinfo.address.includes("%") ? `${rinfo.address}%${ifname}` : rinfo.address;
  const out = server.handle(new Uint8Array(msg), { sourceAddress: address, sourcePort: rinfo.port });
  if (out) socket.send(out.reply, out.to.port, out.to.address);
  process.stdout.write(`${JSON.stringify({ type: msg[0], replied: out !== undefined, stats: server.stats })}\n`);
});
socket.bind(547, "::", () => {
  if (!networkInterfaces()[ifname]) throw new RangeError(`Cannot find interface "${ifname}"`);
  socket.addMembership("ff02::1:2", `::%${ifname}`);
  process.stdout.write("ready\n");
});
