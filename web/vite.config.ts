import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The console is served by `kiln serve` under /console/; it imports pure modules of Kiln itself (schedule
// expressions) from ../src, so the browser and the server read them the same way.
export default defineConfig({
  base: '/console/',
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 2000 },
  server: { fs: { allow: [fileURLToPath(new URL('..', import.meta.url))] } },
});
