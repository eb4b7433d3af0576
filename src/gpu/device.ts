// The one GPU device of the process: adapter acquisition with the limits this engine needs.

import { recordFault } from "./faults.ts";

/** The limits of the WebGPU specification (GPUSupportedLimits). */
export const LIMIT_NAMES = [
  "maxTextureDimension1D",
  "maxTextureDimension2D",
  "maxTextureDimension3D",
  "maxTextureArrayLayers",
  "maxBindGroups",
  "maxBindGroupsPlusVertexBuffers",
  "maxBindingsPerBindGroup",
  "maxDynamicUniformBuffersPerPipelineLayout",
  "maxDynamicStorageBuffersPerPipelineLayout",
  "maxSampledTexturesPerShaderStage",
  "maxSamplersPerShaderStage",
  "maxStorageBuffersPerShaderStage",
  "maxStorageTexturesPerShaderStage",
  "maxUniformBuffersPerShaderStage",
  "maxUniformBufferBindingSize",
  "maxStorageBufferBindingSize",
  "minUniformBufferOffsetAlignment",
  "minStorageBufferOffsetAlignment",
  "maxVertexBuffers",
  "maxBufferSize",
  "maxVertexAttributes",
  "maxVertexBufferArrayStride",
  "maxInterStageShaderVariables",
  "maxColorAttachments",
  "maxColorAttachmentBytesPerSample",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxComputeWorkgroupSizeZ",
  "maxComputeWorkgroupsPerDimension",
];

let devicePromise: Promise<GPUDevice> | null = null;
let adapterName = "unknown";
let fallbackAdapter = false;

export class NoAdapterError extends Error {}

/** Limits are requested up to what the adapter offers, never assumed. */
async function createDevice(): Promise<GPUDevice> {
  // Node 20 has no navigator at all: that too is "no adapter", not a ReferenceError.
  const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  const adapter = gpu ? await gpu.requestAdapter({ powerPreference: "high-performance" }) : null;
  if (!adapter) {
    throw new NoAdapterError(
      "no GPU adapter found (WebGPU): install a GPU driver with Vulkan support, or Mesa lavapipe on " +
        "a CPU-only Linux box (apt-get install mesa-vulkan-drivers libvulkan1)",
    );
  }
  // Chromium leaves description empty (fingerprinting) and names vendor and architecture only.
  const { description, vendor, architecture } = adapter.info;
  adapterName = description || [vendor, architecture].filter(Boolean).join(" ") ||
    "unknown adapter";
  fallbackAdapter = adapter.info.isFallbackAdapter === true;
  // Every limit at the adapter's own value (its maximum, or for the alignment limits its minimum):
  // read from whichever implementation answered (wgpu, Dawn), never assumed. Names the adapter
  // does not report are left out, since requesting an unknown limit fails.
  const supported = adapter.limits as unknown as Record<string, unknown>;
  const requiredLimits: Record<string, number> = {};
  for (const name of LIMIT_NAMES) {
    const value = supported[name];
    if (typeof value === "number") requiredLimits[name] = value;
  }
  const requiredFeatures: GPUFeatureName[] = [];
  if (adapter.features.has("timestamp-query")) requiredFeatures.push("timestamp-query");
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  // Errors outside an error scope (bind groups, dispatches, submits) land here; the command stops
  // with the first of them at its next readback (faults.ts).
  device.addEventListener("uncapturederror", (e) => {
    const error = (e as GPUUncapturedErrorEvent).error;
    const kind = error instanceof GPUOutOfMemoryError
      ? "out of GPU memory"
      : error instanceof GPUValidationError
      ? "validation error"
      : "internal error";
    recordFault(`WebGPU ${kind}: ${error.message}`);
  });
  device.lost.then((info) => {
    recordFault(`the WebGPU device was lost (${info.reason || "unknown reason"}): ${info.message}`);
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
