// The one GPU device of the process: adapter acquisition with the limits this engine needs.

let devicePromise: Promise<GPUDevice> | null = null;
let adapterName = "unknown";
let fallbackAdapter = false;

export class NoAdapterError extends Error {}

/** Limits are requested up to what the adapter offers, never assumed. */
async function createDevice(): Promise<GPUDevice> {
  const gpu = (navigator as { gpu?: GPU }).gpu;
  const adapter = gpu ? await gpu.requestAdapter({ powerPreference: "high-performance" }) : null;
  if (!adapter) {
    throw new NoAdapterError(
      "no WebGPU adapter found: install a GPU driver with Vulkan support, or Mesa lavapipe on " +
        "a CPU-only Linux box (apt-get install mesa-vulkan-drivers libvulkan1)",
    );
  }
  adapterName = adapter.info.description || adapter.info.vendor || "unknown adapter";
  fallbackAdapter = adapter.info.isFallbackAdapter === true;
  const l = adapter.limits;
  const requiredLimits: Record<string, number> = {
    maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
    maxBufferSize: l.maxBufferSize,
    maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
    maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
    maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
  };
  const requiredFeatures: GPUFeatureName[] = [];
  if (adapter.features.has("timestamp-query")) requiredFeatures.push("timestamp-query");
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  device.addEventListener("uncapturederror", (e) => {
    console.error(`webgpu error: ${(e as GPUUncapturedErrorEvent).error.message}`);
  });
  return device;
}

export function getDevice(): Promise<GPUDevice> {
  devicePromise ??= createDevice();
  return devicePromise;
}

export function getAdapterName(): string {
  return adapterName;
}

/** Whether the GPU adapter says it is a fallback (software, CPU) implementation. */
export function isFallbackAdapter(): boolean {
  return fallbackAdapter;
}
