import type { DescService } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";

/** A service descriptor and the object implementing it, served on every transport. */
export interface ServiceRegistration<S extends DescService = DescService> {
  readonly service: S;
  readonly impl: Partial<ServiceImpl<S>>;
}

/** One plain HTTP answer; the runtime writes it. */
export interface HttpRouteResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Plain HTTP GET endpoints served on the Connect port beside the RPCs, by exact path. */
export type HttpRoutes = Readonly<Record<string, () => Promise<HttpRouteResponse>>>;

export function registration<S extends DescService>(service: S, impl: Partial<ServiceImpl<S>>): ServiceRegistration {
  return { service, impl: impl as Partial<ServiceImpl<DescService>> };
}
