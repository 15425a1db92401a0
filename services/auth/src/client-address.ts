// Who is calling, as far as the connection tells: the client's IP address
// (through trusted proxies' X-Forwarded-For only) and its User-Agent. Device
// information comes from here, never from request fields, so it cannot be forged
// by the client beyond what its own connection shows.
import { BlockList, isIP } from "node:net";
import type { HandlerContext } from "@connectrpc/connect";
import { peerAddressOf } from "@trustmesh/runtime";

export interface ClientInfo {
  ipAddress: string;
  userAgent: string;
}

function family(address: string): "ipv4" | "ipv6" {
  return isIP(address) === 6 ? "ipv6" : "ipv4";
}

/** Parses AUTH_TRUSTED_PROXIES: addresses and CIDRs, comma separated. */
export function parseTrustedProxies(spec: string): BlockList {
  const list = new BlockList();
  for (const entry of spec
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean)) {
    const [address = "", prefix] = entry.split("/");
    if (isIP(address) === 0) throw new Error(`AUTH_TRUSTED_PROXIES: "${entry}" is not an address or CIDR`);
    if (prefix === undefined) list.addAddress(address, family(address));
    else list.addSubnet(address, Number(prefix), family(address));
  }
  return list;
}

function unmapped(address: string): string {
  return address.startsWith("::ffff:") && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

export function clientInfoOf(context: HandlerContext, trustedProxies: BlockList): ClientInfo {
  let address = unmapped(peerAddressOf(context));
  const forwarded = context.requestHeader.get("x-forwarded-for");
  if (forwarded && isIP(address) !== 0 && trustedProxies.check(address, family(address))) {
    // Walk from the nearest hop outwards, past every trusted proxy.
    const hops = forwarded
      .split(",")
      .map((hop) => unmapped(hop.trim()))
      .filter((hop) => isIP(hop) !== 0);
    for (let index = hops.length - 1; index >= 0; index--) {
      address = hops[index] as string;
      if (!trustedProxies.check(address, family(address))) break;
    }
  }
  return { ipAddress: address.slice(0, 64), userAgent: (context.requestHeader.get("user-agent") ?? "").slice(0, 512) };
}
