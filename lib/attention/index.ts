/** Softmax attention: the kernel, its backward, ALiBi, RoPE and the KV cache. */
export {
  attention, attentionBackward,
  type AttentionOptions, type AttentionResult, type AttentionGradients, type BlockMask,
} from './attention.js';
export { alibiSlopes } from './alibi.js';
export { rope, type RopeOptions, type RopeScaling, type RopeConfig } from './rope.js';
export { KVCache, type KVCacheOptions, type AppendOptions, type AttendOptions } from './kv-cache.js';
