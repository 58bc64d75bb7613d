/** Where `kiln serve` listens unless told otherwise. */
export const DEFAULT_LISTEN = '127.0.0.1:8420';
