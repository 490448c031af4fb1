// Preloaded into the bench's sidecar (with --expose-gc): SIGUSR2 runs a full garbage collection, so
// the memory bench reads RSS after a GC without any hook in the sidecar itself.
process.on('SIGUSR2', () => {
  globalThis.gc?.();
  globalThis.gc?.();
});
