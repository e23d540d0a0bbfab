import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * The web console's build: `web/dist`, which the server serves at `/` (scripts/build-console.mjs
 * runs it when the sources changed). `npx vite web` serves it for development, the API proxied to
 * a Changegate on port 8080.
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Each area of the console is its own chunk, loaded when first opened; the libraries every
    // page uses are one chunk the browser keeps across releases of the console's own code.
    rolldownOptions: {
      output: {
        codeSplitting: {
          groups: [
            { name: 'react', test: /node_modules[\\/](react|react-dom|react-router|scheduler)[\\/]/ },
            // The dates package (and dayjs) only where a date is picked, not in the first load.
            { name: 'mantine', test: /node_modules[\\/]@mantine[\\/](core|hooks|notifications)[\\/]/ },
          ],
        },
      },
    },
  },
  server: { proxy: { '/api': { target: 'http://localhost:8080', ws: true } } },
  logLevel: 'warn',
});
