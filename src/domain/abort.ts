/**
 * A signal that aborts when `parent` does (with its reason) or, after `ms`, with a `TimeoutError` as
 * AbortSignal.timeout's. Unlike AbortSignal.any over AbortSignal.timeout, its timer holds the controller strongly:
 * Node may collect a timeout signal that only a composite signal refers to, and that timeout then never fires (a
 * distribution bounded by timeoutMinutes hung that way under memory pressure). Call `clear` when the work ends.
 */
export function withTimeout(parent: AbortSignal, ms: number): { signal: AbortSignal; clear: () => void } {
  const controller = new AbortController();
  if (parent.aborted) {
    controller.abort(parent.reason);
    return { signal: controller.signal, clear: () => undefined };
  }
  const onAbort = () => controller.abort(parent.reason);
  // Unreferenced, as AbortSignal.timeout's: a pending bound must not keep a process alive on its own.
  const timer = setTimeout(() => controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), ms).unref();
  parent.addEventListener('abort', onAbort, { once: true });
  return {
    signal: controller.signal,
    clear: () => {
      clearTimeout(timer);
      parent.removeEventListener('abort', onAbort);
    },
  };
}
