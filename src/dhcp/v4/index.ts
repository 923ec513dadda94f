/**
 * DHCPv4 for vmnet: the transport-free server core and the codecs it is built from. A transport (socket, netns,
 * raw frames) imports from here; see server.ts for the behaviour and addressing.ts for the reply addressing rules.
 */
export {
  type AddressingInput,
  BROADCAST_ADDRESS,
  CLIENT_PORT,
  type ReplyDestination,
  ReplyRoute,
  replyDestination,
  SERVER_PORT,
} from "./addressing.ts";
export {
  type ClasslessRoute,
  type DecodedRoute,
  decodeClasslessRoutes,
  describeRoutes,
  encodeClasslessRoutes,
} from "./classless-routes.ts";
export {
  compileConfig,
  DEFAULT_LEASE_SECONDS,
  type Dhcp4ClientBinding,
  type Dhcp4InterfaceConfig,
  type Dhcp4PrivateOption,
  type Dhcp4Route,
  type Dhcp4ServerConfig,
} from "./config.ts";
export { decodeDomainSearch, encodeDomainSearch, validateSearchDomains } from "./domain-search.ts";
export { MessageType, OptionCode } from "./options.ts";
export { type Dhcp4Packet, decodePacket, encodePacket, PacketDecodeError } from "./packet.ts";
export {
  type Dhcp4Handler,
  type Dhcp4Lease,
  type Dhcp4Log,
  type Dhcp4Reply,
  type Dhcp4RequestMeta,
  Dhcp4Server,
  type Dhcp4ServerOptions,
  type Dhcp4Stats,
  DropReason,
  LeaseState,
} from "./server.ts";
