/**
 * tessera.rope on every available device against the rotation formula
 * (test/reference/attention.ts): both layouts, offset, shared and per-sequence
 * positions, base, linear and NTK scaling, fp32 / fp16 / bf16, D from 8 to 256.
 * RoPE is elementwise and cheap, so the emulator runs the whole list too.
 */
import { parityMatrix } from './parity/harness.js';
import { ropeCases } from './parity/attention.js';

parityMatrix('rope', ropeCases());
