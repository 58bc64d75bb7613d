/**
 * The contract between the layer writer (layer.ts) and the layer cache (unpack.ts) for unpacking a layer from the
 * same tar stream it is compressed from; on its own so that neither module imports the other.
 */

/** A stored layer blob to unpack: what a manifest lists. */
export interface LayerRef {
  digest: string;
  mediaType: string;
}

/** A layer being unpacked while its tar is written; see LayerCache.openIntake. */
export interface LayerIntake {
  /**
   * Scans and extracts the next chunk of the uncompressed tar; resolves when more may be fed (backpressure).
   * Rejects when the layer is refused (InvalidArgument naming the entry) or the signal aborted (Cancelled).
   */
  write(chunk: Uint8Array): Promise<void>;
  /**
   * After the last chunk, once the blob is stored under `layer.digest`: finishes the unpack and returns the
   * layer's dir, the one layerDir gives for that digest. Whatever happens, no temp dir is left.
   */
  commit(layer: LayerRef): Promise<string>;
  /** Stops the unpack and removes its temp dir; a no-op after commit. Rejects (naming the dir) when the dir cannot be removed. */
  discard(): Promise<void>;
}

/** Where a written layer can be unpacked as it is written (the LayerCache). */
export interface LayerIntakes {
  /** Starts unpacking a new layer into a temp dir; see LayerIntake. */
  openIntake(signal?: AbortSignal): Promise<LayerIntake>;
}
