import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

/**
 * Libraries in chunks of their own: React (the shell needs it) apart from the AWS SDK (only pages and the
 * sign-in's submit need it, through `import()`), so the first load carries no SDK and a console update that
 * changes pages only leaves both cached.
 */
function vendorChunk(id: string): string | undefined {
  // Vite's helper for import() is used by the shell and by the SDK alike; left unassigned, Rollup puts it in the
  // SDK's chunk and the shell then loads the whole SDK to get it.
  if (id.includes('vite/preload-helper')) return 'preload';
  if (!id.includes('/node_modules/')) return undefined;
  if (/\/node_modules\/(react|react-dom|scheduler)\//.test(id)) return 'react';
  if (/\/node_modules\/(@aws-sdk|@smithy|@aws-crypto|@aws|tslib|fast-xml-parser|strnum|bowser|uuid)\//.test(id)) return 'aws-sdk';
  return undefined;
}

// The console is served by `kiln serve` under /console/; it imports pure modules of Kiln itself (schedule
// expressions) from ../src, so the browser and the server read them the same way. Every page is its own chunk
// (src/lazyView.ts); the first load is the shell and the sign-in form.
export default defineConfig({
  base: '/console/',
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 2000, rollupOptions: { output: { manualChunks: vendorChunk } } },
  server: { fs: { allow: [fileURLToPath(new URL('..', import.meta.url))] } },
});
