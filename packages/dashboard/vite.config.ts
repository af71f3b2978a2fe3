import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// `npm run dev -w @hsfl/dashboard` serves the app with hot reload and
// forwards API and live traffic to a running coordinator (HSFL_COORDINATOR,
// default http://127.0.0.1:7000). `npm run build` writes dist/, which the
// coordinator serves.
const target = process.env.HSFL_COORDINATOR ?? 'http://127.0.0.1:7000';

export default defineConfig({
  plugins: [react()],
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 1024,
  },
  server: {
    proxy: {
      '/api': target,
      '/metrics': target,
      '/live': { target, ws: true },
    },
  },
});
