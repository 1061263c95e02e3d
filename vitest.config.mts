import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['labextension/src/__tests__/*.spec.ts'],
    environment: 'node'
  }
});
