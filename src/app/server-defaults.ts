/** Where `kiln serve` listens unless told otherwise. */
export const DEFAULT_LISTEN = '127.0.0.1:8420';
/**
 * Where a node without the `api` role (`kiln worker`) listens unless told otherwise: loopback, so it exposes
 * nothing until the operator chooses an address other nodes can reach, and a port beside the API's default.
 */
export const DEFAULT_NODE_LISTEN = '127.0.0.1:8421';
